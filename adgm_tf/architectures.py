"""The model variants as data: which variables each conditional sees, and its networks.

Every variant shares the inference model q(a|x) q(y|a,x) q(z|a,y,x) (eqs. 9-11) up to which
parents each conditional takes, and the generative models differ the same way (eqs. 5-8, 21,
22): an `Architecture` says which, and `build_networks` makes one `StochasticNetwork` per
conditional from it, with no branch per variant.

    ADGM:  p(x|y,z) p(a|x,y,z) p(y) p(z)
    SDGM:  p(x|a,y,z) p(a|y,z) p(y) p(z)
    M2:    p(x|y,z) p(y) p(z)      with q(y|x) q(z|y,x)   (Kingma et al., 2014)
    ADGM with deterministic a: a = mu(x) is a feature of x, no p(a|.) and no q(a|x) density.
    ADGM with fixed q(a|x) (the authors' early code): p(x|y,z) p(a) p(y) p(z), p(a) = N(0, I),
           q(a|x) q(y|a,x) q(z|y,x) with q(a|x) never trained.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from adgm_tf.networks import StochasticNetwork

# The conditionals in the order their networks are made (seeded initial weights follow it).
NETWORK_NAMES = ("q_a", "q_y", "q_z", "p_a", "p_x")


@dataclasses.dataclass(frozen=True)
class Architecture:
    """Which variables each conditional of a model sees."""

    auxiliary: str  # "stochastic", "deterministic" or "none": the kind of `a`
    p_a_inputs: tuple[str, ...]  # parents of a in p; () when a is not in p (or p(a) = N(0, I))
    p_x_inputs: tuple[str, ...]  # parents of x in p
    q_z_sees_a: bool = True  # q(z|a,y,x), or q(z|y,x)
    train_q_a: bool = True  # False: q(a|x) keeps its random initial weights

    @property
    def q_y_inputs(self) -> tuple[str, ...]:
        return ("a", "x") if self.auxiliary != "none" else ("x",)

    @property
    def q_z_inputs(self) -> tuple[str, ...]:
        return ("a", "y", "x") if self.auxiliary != "none" and self.q_z_sees_a else ("y", "x")

    @property
    def standard_normal_a(self) -> bool:
        """Whether p(a) = N(0, I): a stochastic `a` without a p(a|.) network."""
        return self.auxiliary == "stochastic" and not self.p_a_inputs

    @property
    def trains_stochastic_a(self) -> bool:
        """Whether q(a|x) is a trained density (what free bits act on)."""
        return self.auxiliary == "stochastic" and self.train_q_a

    def networks(self, likelihood: str) -> dict[str, tuple[tuple[str, ...], str, str]]:
        """Each conditional's (parents, head, variable it gives) in `NETWORK_NAMES` order;
        the conditionals the variant does not have are left out."""
        q_a_head = "gaussian" if self.auxiliary == "stochastic" else "deterministic"
        table = {
            "q_a": (("x",), q_a_head, "a") if self.auxiliary != "none" else None,
            "q_y": (self.q_y_inputs, "categorical", "y"),
            "q_z": (self.q_z_inputs, "gaussian", "z"),
            "p_a": (self.p_a_inputs, "gaussian", "a") if self.p_a_inputs else None,
            "p_x": (self.p_x_inputs, likelihood, "x"),
        }
        return {name: table[name] for name in NETWORK_NAMES if table[name] is not None}


ARCHITECTURES = {
    "adgm": Architecture("stochastic", p_a_inputs=("x", "y", "z"), p_x_inputs=("y", "z")),
    "sdgm": Architecture("stochastic", p_a_inputs=("y", "z"), p_x_inputs=("a", "y", "z")),
    "m2": Architecture("none", p_a_inputs=(), p_x_inputs=("y", "z")),
    "adgm_deterministic": Architecture("deterministic", p_a_inputs=(), p_x_inputs=("y", "z")),
    # The model of the authors' early public code, whose log is the only published curve to
    # 1.6% (reproduction notes): p(a) = N(0, I), q(z|y,x), and q(a|x) never trained, so `a`
    # is a fixed random function of x plus noise.
    "adgm_fixed_qa": Architecture("stochastic", p_a_inputs=(), p_x_inputs=("y", "z"),
                                  q_z_sees_a=False, train_q_a=False),
}


def architecture(name: str, p_a_inputs: Sequence[str] | None = None) -> Architecture:
    """The architecture `name`, with the parents of a in p replaced by `p_a_inputs` if given
    (e.g. ("y", "z"): the ADGM of the paper's benchmarks, Sec. 3)."""
    if name not in ARCHITECTURES:
        raise ValueError(f"Unknown architecture {name!r}; choose one of {sorted(ARCHITECTURES)}.")
    arch = ARCHITECTURES[name]
    if p_a_inputs is None:
        return arch
    if arch.auxiliary != "stochastic":
        raise ValueError(f"{name!r} has no p(a|.); p_a_inputs does not apply.")
    if not set(p_a_inputs) <= {"x", "y", "z"} or not p_a_inputs:
        raise ValueError(f"p_a_inputs must be drawn from x, y, z; got {p_a_inputs}.")
    return dataclasses.replace(arch, p_a_inputs=tuple(p_a_inputs))


def build_networks(arch: Architecture, dims: dict[str, int], likelihood: str,
                   hidden_sizes: Sequence[int], x_var_floor: float = 0.0,
                   dtype=None, **network_options) -> dict[str, StochasticNetwork | None]:
    """One `StochasticNetwork` per conditional of `arch`, keyed by `NETWORK_NAMES` (None for
    the conditionals it lacks).

    Args:
      dims: the size of each variable, {"x": D, "y": K, "a": n_a, "z": n_z}.
      x_var_floor: the variance floor of p(x|.) (Gaussian likelihood only).
      network_options: batch_norm, head_init_std, init (see `StochasticNetwork`).
    """
    networks = dict.fromkeys(NETWORK_NAMES)
    for name, (parents, head, gives) in arch.networks(likelihood).items():
        networks[name] = StochasticNetwork(
            parents, dims, hidden_sizes, head, dims[gives], name=name, dtype=dtype,
            var_floor=x_var_floor if name == "p_x" else 0.0, **network_options)
    return networks

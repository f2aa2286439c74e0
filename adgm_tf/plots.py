"""Figures of the paper's toy experiments, written as PNG files."""

from __future__ import annotations

import os
from typing import Callable, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402


def _save(fig, path: str) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def decision_boundary(
    predict: Callable[[np.ndarray], np.ndarray],
    x_unlabeled: np.ndarray,
    x_labeled: np.ndarray,
    path: str,
    title: str = "",
    resolution: int = 200,
) -> str:
    """q(y=1|x) over the plane with the unlabeled data and the labeled points (paper Fig. 2c).

    Args:
      predict: maps [N, 2] inputs to class probabilities [N, K].
      x_unlabeled: [N, 2]; x_labeled: [N_l, 2] (drawn in black).
    """
    lo, hi = x_unlabeled.min(0) - 0.5, x_unlabeled.max(0) + 0.5
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.stack([g0.ravel(), g1.ravel()], axis=1).astype(np.float32)
    p = predict(grid)[:, 1].reshape(g0.shape)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.contourf(g0, g1, p, levels=20, cmap="coolwarm", alpha=0.6)
    ax.contour(g0, g1, p, levels=[0.5], colors="k", linewidths=1)
    ax.scatter(x_unlabeled[:, 0], x_unlabeled[:, 1], s=1, c="grey", alpha=0.3)
    ax.scatter(x_labeled[:, 0], x_labeled[:, 1], s=60, c="k", marker="o")
    ax.set_title(title or "q(y=1|x) and the labeled points")
    return _save(fig, path)


def principal_components(
    features: np.ndarray, labels: np.ndarray, path: str, title: str = ""
) -> str:
    """The first two principal components of features [N, d], coloured by class (Fig. 2d, 4b)."""
    pcs = PCA(n_components=2).fit_transform(features)
    fig, ax = plt.subplots(figsize=(5, 4))
    sc = ax.scatter(pcs[:, 0], pcs[:, 1], s=2, c=labels, cmap="tab10", alpha=0.6)
    fig.colorbar(sc, ax=ax, label="class")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(title or "PCA of E[a|x]")
    return _save(fig, path)


def curves(
    series: Mapping[str, Sequence[float]], path: str, ylabel: str, title: str = "",
    percent: bool = False,
) -> str:
    """One line per named series against epoch (paper Fig. 5)."""
    fig, ax = plt.subplots(figsize=(5, 4))
    for name, values in series.items():
        v = np.asarray(values, dtype=float) * (100.0 if percent else 1.0)
        ax.plot(np.arange(1, len(v) + 1), v, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel + (" (%)" if percent else ""))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def curves_against(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]], path: str, xlabel: str,
    ylabel: str, title: str = "", percent: bool = False,
) -> str:
    """One line per named (x, y) series, e.g. test error against wall time; NaN y values
    (epochs that were not evaluated) are skipped."""
    fig, ax = plt.subplots(figsize=(5, 4))
    for name, (x, y) in series.items():
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        keep = np.isfinite(y)
        ax.plot(x[keep], y[keep] * (100.0 if percent else 1.0), label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel + (" (%)" if percent else ""))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return _save(fig, path)


def densities(
    potential: Callable[[np.ndarray], np.ndarray],
    samples: Mapping[str, np.ndarray],
    path: str,
    limit: float = 4.0,
    resolution: int = 200,
) -> str:
    """The true density exp(-U) beside 2-D histograms of each model's samples (Fig. 2a, 2b)."""
    g = np.linspace(-limit, limit, resolution)
    g0, g1 = np.meshgrid(g, g)
    density = np.exp(-potential(np.stack([g0, g1], axis=-1)))
    fig, axes = plt.subplots(1, 1 + len(samples), figsize=(4 * (1 + len(samples)), 4))
    axes[0].imshow(density, origin="lower", extent=(-limit, limit, -limit, limit), cmap="viridis")
    axes[0].set_title("exp(-U(z))")
    for ax, (name, z) in zip(axes[1:], samples.items()):
        ax.hist2d(z[:, 0], z[:, 1], bins=100, range=[[-limit, limit], [-limit, limit]],
                  cmap="viridis")
        ax.set_title(name)
    for ax in axes:
        ax.set_aspect("equal")
    return _save(fig, path)


def ensure_dir(path: str) -> str:
    os.makedirs(path, exist_ok=True)
    return path


def image_grid(
    images: np.ndarray, path: str, title: str = "", column_labels: Sequence[str] = ()
) -> str:
    """A grid of grey images [rows, cols, h, w] (paper Fig. 3)."""
    rows, cols = images.shape[:2]
    fig, axes = plt.subplots(rows, cols, figsize=(0.8 * cols, 0.8 * rows + 0.4), squeeze=False)
    for r in range(rows):
        for c in range(cols):
            axes[r, c].imshow(images[r, c], cmap="gray", vmin=0.0, vmax=1.0)
            axes[r, c].axis("off")
            if r == 0 and c < len(column_labels):
                axes[r, c].set_title(column_labels[c], fontsize=8)
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def kl_per_unit(kl: Mapping[str, np.ndarray], path: str, title: str = "") -> str:
    """The mean KL of each unit of each latent variable, sorted, on a log scale (Fig. 4a)."""
    fig, ax = plt.subplots(figsize=(5, 4))
    for name, values in kl.items():
        ax.plot(np.sort(np.asarray(values))[::-1], marker=".", label=name)
    ax.set_yscale("log")
    ax.set_xlabel("unit (sorted)")
    ax.set_ylabel("KL (nats)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def scatter_classes(points: np.ndarray, labels: np.ndarray, path: str, title: str = "") -> str:
    """2-D points [N, 2] coloured by class."""
    fig, ax = plt.subplots(figsize=(5, 4))
    sc = ax.scatter(points[:, 0], points[:, 1], s=8, c=labels, cmap="tab10")
    fig.colorbar(sc, ax=ax, label="class")
    ax.set_title(title)
    return _save(fig, path)

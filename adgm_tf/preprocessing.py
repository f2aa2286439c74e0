"""The paper's preparation of SVHN and NORB pixels as Gaussian inputs (Sec. 4.3).

Both are dequantised, then scaled: x = (pixel + u) * scale - offset with u ~ U(0, 1) per value
(the noise keeps a continuous density from piling up on the 256 grey levels; Uria et al. 2013):
- SVHN: scale = 1 / (std of its colour channel over the training set), offset = 0;
- NORB: each 96 x 96 image of a stereo pair resized to 32 x 32 first (area averaging, which
  for 96 -> 32 is the mean of each 3 x 3 block; the authors' code used nearest-neighbour),
  then scale = 1/256 and offset = the training set's mean of (pixel + u) / 256, per input.
The statistics are those of the dequantised values, computed exactly from the raw ones
(E[u] = 1/2, Var[u] = 1/12), so they need no noise draw and are the same for every seed.

SVHN's training set (train + extra: 604,388 x 3072) stays uint8 (1.9 GB; float32 would be
7.4 GB): its statistics are computed in chunks and `Dequantizer.__call__` prepares one batch at a
time inside the input pipeline, with fresh noise at every step. Sets that fit in memory as
float32 (the test sets, NORB) are prepared once with `Dequantizer.apply`, in chunks.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

CHUNK = 4096  # rows per chunk when a whole set is reduced or prepared


@dataclasses.dataclass(frozen=True)
class Dequantizer:
    """x = (raw + u) * scale - offset, u ~ U(0, 1): raw [B, D] uint8 or float -> float32 [B, D]."""

    scale: np.ndarray  # [D] float32
    offset: np.ndarray  # [D] float32

    def __call__(self, raw: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """One batch inside a tf.data pipeline; the noise is reproducible from the [2] int seed."""
        x = tf.cast(raw, tf.float32)  # [B, D]
        u = tf.random.stateless_uniform(tf.shape(x), seed)  # [B, D]
        return (x + u) * self.scale - self.offset

    def apply(self, raw: np.ndarray, seed: int) -> np.ndarray:
        """A whole set [N, D] -> float32 [N, D], in chunks: no float copy beyond the result."""
        rng = np.random.default_rng(seed)
        out = np.empty(raw.shape, np.float32)
        for start in range(0, len(raw), CHUNK):
            x = raw[start:start + CHUNK].astype(np.float32)
            x += rng.random(x.shape, dtype=np.float32)
            out[start:start + CHUNK] = x * self.scale - self.offset
        return out


def channel_std(x: np.ndarray, channels: int = 3) -> np.ndarray:
    """The std of each channel's dequantised values over a set of images.

    Args:
      x: [N, C * P] uint8, channel-major (the C planes of P pixels one after the other).
    Returns:
      [C] float64: sqrt(Var[pixel] + 1/12), the std of pixel + U(0, 1) over all N * P values.
      Exact integer sums, CHUNK images at a time (SVHN train + extra: a few seconds).
    """
    total = np.zeros(channels, np.int64)
    squares = np.zeros(channels, np.int64)
    for start in range(0, len(x), CHUNK):
        c = x[start:start + CHUNK].reshape(-1, channels, x.shape[1] // channels).astype(np.int64)
        total += c.sum(axis=(0, 2))
        squares += (c * c).sum(axis=(0, 2))
    n = x.shape[0] * (x.shape[1] // channels)
    mean = total / n
    return np.sqrt(squares / n - mean**2 + 1.0 / 12.0)


def svhn_dequantizer(x: np.ndarray) -> Dequantizer:
    """SVHN's preparation from its training set x [N, 3072] uint8 (3 planes of 32 x 32)."""
    std = channel_std(x, channels=3)  # [3]
    scale = np.repeat(1.0 / std, x.shape[1] // 3).astype(np.float32)  # [3072]
    return Dequantizer(scale=scale, offset=np.zeros_like(scale))


def resize_pairs(pairs: np.ndarray, size: int = 32, method: str = "area") -> np.ndarray:
    """Stereo pairs [N, 2, H, W] uint8 -> [N, 2 * size * size] float32 values in [0, 255].

    Args:
      method: a tf.image.resize method; "area" (the default) averages the pixels each output
        pixel covers, "nearest" is what the authors' code used, "bilinear" also works.
    Returns:
      The two resized images of each pair one after the other (left image first).
    """
    n, views, h, w = pairs.shape
    out = np.empty((n, views * size * size), np.float32)
    for start in range(0, n, CHUNK // 4):
        part = pairs[start:start + CHUNK // 4].reshape(-1, h, w, 1)  # [n_c * 2, H, W, 1]
        small = tf.image.resize(tf.cast(part, tf.float32), (size, size), method=method)
        out[start:start + len(part) // views] = small.numpy().reshape(-1, views * size * size)
    return out


def norb_dequantizer(x: np.ndarray) -> Dequantizer:
    """NORB's preparation from its resized training set x [N, 2048] float32 in [0, 255]."""
    mean = x.mean(axis=0, dtype=np.float64)  # [2048]
    scale = np.full(x.shape[1], 1.0 / 256.0, np.float32)
    return Dequantizer(scale=scale, offset=((mean + 0.5) / 256.0).astype(np.float32))

"""The lecture's inversion claims, measured (Mahendran & Vedaldi 2015).

Two claims: a layer's activations can be inverted to an image that reproduces
them closely (the paper: a relative feature error that "rarely exceeds 20%"),
and the reconstructions grow less faithful to the original with depth (the
lecture's layer-wise AlexNet figure). :func:`inversion_claims` inverts images
at every layer with the kit's default recipe and measures both; the toy
scenes' object masks add an SSIM on the object's own pixels
(:func:`object_ssim`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from lecturekit.similarity import rank_correlation, ssim_map
from lecturekit.models import LayeredNetwork
from lecturekit.optimise.inversion import invert_layers

__all__ = ["inversion_claims", "object_ssim", "spearman"]


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation of two equally long sequences (ties get mean ranks;
    :func:`lecturekit.similarity.rank_correlation` on one pair)."""
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or a.size < 2:
        raise ValueError(f"x and y must be 1-D sequences of the same length >= 2, got shapes "
                         f"{a.shape} and {b.shape}")
    return float(rank_correlation(torch.from_numpy(a)[None], torch.from_numpy(b)[None])[0])


def object_ssim(image01: torch.Tensor, original01: torch.Tensor, masks: torch.Tensor,
                window_size: int = 11) -> torch.Tensor:
    """Mean local SSIM over the windows centred on the object (a scene's mask), shape (N,).

    The toy scenes' backgrounds are lost early in the toy network (it never
    needed them), and a flat grey image already scores an SSIM of about 0.45
    against a scene; the object's own pixels show what the layers keep.
    """
    local = ssim_map(image01, original01, window_size=window_size)
    half = window_size // 2
    inner = masks[:, half:masks.shape[1] - half, half:masks.shape[2] - half].to(local)
    return (local * inner).sum(dim=(1, 2)) / inner.sum(dim=(1, 2)).clamp_min(1)


def inversion_claims(model: LayeredNetwork, images: torch.Tensor,
                     masks: torch.Tensor | None = None, *, steps: int = 100,
                     layers: Sequence[str] | None = None, seed: int = 0,
                     progress: bool = False) -> dict[str, Any]:
    """The lecture's inversion claims, measured on a normalised batch ``images``.

    Every layer of ``layers`` (default: all of the model's) is inverted with the
    kit's default recipe (``steps`` steps, all images in one batch). Returns, per
    layer, the mean relative feature error and the mean SSIM to the original
    (and, with ``masks``, the mean SSIM on the objects' pixels); then
    ``"depth_ssim_spearman"`` (and ``"depth_object_ssim_spearman"``), the rank
    correlation of layer depth and SSIM.
    """
    names = model.layer_names if layers is None else layers
    layers = [model.check_layer(name) for name in names]
    if len(layers) < 2:
        raise ValueError(f"layers must name at least two layers to correlate depth and SSIM, "
                         f"got {layers}")
    results = invert_layers(model, images, layers, steps=steps, seed=seed, progress=progress)
    claims: dict[str, Any] = {}
    for name, result in results.items():
        claims[name] = {"feature_error": float(result.feature_error.mean()),
                        "ssim": float(result.ssim.mean())}
        if masks is not None:
            claims[name]["object_ssim"] = float(
                object_ssim(result.image01, result.original01, masks).mean())
    depth = [model.depth(name) for name in layers]
    claims["depth_ssim_spearman"] = spearman(depth, [claims[name]["ssim"] for name in layers])
    if masks is not None:
        claims["depth_object_ssim_spearman"] = spearman(
            depth, [claims[name]["object_ssim"] for name in layers])
    return claims

"""Image priors: the regularisers of optimisation-based visualisation.

The lecture's methods (class-model visualisation, DeepDream, inversion) search
for an image ``x`` that scores high on a target. Left alone the search finds
high-frequency noise that the network likes but no eye recognises, so a term
``lambda * R(x)`` is added to the objective. This module holds the lecture's
choices for ``R`` (:mod:`lecturekit.optimise.priors` names them and scales them
for the methods):

* ``"alpha_norm"``: :func:`alpha_norm`, ``sum |x|^alpha`` (Mahendran & Vedaldi
  2015; alpha = 2 is the L2 penalty of Simonyan et al. 2014);
* ``"total_variation"``: :func:`total_variation`, ``TV_beta`` (Mahendran &
  Vedaldi 2015);
* ``"low_pass"``: :func:`low_pass_penalty`, the energy that a Gaussian blur
  removes (the blur prior of Yosinski et al. 2015 as a penalty);
* ``"wavelet"``: :func:`wavelet_sparsity`, the L1 norm of Haar detail
  coefficients (Mallat 1989).

Conventions shared by every regulariser:

* the input is a batch ``x`` of shape (N, C, H, W), float32 or float64, on any
  device; everything is computed on that device in that dtype;
* the result has shape (N,): one value per image, never summed over the batch,
  so that a batch of independent optimisations can weight each image's terms
  separately (sum or weight them yourself before ``backward()``);
* the result is differentiable with finite gradients for every input
  (``|.|`` at 0 gets the subgradient 0; ``total_variation`` with ``beta < 2``
  adds a small ``eps`` inside the power, see there).
"""

from __future__ import annotations

import torch

from lecturekit.filters import gaussian_blur, spatial_differences
from lecturekit.validation import check_at_least, check_image_batch, check_real

__all__ = ["alpha_norm", "haar_wavelet", "low_pass_penalty", "total_variation", "wavelet_sparsity"]

# --------------------------------------------------------------------------- alpha-norm

def alpha_norm(x: torch.Tensor, alpha: float = 6.0) -> torch.Tensor:
    """Per-image alpha-norm prior ``sum_{c,h,w} |x|^alpha``, shape (N,).

    Mahendran & Vedaldi 2015 ("Understanding Deep Image Representations by
    Inverting Them", eq. 3 with the power alpha, no root) use alpha = 6 to keep
    pixel values in range; alpha = 2 is the plain L2 penalty of Simonyan et al.
    2014's class models. ``alpha >= 1`` keeps the gradient finite at 0
    (at alpha = 1 the subgradient 0 is used there).
    """
    check_image_batch(x)
    alpha = check_real("alpha", alpha, ">= 1", lambda a: a >= 1)
    return x.abs().pow(alpha).sum(dim=(1, 2, 3))


# --------------------------------------------------------------------------- total variation

def total_variation(x: torch.Tensor, beta: float = 2.0, eps: float = 1e-8) -> torch.Tensor:
    """Per-image total variation ``TV_beta`` of Mahendran & Vedaldi 2015 (eq. 4), shape (N,).

    ``sum_c sum_{i<H-1, j<W-1} ((x[i,j+1]-x[i,j])^2 + (x[i+1,j]-x[i,j])^2)^(beta/2)``:
    differences along both spatial axes (height and width), never across
    channels; each channel counts separately. beta = 2 is the squared-gradient
    energy; beta = 1 is the classic (isotropic) TV, which favours flat patches
    with sharp edges.

    For beta < 2 the power has an infinite derivative where the local gradient
    is zero (flat patches), so this function computes
    ``(d + eps)^(beta/2) - eps^(beta/2)`` instead of ``d^(beta/2)``: the value
    is still exactly 0 on flat patches and differs from the exact one by at
    most ``eps^(beta/2)`` per pixel (1e-4 at beta = 1 with the default eps);
    the gradient is finite everywhere. For beta >= 2 the exact formula is used
    and ``eps`` is ignored. Images with H or W below 2 have no such pixel and
    get 0.
    """
    check_image_batch(x)
    beta = check_real("beta", beta, "> 0", lambda b: b > 0)
    eps = check_real("eps", eps, ">= 0", lambda e: e >= 0)
    dx, dy = spatial_differences(x)
    d = dx.square() + dy.square()
    if beta == 2.0:
        tv = d
    elif beta > 2.0:
        tv = d.pow(beta / 2)
    else:
        e = d.new_tensor(eps)    # in x's dtype, so that flat patches give exactly 0
        tv = (d + e).pow(beta / 2) - e.pow(beta / 2)
    return tv.sum(dim=(1, 2, 3))


# --------------------------------------------------------------------------- Gaussian low pass

def low_pass_penalty(x: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """Per-image energy of the high frequencies ``sum (x - gaussian_blur(x, sigma))^2``, shape (N,).

    A penalty form of the Gaussian-blur prior of Yosinski et al. 2015: zero for
    images that blurring leaves unchanged, large for pixel noise. Larger
    ``sigma`` also penalises coarser detail. See :func:`lecturekit.filters.gaussian_blur`.
    """
    check_image_batch(x)
    return (x - gaussian_blur(x, sigma)).square().sum(dim=(1, 2, 3))


# --------------------------------------------------------------------------- Haar wavelets

def haar_wavelet(x: torch.Tensor, levels: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Orthonormal 2-D Haar transform of every channel, ``levels`` levels deep.

    Each level splits every 2 x 2 block ``[[a, b], [c, d]]`` into the
    approximation ``(a+b+c+d)/2`` and three details, stacked in this order:
    ``(a-b+c-d)/2`` (difference between columns: vertical edges),
    ``(a+b-c-d)/2`` (difference between rows: horizontal edges) and
    ``(a-b-c+d)/2`` (diagonal); the next level transforms the approximation
    (Haar 1910; Mallat 1989, "A Theory for Multiresolution Signal
    Decomposition"). The factor 1/2 makes the transform orthonormal: the sum of
    squares of all coefficients equals that of ``x``.

    Returns ``(approximation, details)``: the approximation has shape
    (N, C, H / 2^levels, W / 2^levels); ``details[k]`` is level ``k + 1``
    (finest first) with shape (N, C, 3, H / 2^(k+1), W / 2^(k+1)). H and W must
    be divisible by ``2 ** levels``.
    """
    check_image_batch(x)
    levels = check_at_least("levels", levels, 1)
    h, w = x.shape[-2:]
    f = 2 ** levels
    if h % f or w % f:
        raise ValueError(f"levels={levels} needs H and W divisible by 2**levels = {f}, got x of "
                         f"shape {tuple(x.shape)}; use a smaller levels or crop/pad the image")
    approx = x
    details = []
    for _ in range(levels):
        a = approx[:, :, 0::2, 0::2]
        b = approx[:, :, 0::2, 1::2]
        c = approx[:, :, 1::2, 0::2]
        d = approx[:, :, 1::2, 1::2]
        details.append(torch.stack([(a - b + c - d) / 2, (a + b - c - d) / 2,
                                    (a - b - c + d) / 2], dim=2))
        approx = (a + b + c + d) / 2
    return approx, details


def wavelet_sparsity(x: torch.Tensor, levels: int = 2) -> torch.Tensor:
    """Per-image L1 norm of the Haar detail coefficients, shape (N,).

    ``sum_levels sum_{c, orientation, h, w} |detail|`` of :func:`haar_wavelet`
    (orthonormal Haar, ``levels`` deep; the approximation is not penalised), a
    sparsity prior in the wavelet domain (Mallat 1989): natural images have
    few large detail coefficients, noise has many. ``|.|`` gets the subgradient
    0 at 0. H and W must be divisible by ``2 ** levels``.
    """
    _, details = haar_wavelet(x, levels)
    total = details[0].abs().sum(dim=(1, 2, 3, 4))
    for d in details[1:]:
        total = total + d.abs().sum(dim=(1, 2, 3, 4))
    return total

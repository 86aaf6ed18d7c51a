"""Filters shared by both halves of the lecture and by the measures: forward differences,
the Gaussian kernel and blur, reflect padding, and Sobel's edge map.

Total variation (:mod:`lecturekit.optimise.regularisers`), SSIM and the edge measure
(:mod:`lecturekit.similarity`), the layout used for re-identification
(:mod:`lecturekit.measure.anonymisation`) and the transforms of transform robustness
(:mod:`lecturekit.optimise.transforms`) all build on these few functions; they live on
the ground floor so that none of those modules has to import another.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from lecturekit.validation import check_image_batch, check_int, check_real

__all__ = ["gaussian_blur", "gaussian_kernel", "reflect_index", "sobel_edges",
           "spatial_differences"]


def reflect_index(n: int, before: int, after: int, device: torch.device) -> torch.Tensor:
    """Indices of a reflect-padded axis (mirror without repeating the edge, folded
    as often as needed, so any amount of padding works on any length)."""
    i = torch.arange(-before, n + after, device=device)
    if n == 1:
        return torch.zeros_like(i)
    period = 2 * (n - 1)
    i = torch.remainder(i, period)
    return torch.where(i >= n, period - i, i)


def spatial_differences(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward differences of a batch (N, C, H, W) along the width and the height,
    ``x[i, j+1] - x[i, j]`` and ``x[i+1, j] - x[i, j]``, both on the pixels ``i < H-1,
    j < W-1``: shapes (N, C, H-1, W-1). Total variation and the edge measure of
    :func:`lecturekit.similarity.edge_concentration` are built on them."""
    return x[:, :, :-1, 1:] - x[:, :, :-1, :-1], x[:, :, 1:, :-1] - x[:, :, :-1, :-1]


def gaussian_kernel(size: int, sigma: float, *, dtype: torch.dtype = torch.float64,
                    device: torch.device | str | None = None) -> torch.Tensor:
    """The 1-D Gaussian of ``size`` taps (odd) and std ``sigma``, normalised to sum 1: the
    one kernel behind :func:`gaussian_blur` and SSIM's window
    (:mod:`lecturekit.similarity`)."""
    check_int("size", size, "that is odd and >= 1", lambda v: v >= 1 and v % 2 == 1)
    sigma = check_real("sigma", sigma, "a number > 0", lambda s: s > 0)
    k = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    w = torch.exp(-k.square() / (2 * sigma * sigma))
    return w / w.sum()


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur every channel of every image with a Gaussian of std ``sigma`` pixels.

    Separable: a 1-D kernel ``exp(-k^2 / (2 sigma^2))``, ``|k| <= ceil(3 sigma)``,
    normalised to sum 1, along the width and then along the height. Borders
    use reflect padding (mirror without repeating the edge pixel, like numpy's
    ``"reflect"``; folded again for images narrower than the kernel), so a
    constant image stays constant. Same shape, dtype and device as ``x``;
    differentiable. Used as a per-step smoothing operation by Yosinski et al.
    2015 ("Understanding Neural Networks Through Deep Visualization").
    """
    check_image_batch(x)
    sigma = check_real("sigma", sigma, "> 0", lambda s: s > 0)
    n, c, h, w = x.shape
    kernel = gaussian_kernel(2 * math.ceil(3 * sigma) + 1, sigma, dtype=x.dtype,
                             device=x.device)
    r = (kernel.numel() - 1) // 2
    y = x.reshape(n * c, 1, h, w)
    y = y.index_select(3, reflect_index(w, r, r, x.device))
    y = F.conv2d(y, kernel.view(1, 1, 1, -1))
    y = y.index_select(2, reflect_index(h, r, r, x.device))
    y = F.conv2d(y, kernel.view(1, 1, -1, 1))
    return y.reshape(n, c, h, w)


def sobel_edges(x: torch.Tensor) -> torch.Tensor:
    """The edge map of a batch of images (N, C, H, W): at every pixel the largest Sobel
    gradient magnitude ``sqrt(gx^2 + gy^2)`` over the channels, shape (N, H, W).

    ``gx`` and ``gy`` are the 3 x 3 Sobel filters (``[1, 2, 1]`` smoothing across,
    ``[-1, 0, 1]`` differences along; Sobel & Feldman 1968), with reflect padding so the
    map keeps the image's size and a constant image gives zero everywhere. The reduction
    over colour is the saliency map's, a maximum. Adebayo et al. (2018) hold saliency maps
    against such an edge detector, which needs neither a network nor training.
    """
    check_image_batch(x)
    n, c, h, w = x.shape
    if min(h, w) < 2:
        raise ValueError(f"x must have images of at least 2 x 2 pixels for an edge map, got "
                         f"{tuple(x.shape[-2:])}")
    smooth = torch.tensor([1.0, 2.0, 1.0], dtype=x.dtype, device=x.device)
    differ = torch.tensor([-1.0, 0.0, 1.0], dtype=x.dtype, device=x.device)
    y = x.reshape(n * c, 1, h, w)
    y = y.index_select(2, reflect_index(h, 1, 1, x.device))
    y = y.index_select(3, reflect_index(w, 1, 1, x.device))
    gx = F.conv2d(y, (smooth.view(-1, 1) * differ.view(1, -1)).view(1, 1, 3, 3))
    gy = F.conv2d(y, (differ.view(-1, 1) * smooth.view(1, -1)).view(1, 1, 3, 3))
    return (gx.square() + gy.square()).sqrt().reshape(n, c, h, w).amax(dim=1)

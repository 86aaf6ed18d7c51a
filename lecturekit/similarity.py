"""How close is a reconstruction to the original? SSIM and PSNR on [0, 1] images.

The inversion notebook (Mahendran & Vedaldi 2015, as shown in the lecture
"Visualization & Attention, Part 4" of the FAU Deep Learning course) compares
each layer's reconstruction with the original image. Two numbers do that here:

* :func:`ssim`, the structural similarity index of Wang, Bovik, Sheikh &
  Simoncelli 2004 ("Image quality assessment: from error visibility to
  structural similarity", IEEE TIP): local means, variances and covariance
  under an 11 x 11 Gaussian window (sigma 1.5), combined as
  ``((2 mu_x mu_y + C1)(2 s_xy + C2)) / ((mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2))``
  with ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2`` and ``L = 1``, averaged over
  all window positions that lie fully inside the image and over the colour
  channels. 1 means identical; near 0 means no shared structure.
* :func:`psnr`, the peak signal-to-noise ratio ``10 log10(1 / MSE)`` in dB.

Both take batches (N, C, H, W) with values in [0, 1] and return one value per
image, shape (N,). A third number asks what the lecture asks of total
variation, whether a prior keeps real edges: :func:`edge_concentration`. A fourth
compares two maps by the order of their values only, :func:`rank_correlation`
(Spearman's rho, the first measure of Adebayo et al.'s sanity checks, 2018). Only
torch is needed.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from lecturekit.filters import gaussian_kernel, spatial_differences
from lecturekit.validation import check_finite, check_int, check_real

__all__ = ["edge_concentration", "pearson_correlation", "psnr", "rank_correlation", "ranks", "ssim",
           "ssim_map"]

K1, K2 = 0.01, 0.03


def _check_pair(x: torch.Tensor, y: torch.Tensor, what: str, shape: str = "(N, C, H, W)",
                fits: Callable[[torch.Tensor], bool] = lambda t: t.ndim == 4) -> None:
    """Both tensors of one ``shape`` (for which ``fits`` holds), finite, the same size."""
    for name, value in (("x", x), ("y", y)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{what}: {name} must be a torch.Tensor of shape {shape}, got "
                            f"{type(value).__name__}")
        if not fits(value):
            raise ValueError(f"{what}: {name} must have shape {shape}, got "
                             f"{tuple(value.shape)}")
        check_finite(name, value)
    if x.shape != y.shape:
        raise ValueError(f"{what}: x and y must have the same shape, got {tuple(x.shape)} and "
                         f"{tuple(y.shape)}")


def _filter(x: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' filtering of every channel of every image with ``window``."""
    n, c, h, w = x.shape
    y = x.reshape(n * c, 1, h, w)
    y = F.conv2d(y, window.view(1, 1, 1, -1))
    y = F.conv2d(y, window.view(1, 1, -1, 1))
    return y.reshape(n, c, y.shape[-2], y.shape[-1])


def ssim_map(x: torch.Tensor, y: torch.Tensor, *, window_size: int = 11, sigma: float = 1.5,
             data_range: float = 1.0) -> torch.Tensor:
    """The local SSIM of every window position, averaged over channels: (N, H - w + 1, W - w + 1)
    for a window of ``w = window_size`` taps (position (i, j) is centred on pixel
    (i + w // 2, j + w // 2)). :func:`ssim` is its mean."""
    _check_pair(x, y, "ssim")
    check_int("window_size", window_size, "that is odd and >= 1", lambda v: v >= 1 and v % 2)
    if min(x.shape[-2:]) < window_size:
        raise ValueError(f"ssim needs images of at least {window_size} x {window_size} pixels "
                         f"(the window size), got {tuple(x.shape[-2:])}")
    check_real("data_range", data_range, "a number > 0", lambda v: v > 0)
    dtype = torch.promote_types(torch.promote_types(x.dtype, y.dtype), torch.float64)
    x, y = x.to(dtype), y.to(dtype)
    window = gaussian_kernel(window_size, sigma, dtype=dtype, device=x.device)
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    mu_x, mu_y = _filter(x, window), _filter(y, window)
    var_x = _filter(x * x, window) - mu_x.square()
    var_y = _filter(y * y, window) - mu_y.square()
    cov = _filter(x * y, window) - mu_x * mu_y
    score = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)
             / ((mu_x.square() + mu_y.square() + c1) * (var_x + var_y + c2)))
    return score.mean(dim=1)


def ssim(x: torch.Tensor, y: torch.Tensor, *, window_size: int = 11, sigma: float = 1.5,
         data_range: float = 1.0) -> torch.Tensor:
    """Mean SSIM (Wang et al. 2004) of each image pair, averaged over channels; shape (N,).

    ``x`` and ``y`` are batches (N, C, H, W) on the same scale (``data_range``
    is the distance between the darkest and brightest value, 1 for [0, 1]
    images). The statistics use the population (biased) variance and a
    Gaussian window of ``window_size`` taps and std ``sigma``; the map is
    averaged over the positions where the whole window fits, which matches
    ``skimage.metrics.structural_similarity(..., gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=...)``.
    Differentiable; computed in float64 (or the inputs' dtype when wider).
    """
    return ssim_map(x, y, window_size=window_size, sigma=sigma,
                    data_range=data_range).mean(dim=(1, 2))


def psnr(x: torch.Tensor, y: torch.Tensor, *, data_range: float = 1.0,
         max_db: float = 100.0) -> torch.Tensor:
    """Peak signal-to-noise ratio ``10 log10(data_range^2 / MSE)`` per image pair, in dB; (N,).

    Identical images would give infinity; the value is capped at ``max_db``.
    """
    _check_pair(x, y, "psnr")
    check_real("data_range", data_range, "a number > 0", lambda v: v > 0)
    check_real("max_db", max_db, "a number > 0", lambda v: v > 0)
    dtype = torch.promote_types(torch.promote_types(x.dtype, y.dtype), torch.float64)
    mse = (x.to(dtype) - y.to(dtype)).square().mean(dim=(1, 2, 3))
    floor = data_range ** 2 * 10 ** (-max_db / 10)
    return 10 * torch.log10(data_range ** 2 / mse.clamp_min(floor))


def _gradient_magnitude(x: torch.Tensor) -> torch.Tensor:
    """|horizontal difference| + |vertical difference|, summed over the channels; (N, H-1, W-1)."""
    across, down = spatial_differences(x)
    return (across.abs() + down.abs()).sum(dim=1)


def edge_concentration(x: torch.Tensor, reference: torch.Tensor, *,
                       fraction: float = 0.05) -> torch.Tensor:
    """How much more ``x`` changes at the reference's edges than elsewhere; (N,).

    The edges are the ``fraction`` of pixels where ``reference`` changes most
    (largest ``|dI/dx| + |dI/dy|``, summed over colour channels); the result
    is the mean change of ``x`` there divided by its mean change at all other
    pixels. A reconstruction that keeps the original's edges sharp and its
    flat parts flat scores high (the original itself scores its own, usually
    well above 1); a blurred one lower; noise about 1. Used to show the
    lecture's point about total variation: with ``beta = 1`` it allows the
    jumps of real edges, with ``beta = 2`` it smooths them like a low-pass
    prior (Mahendran & Vedaldi 2015).
    """
    _check_pair(x, reference, "edge_concentration")
    check_real("fraction", fraction, "a number in (0, 1)", lambda v: 0 < v < 1)
    if min(x.shape[-2:]) < 2:
        raise ValueError(f"edge_concentration: images must be at least 2 x 2 pixels, got "
                         f"{tuple(x.shape[-2:])}")
    change = _gradient_magnitude(x.double()).flatten(1)
    edges = _gradient_magnitude(reference.double()).flatten(1)
    count = max(1, min(round(fraction * edges.shape[1]), edges.shape[1] - 1))
    on_edge = torch.zeros_like(edges, dtype=torch.bool)
    on_edge.scatter_(1, edges.topk(count, dim=1).indices, True)
    inside = (change * on_edge).sum(dim=1) / count
    outside = (change * ~on_edge).sum(dim=1) / (edges.shape[1] - count)
    return (inside / outside.clamp_min(1e-12)).float()


def ranks(values: torch.Tensor) -> torch.Tensor:
    """The rank of every value of each row of ``values`` (N, M), 0 for the smallest; tied
    values share the mean of their ranks (as Spearman's rho wants). float64, shape (N, M)."""
    if not isinstance(values, torch.Tensor) or values.ndim != 2 or 0 in values.shape:
        got = tuple(values.shape) if isinstance(values, torch.Tensor) else type(values).__name__
        raise ValueError(f"values must be a tensor of shape (N, M) with N, M >= 1, got {got}")
    m = values.shape[1]
    order = values.argsort(dim=1)  # the order within a tie does not matter: ties are averaged
    ordered = values.gather(1, order)
    starts = torch.ones_like(ordered, dtype=torch.bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    ends = torch.ones_like(starts)
    ends[:, :-1] = starts[:, 1:]
    position = torch.arange(m, device=values.device).expand_as(order)
    first = torch.where(starts, position, 0).cummax(dim=1).values
    last = torch.where(ends, position, m).flip(1).cummin(dim=1).values.flip(1)
    mean = (first + last).double() / 2
    return torch.empty_like(mean).scatter_(1, order, mean)


def rank_correlation(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Spearman's rank correlation of each pair of maps (or any tensors) of a batch; (N,).

    ``x`` and ``y`` have the same shape (N, ...); each item is flattened, its values are
    replaced by their ranks (ties share their mean rank, :func:`ranks`), and the Pearson
    correlation of the two rank vectors is returned: 1 when the two orders agree, -1 when
    one is the other reversed, near 0 when they are unrelated. Only the order counts, so a
    map and any increasing function of it correlate 1. An item that is constant (all its
    values tie) has no order: its correlation is NaN. Adebayo et al. (2018, "Sanity Checks
    for Saliency Maps") compare saliency maps this way, with and without absolute values.
    """
    _check_pair(x, y, "rank_correlation", "(N, ...) with at least one value per item",
                lambda t: t.ndim >= 2 and t.numel() > 0)
    return pearson_correlation(ranks(x.detach().flatten(1)),
                               ranks(y.detach().to(x.device).flatten(1)))


def pearson_correlation(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The Pearson correlation of each row of ``x`` and ``y`` (N, M), in float64; NaN where
    a row is constant. Of two tables of :func:`ranks` it is Spearman's rho."""
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor) or x.ndim != 2 or \
            x.shape != y.shape:
        raise ValueError(f"x and y must be tensors of the same shape (N, M), got "
                         f"{getattr(x, 'shape', type(x).__name__)} and "
                         f"{getattr(y, 'shape', type(y).__name__)}")
    x, y = x.double(), y.double()
    x, y = x - x.mean(dim=1, keepdim=True), y - y.mean(dim=1, keepdim=True)
    denominator = (x.square().sum(dim=1) * y.square().sum(dim=1)).sqrt()
    rho = (x * y).sum(dim=1) / denominator
    return torch.where(denominator > 0, rho, torch.full_like(rho, float("nan")))

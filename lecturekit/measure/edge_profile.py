"""Edges you can see: where an image's strongest edge is, and its profile across it.

The lecture says total variation "allows high piecewise constant jumps like in real
edges", while a low-pass prior suppresses "real edges and other high-frequency
information". With ``beta = 1`` (Mahendran & Vedaldi 2015's ``TV_beta``) a jump costs
its height however sharp it is; with ``beta = 2`` and with a low-pass penalty a sharp jump
costs more than a ramp, so it is smeared. At a notebook's picture size the difference
hides; a zoomed crop of one edge and one line of intensities across it show it.

:func:`strongest_edge` finds the place (the largest gradient of the blurred grey image,
away from the border) and whether the edge is crossed along a row or a column;
:func:`edge_profile` reads the grey values along that line. The figure is
:func:`lecturekit.ui.plot.inversion.show_edge_zoom`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lecturekit.filters import gaussian_blur
from lecturekit.validation import check_at_least, check_image_batch, check_int, check_real

__all__ = ["EdgeSpot", "edge_profile", "strongest_edge"]


@dataclass(frozen=True)
class EdgeSpot:
    """A point on an edge (``row``, ``col``) and the direction that crosses the edge:
    ``across="row"`` (the edge runs up and down, the profile runs left to right) or
    ``"column"`` (the edge runs sideways, the profile runs top to bottom)."""
    row: int
    col: int
    across: str


def _grey(images01: torch.Tensor) -> torch.Tensor:
    check_image_batch(images01)
    return images01.detach().double().cpu().mean(dim=1, keepdim=True)


def strongest_edge(image01: torch.Tensor, margin: int = 16, sigma: float = 2.0) -> EdgeSpot:
    """The strongest edge of the first image of ``image01`` (N, C, H, W): the pixel at least
    ``margin`` pixels from the border where the grey image (the channels' mean), blurred
    by ``sigma`` pixels (0: not at all), changes most (central differences), crossed along
    its row when it changes more from left to right than from top to bottom, else along
    its column. Ties go to the first pixel in reading order."""
    grey = _grey(image01)[:1]
    margin = check_at_least("margin", margin, 1)
    sigma = check_real("sigma", sigma, "a number >= 0 (pixels; 0 for no blur)",
                       lambda s: s >= 0)
    height, width = grey.shape[-2:]
    if min(height, width) <= 2 * margin:
        raise ValueError(f"margin={margin} leaves no pixel inside a {height} x {width} image; "
                         f"use a margin below {min(height, width) // 2}")
    if sigma:
        grey = gaussian_blur(grey, sigma)
    g = grey[0, 0]
    across = torch.zeros_like(g)
    down = torch.zeros_like(g)
    across[:, 1:-1] = (g[:, 2:] - g[:, :-2]) / 2
    down[1:-1, :] = (g[2:, :] - g[:-2, :]) / 2
    strength = across.square() + down.square()
    inside = torch.full_like(strength, -1.0)
    inside[margin:height - margin, margin:width - margin] = \
        strength[margin:height - margin, margin:width - margin]
    row, col = divmod(int(inside.flatten().argmax()), width)
    return EdgeSpot(row, col, "row" if abs(across[row, col]) >= abs(down[row, col])
                    else "column")


def edge_profile(images01: torch.Tensor, spot: EdgeSpot, half_length: int = 12,
                 width: int = 1) -> torch.Tensor:
    """Grey values (the channels' mean) of every image (N, C, H, W) along the line through
    ``spot`` that crosses its edge: ``2 * half_length + 1`` pixels centred on the spot,
    left to right (``across="row"``) or top to bottom (``"column"``), each the mean over
    ``width`` (odd) neighbouring parallel lines; lines leaving the image repeat its border
    pixel. Shape (N, 2 * half_length + 1), float64."""
    grey = _grey(images01)
    half_length = check_at_least("half_length", half_length, 1)
    width = check_int("width", width, "that is odd and >= 1", lambda w: w >= 1 and w % 2)
    if not isinstance(spot, EdgeSpot) or spot.across not in ("row", "column"):
        raise ValueError(f"spot must be an EdgeSpot with across 'row' or 'column', got "
                         f"{spot!r}")
    height, breadth = grey.shape[-2:]
    if not (0 <= spot.row < height and 0 <= spot.col < breadth):
        raise ValueError(f"spot ({spot.row}, {spot.col}) lies outside the {height} x "
                         f"{breadth} image")
    if spot.across == "column":
        grey = grey.transpose(2, 3)
        row, col = spot.col, spot.row
    else:
        row, col = spot.row, spot.col
    side = width // 2
    padded = F.pad(grey, (half_length, half_length, side, side), mode="replicate")
    band = padded[:, 0, row:row + width, col:col + 2 * half_length + 1]
    return band.mean(dim=1)

"""What the optimiser changes: the image's pixels, a pyramid of them, or its spectrum.

The loop (:mod:`lecturekit.optimise.loop`) optimises pixels by default. On
networks trained on photographs, plain pixel gradients fill feature
visualisations with high-frequency patterns that no eye reads. Olah,
Mordvintsev & Schubert ("Feature Visualization", Distill 2017) optimise the
image's Fourier coefficients instead, scaled so that every frequency starts
with about the same weight in a gradient step (natural images have a 1/f
spectrum), in a decorrelated colour space, squashed into [0, 1] by a sigmoid:

    image = sigmoid(C @ gain * irfft2(spectrum * scale))

:class:`FourierImage` is that parameterisation; pass it to
:func:`~lecturekit.optimise.loop.optimise` in place of the starting image.
Constants (REFERENCE.md): spectrum initialised with std 0.01, ``scale = 1 /
max(|f|, 1 / max(H, W))`` with ``|f|`` in cycles per pixel, ``C`` the colour
correlation matrix below divided by its largest column norm. The inverse FFT is
the orthonormal one, times :data:`GAIN` (with Adam the gain sets how far one
step moves the image, like a learning-rate factor).

A lighter change of variables keeps the pixels but adds coarser copies of them:
:class:`PixelPyramid` writes the image as ``levels`` layers of pixels, each half the
resolution of the one before, added up from the coarsest: enlarge it by two
(bilinear), add the next level, and so on (the collapse of a Laplacian pyramid,
Burt & Adelson 1983). One Adam step moves a coarse pixel, and with it a whole patch
of the image, as far as it moves a fine one, so the broad shapes and colours form in
a few steps while the finest level still reaches every pixel. The kit's inversion
recipe for photographs uses it (:mod:`lecturekit.optimise.inversion`;
``benchmarks/bench.py`` measures the gain).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lecturekit.devices import resolve_device
from lecturekit.validation import (check_at_least, check_choice, check_int, check_real,
                                   check_seed, check_side)

__all__ = ["COLOUR_CORRELATION", "FourierImage", "GAIN", "PARAMETERISATIONS", "PixelPyramid",
           "colour_matrix", "frequency_scale", "max_pyramid_levels", "seeded_start"]

PARAMETERISATIONS: tuple[str, ...] = ("pixel", "fourier")
"""What activation maximisation and class models optimise: the pixels, or a decorrelated
Fourier image (Olah et al. 2017)."""

GAIN = 0.25
"""Factor on the orthonormal inverse FFT: with Adam at lr 0.05 the pre-sigmoid image moves
by about 0.1 per step, and the start (std 0.01) is a near-grey image."""

COLOUR_CORRELATION = ((0.26, 0.09, 0.02),
                      (0.27, 0.00, -0.05),
                      (0.27, -0.09, 0.03))
"""Square root of the colour covariance of ImageNet photos (Olah et al. 2017): column k is
the RGB direction of decorrelated channel k (luminance first, then two colour opponents)."""


def colour_matrix(dtype: torch.dtype = torch.float32,
                  device: torch.device | str | None = None) -> torch.Tensor:
    """:data:`COLOUR_CORRELATION` divided by its largest column norm (3 x 3)."""
    matrix = torch.tensor(COLOUR_CORRELATION, dtype=dtype, device=device)
    return matrix / matrix.norm(dim=0).max()


def frequency_scale(height: int, width: int, dtype: torch.dtype = torch.float32,
                    device: torch.device | str | None = None) -> torch.Tensor:
    """``1 / max(|f|, 1 / max(height, width))`` on the (height, width // 2 + 1) grid of
    ``rfft2``, ``|f|`` in cycles per pixel; the constant term gets ``max(height, width)``,
    like the lowest non-zero frequency."""
    fy = torch.fft.fftfreq(height, dtype=dtype, device=device)[:, None]
    fx = torch.fft.rfftfreq(width, dtype=dtype, device=device)[None, :]
    return 1.0 / torch.sqrt(fx * fx + fy * fy).clamp_min(1.0 / max(height, width))


class FourierImage(nn.Module):
    """``n`` images of ``size`` x ``size`` pixels parameterised by their decorrelated
    spectrum; calling it renders them, (n, 3, size, size) in [0, 1], differentiably.

    The real and imaginary parts of the spectrum are the parameters, drawn from
    N(0, ``std``^2) by a generator seeded with ``seed`` (same seed, same start,
    on every device). ``decorrelate=False`` mixes no colours (plain RGB).
    """

    def __init__(self, n: int, size: int, *, std: float = 0.01, seed: int = 0,
                 decorrelate: bool = True, device: torch.device | str | None = None) -> None:
        super().__init__()
        self.n = check_at_least("n", n, 1)
        self.size = check_side("size", size, 2)
        check_real("std", std, "a number >= 0", lambda v: v >= 0)
        check_seed(seed)
        device = None if device is None else resolve_device(device)
        self.register_buffer("scale", frequency_scale(size, size, device=device),
                             persistent=False)
        colours = colour_matrix(device=device) if decorrelate else torch.eye(3, device=device)
        self.register_buffer("colours", colours, persistent=False)
        generator = torch.Generator().manual_seed(seed)
        start = std * torch.randn(n, 3, size, size // 2 + 1, 2, generator=generator)
        self.spectrum = nn.Parameter(start.to(device))

    def forward(self) -> torch.Tensor:
        coefficients = torch.view_as_complex(self.spectrum) * self.scale
        signal = GAIN * torch.fft.irfft2(coefficients, s=(self.size, self.size), norm="ortho")
        return torch.sigmoid(torch.einsum("ik,nkhw->nihw", self.colours, signal))

    def extra_repr(self) -> str:
        return f"n={self.n}, size={self.size}"


def max_pyramid_levels(height: int, width: int) -> int:
    """The most levels a :class:`PixelPyramid` of a ``height`` x ``width`` image can have:
    its coarsest level keeps at least one pixel a side."""
    return 1 + int(math.log2(max(1, min(height, width))))


class PixelPyramid:
    """A batch of images written as ``levels`` layers of pixels, level ``k`` at 1 / 2^k of
    the resolution, rendered from the coarsest up: enlarge to the next level's size
    (bilinear), add that level, repeat (half the work of enlarging every level to full
    size at once: 0.8 against 2.2 ms forward and backward for one 224-px image, 2 cores).

    Level 0 starts as ``image`` (the caller's start, any units), the coarser levels as
    zeros, so the first render is ``image`` itself. :meth:`project` clips the rendered
    image to ``[low, high]`` by moving the excess into level 0: after it the render is
    exactly the clipped image. ``levels=1`` is plain pixels.
    """

    def __init__(self, image: torch.Tensor, levels: int) -> None:
        height, width = image.shape[-2:]
        most = max_pyramid_levels(height, width)
        check_int("pyramid", levels, f"in 1..{most} for a {height} x {width} image (its "
                  f"coarsest level keeps one pixel a side)",
                  lambda n: 1 <= n <= most)
        self.levels = [image.detach().clone().requires_grad_(True)]
        for k in range(1, levels):
            shape = (*image.shape[:-2], math.ceil(height / 2 ** k), math.ceil(width / 2 ** k))
            self.levels.append(torch.zeros(shape, dtype=image.dtype, device=image.device,
                                           requires_grad=True))

    def render(self) -> torch.Tensor:
        """The images: the coarsest level enlarged step by step, each finer level added."""
        image = self.levels[-1]
        for level in reversed(self.levels[:-1]):
            image = level + F.interpolate(image, size=level.shape[-2:], mode="bilinear",
                                          align_corners=False)
        return image

    @torch.no_grad()
    def project(self, low: torch.Tensor, high: torch.Tensor) -> None:
        """Clip the rendered images to ``[low, high]`` by changing level 0 only."""
        if len(self.levels) == 1:  # plain pixels: clip them in place
            self.levels[0].clamp_(min=low, max=high)
            return
        image = self.render()
        self.levels[0].sub_(image - image.clamp(min=low, max=high))


def seeded_start(n: int, size: int, parameterisation: str, init_std: float, seed: int,
                 device: torch.device | str | None = None) -> torch.Tensor | FourierImage:
    """The seeded start of ``n`` searches from noise at ``size`` x ``size`` pixels: normalised
    pixels of Gaussian noise with std ``init_std`` (``"pixel"``), or a :class:`FourierImage`
    from its near-grey start (``"fourier"``, ``init_std`` unused). The same seed gives the
    same start on every device."""
    check_choice("parameterisation", parameterisation, PARAMETERISATIONS)
    if parameterisation == "fourier":
        return FourierImage(n, size, seed=seed, device=device)
    generator = torch.Generator().manual_seed(check_seed(seed))
    start = init_std * torch.randn(n, 3, size, size, generator=generator)
    return start if device is None else start.to(device)

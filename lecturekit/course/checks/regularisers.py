"""Checks for homework 3, part one: Mahendran & Vedaldi's (2015) image priors, the
alpha-norm and the total variation TV_beta."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from lecturekit.course.checks.machinery import Case, Mistake, Spec, correct, name_of, run
from lecturekit.optimise.regularisers import alpha_norm, total_variation

ALPHAS = (1.0, 1.5, 2.0, 2.5, 3.0, 6.0)
BETAS = (1.0, 1.5, 2.0, 3.0)


def _images() -> list[tuple[torch.Tensor, str]]:
    g = torch.Generator().manual_seed(2015)
    ramp = torch.arange(6 * 8, dtype=torch.float32).reshape(1, 1, 6, 8).repeat(1, 3, 1, 1) / 10
    ties = torch.randint(-2, 3, (2, 3, 7, 5), generator=g).float()
    return [
        (torch.randn(2, 3, 9, 11, generator=g), "random values, shape (2, 3, 9, 11)"),
        (torch.zeros(1, 3, 5, 5), "an all-zero image"),
        (-torch.rand(1, 3, 4, 6, generator=g) - 0.5, "an all-negative image"),
        (ties, "integers -2 ... 2 with many equal neighbours (ties), shape (2, 3, 7, 5)"),
        (ramp, "a ramp image (brighter to the right and downwards), shape (1, 3, 6, 8)"),
        (torch.randn(3, 3, 8, 8, generator=g, dtype=torch.float64), "float64 values"),
    ]


def _per_image(x: torch.Tensor) -> torch.Tensor:
    return x.sum((1, 2, 3))


def alpha_spec() -> Spec:
    cases = [Case((x, alpha), f"{label} with alpha = {alpha:g}", alpha_norm(x.double(), alpha))
             for x, label in _images() for alpha in ALPHAS]
    a = lambda c: c["x"].double().abs()
    p = lambda c: a(c).pow(c["alpha"])
    form = " The alpha-norm prior is sum_{c,h,w} |x|^alpha per image, shape (N,)."
    integer = ("you turned alpha into a whole number (int(alpha) or round(alpha)): alpha = 1.5 "
               "or 2.5 are valid exponents too. Use |x| ** alpha with alpha as given." + form)
    mistakes = [
        Mistake("no abs", "the absolute value is missing: for odd alpha (1, 3, ...) negative "
                "pixels make x**alpha negative, so the penalty can go below zero and would "
                "reward dark pixels, and for alpha = 1.5 a negative number to that power is "
                "NaN. Use |x|**alpha." + form,
                lambda c: _per_image(c["x"].double().pow(c["alpha"]))),
        Mistake("mean", "you took the mean instead of the sum over the pixels and channels."
                + form, lambda c: p(c).mean((1, 2, 3))),
        Mistake("root", "you took the alpha-th root: the prior is ||x||_alpha^alpha, the plain "
                "sum of |x|^alpha, without the root (torch.norm(x, p=alpha) is the root form)."
                + form, lambda c: _per_image(p(c)).pow(1 / c["alpha"])),
        Mistake("batch sum", "your function returns one number for the whole batch: sum over "
                "dims 1, 2, 3 only." + form, lambda c: p(c).sum()),
        Mistake("batch mean", "your function returns one number for the whole batch, the mean "
                "over all values." + form, lambda c: p(c).mean()),
        Mistake("batch average", "your function returns one number for the whole batch, the "
                "average of the images' sums." + form, lambda c: p(c).sum() / len(c["x"])),
        Mistake("squares", "your function ignores alpha and always squares: use |x| ** alpha."
                + form, lambda c: _per_image(a(c).square())),
        Mistake("always 6", "your function ignores the alpha it is given and always uses 6 "
                "(Mahendran & Vedaldi's value, the default): use |x| ** alpha." + form,
                lambda c: _per_image(a(c).pow(6))),
        Mistake("integer alpha", integer, lambda c: _per_image(a(c).pow(int(c["alpha"])))),
        Mistake("integer alpha", integer, lambda c: _per_image(a(c).pow(round(c["alpha"])))),
        Mistake("multiplied", "you multiplied by alpha instead of raising to the power alpha: "
                "|x| ** alpha." + form, lambda c: _per_image(a(c) * c["alpha"])),
        Mistake("squared first", "you squared x before the power: (x^2)^alpha is |x|^(2 "
                "alpha). Use |x| ** alpha." + form,
                lambda c: _per_image(c["x"].double().square().pow(c["alpha"]))),
        Mistake("per pixel", "your function returns the per-pixel values |x|^alpha; sum them per "
                "image." + form, lambda c: p(c)),
        Mistake("channels apart", "you summed over the pixels but not over the colour channels: "
                "shape (N, C) instead of (N,)." + form, lambda c: p(c).sum((2, 3))),
    ]
    return Spec(("x", "alpha"), "one value per image, a tensor of shape (N,)", cases, mistakes,
                rtol=1e-4, atol=1e-6)


def check_alpha_norm(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> None:
    """``fn(x, alpha)`` must return ``sum_{c,h,w} |x|^alpha`` per image, shape (N,)."""
    spec = alpha_spec()
    run(fn, spec)
    correct(f"{name_of(fn)} is sum |x|^alpha per image on all {len(spec.cases)} test cases "
            f"(alpha = {', '.join(f'{a:g}' for a in ALPHAS)}; zeros and negative values included)")


# --------------------------------------------------------------------------- total variation

def _pair(beta: float, right: torch.Tensor, down: torch.Tensor) -> torch.Tensor:
    return _per_image(_terms(beta, right, down))


def _terms(beta: float, right: torch.Tensor, down: torch.Tensor) -> torch.Tensor:
    return (right.square() + down.square()).pow(beta / 2)


def _differences(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The right and lower differences paired at every pixel (i, j) that has both."""
    x = x.double()
    return x[:, :, :-1, 1:] - x[:, :, :-1, :-1], x[:, :, 1:, :-1] - x[:, :, :-1, :-1]


def _tv(x: torch.Tensor, beta: float, dims=(2, 3), crop: bool = True, together: bool = True,
        power: float | None = None) -> torch.Tensor:
    """TV variants: ``dims`` the two axes differenced, ``crop`` pairs both differences at the
    same pixel, ``together`` adds squares before the power, ``power`` overrides beta / 2."""
    x = x.double()
    a, b = dims
    p = beta / 2 if power is None else power
    da = x.narrow(a, 1, x.shape[a] - 1) - x.narrow(a, 0, x.shape[a] - 1)
    db = x.narrow(b, 1, x.shape[b] - 1) - x.narrow(b, 0, x.shape[b] - 1)
    if crop:
        da = da.narrow(b, 0, x.shape[b] - 1)
        db = db.narrow(a, 0, x.shape[a] - 1)
        if together:
            return _per_image((da.square() + db.square()).pow(p))
        return _per_image(da.square().pow(p) + db.square().pow(p))
    return _per_image(da.square().pow(p)) + _per_image(db.square().pow(p))


def _one_axis(x: torch.Tensor, beta: float, axis: int) -> torch.Tensor:
    x = x.double()
    d = x.narrow(axis, 1, x.shape[axis] - 1) - x.narrow(axis, 0, x.shape[axis] - 1)
    return _per_image(d.square().pow(beta / 2))


def _padded(x: torch.Tensor, beta: float, mode: str) -> torch.Tensor:
    """Differences at every pixel, with the image padded by one row and column."""
    x = x.double()
    if mode == "circular":
        big = torch.cat([x, x[:, :, :1]], 2)
        big = torch.cat([big, big[:, :, :, :1]], 3)
    else:
        big = F.pad(x, (0, 1, 0, 1), mode="constant" if mode == "zeros" else "replicate")
    height, width = x.shape[-2:]
    right = big[:, :, :height, 1:] - x
    down = big[:, :, 1:, :width] - x
    return _pair(beta, right, down)


def _shifted(x: torch.Tensor, beta: float, kind: str) -> torch.Tensor:
    """Two differences that are not paired at the same pixel (i, j)."""
    x = x.double()
    right, down = _differences(x)
    if kind == "backward":
        right = x[:, :, 1:, 1:] - x[:, :, 1:, :-1]
        down = x[:, :, 1:, 1:] - x[:, :, :-1, 1:]
    elif kind == "down shifted":
        down = x[:, :, 1:, 1:] - x[:, :, :-1, 1:]
    elif kind == "right shifted":
        right = x[:, :, 1:, 1:] - x[:, :, 1:, :-1]
    elif kind == "diagonal":
        return _per_image((x[:, :, 1:, 1:] - x[:, :, :-1, :-1]).square().pow(beta / 2))
    elif kind == "square of sum":
        return _per_image((right + down).square().pow(beta / 2))
    return _pair(beta, right, down)


def _tv_eps(x: torch.Tensor, beta: float, eps: float) -> torch.Tensor:
    right, down = _differences(x)
    return _per_image((right.square() + down.square() + eps).pow(beta / 2))


def tv_spec() -> Spec:
    cases = [Case((x, beta), f"{label} with beta = {beta:g}",
                  total_variation(x.double(), beta, eps=0.0))
             for x, label in _images() for beta in BETAS]
    x = lambda c: c["x"]
    beta = lambda c: c["beta"]
    both = ("TV sums, for every pixel (i, j) that has a right and a lower neighbour, the squared "
            "difference to its right neighbour plus the squared difference to the neighbour "
            "below, and raises that sum to beta/2: right = x[:, :, :-1, 1:] - x[:, :, :-1, :-1], "
            "down = x[:, :, 1:, :-1] - x[:, :, :-1, :-1]")
    same_pixel = (f"your two differences are not taken at the same pixel (i, j). {both}.")
    pad = ("The formula has no terms beyond the image's edge: only pixels with both a right and "
           f"a lower neighbour count. {both}.")
    channels = ("your TV takes differences across the channels (dimension 1 of (N, C, H, W)) as "
                "if they were a spatial axis: this is the bug of a popular public "
                "implementation (pytorch-cnn-visualizations by U. Ozbulak). The two axes are the height and the width (dims 2 and 3); each "
                "colour channel is treated separately.")
    mean = (f"you took the mean instead of the sum over pixels and channels: TV_beta is a sum. "
            f"{both}.")
    mistakes = [
        Mistake("width only", f"your TV uses one axis only: the differences along the width "
                f"(x[i, j+1] - x[i, j]). {both}.", lambda c: _one_axis(x(c), beta(c), 3)),
        Mistake("height only", f"your TV uses one axis only: the differences along the height "
                f"(x[i+1, j] - x[i, j]). {both}.", lambda c: _one_axis(x(c), beta(c), 2)),
        Mistake("channel axis", channels, lambda c: _tv(x(c), beta(c), dims=(1, 2))),
        Mistake("channel axis", channels, lambda c: _tv(x(c), beta(c), dims=(1, 3))),
        Mistake("no exponent", "the exponent beta is missing (or you always use beta = 2): you "
                "summed the squared differences without raising them to the power beta/2, "
                "which is right only for beta = 2.", lambda c: _tv(x(c), beta(c), power=1.0)),
        Mistake("power beta", "you raised to the power beta instead of beta/2: the inner sum is "
                "of squared differences, so (dx^2 + dy^2)^(beta/2) gives |gradient|^beta.",
                lambda c: _tv(x(c), beta(c), power=beta(c))),
        Mistake("anisotropic", "you raised each difference to the power separately, |dx|^beta + "
                "|dy|^beta (the anisotropic TV). Mahendran & Vedaldi first add the two squares "
                "at each pixel and then raise the sum to beta/2.",
                lambda c: _tv(x(c), beta(c), together=False)),
        Mistake("not paired", "you summed the horizontal and vertical differences over all rows "
                f"and columns separately. {both}.", lambda c: _tv(x(c), beta(c), crop=False)),
        Mistake("not paired+no exponent", "you summed the horizontal and vertical differences "
                "over all rows and columns separately, and the exponent beta is missing. "
                f"{both}.", lambda c: _tv(x(c), beta(c), crop=False, power=1.0)),
        Mistake("backward", "you paired the two differences at the lower-right pixel (backward "
                f"differences, x[i+1, j+1] - x[i+1, j] and x[i+1, j+1] - x[i, j+1]). {both}.",
                lambda c: _shifted(x(c), beta(c), "backward")),
        Mistake("off by one", same_pixel, lambda c: _shifted(x(c), beta(c), "down shifted")),
        Mistake("off by one", same_pixel, lambda c: _shifted(x(c), beta(c), "right shifted")),
        Mistake("diagonal", "you took one diagonal difference, x[i+1, j+1] - x[i, j], instead of "
                f"two differences to the right and to the lower neighbour. {both}.",
                lambda c: _shifted(x(c), beta(c), "diagonal")),
        Mistake("square of sum", "you squared the sum of the two differences, (dx + dy)^2; TV "
                f"adds their squares, dx^2 + dy^2. {both}.",
                lambda c: _shifted(x(c), beta(c), "square of sum")),
        Mistake("zero padded", "you padded the image with zeros (F.pad) and took differences at "
                "every pixel: the border pixels then count their full value as an edge. " + pad,
                lambda c: _padded(x(c), beta(c), "zeros")),
        Mistake("edge padded", "you padded the image by repeating its last row and column and "
                "took differences at every pixel: the last row and column add terms with one "
                "difference only. " + pad, lambda c: _padded(x(c), beta(c), "replicate")),
        Mistake("circular", "you took differences with torch.roll, which wraps around: the last "
                "column is compared with the first and the last row with the top one. " + pad,
                lambda c: _padded(x(c), beta(c), "circular")),
        *[Mistake("eps", "your TV is not 0 on a flat image: an eps added inside the power adds "
                  "eps^(beta/2) at every pixel (0.0001 per pixel for eps = 1e-8 and beta = 1). "
                  "Leave the eps out (the inversion uses beta = 2, where the power is smooth), "
                  "or subtract eps^(beta/2) again.", lambda c, e=eps: _tv_eps(x(c), beta(c), e))
          for eps in (1e-12, 1e-10, 1e-8, 1e-6, 1e-4)],
        Mistake("mean", mean, lambda c: c.want / (x(c)[0, :, 1:, 1:].numel())),
        Mistake("mean", mean, lambda c: c.want / x(c)[0].numel()),
        Mistake("batch sum", "your function returns one number for the whole batch: return one "
                "value per image, shape (N,) (sum over dims 1, 2, 3 only).",
                lambda c: c.want.sum()),
        Mistake("channels apart", "you summed over the pixels but not over the colour channels: "
                "shape (N, C) instead of (N,).",
                lambda c: _terms(beta(c), *_differences(x(c))).sum((2, 3))),
    ]
    return Spec(("x", "beta"), "one value per image, a tensor of shape (N,)", cases, mistakes,
                rtol=1e-4, atol=2e-5)


def check_total_variation(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> None:
    """``fn(x, beta)`` must return Mahendran & Vedaldi's ``TV_beta`` per image, shape (N,):
    ``sum_c sum_ij ((x[i, j+1] - x[i, j])^2 + (x[i+1, j] - x[i, j])^2)^(beta/2)``."""
    spec = tv_spec()
    run(fn, spec)
    correct(f"{name_of(fn)} is TV_beta over both spatial axes per image on all "
            f"{len(spec.cases)} test cases (beta = {', '.join(f'{b:g}' for b in BETAS)}; flat "
            f"images, ties and negative values included)")

"""The image priors of lecturekit.optimise.regularisers against hand-computed values."""

import math
import re

import pytest
import torch

from lecturekit.optimise.priors import PRIORS, get_prior, prior_term
from lecturekit.filters import gaussian_blur, gaussian_kernel
from lecturekit.optimise.regularisers import (alpha_norm, haar_wavelet, low_pass_penalty,
                                              total_variation, wavelet_sparsity)

REGULARISERS = {"alpha_norm": alpha_norm, "total_variation": total_variation,
                "low_pass": low_pass_penalty, "wavelet": wavelet_sparsity}

DTYPES = [torch.float32, torch.float64]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def img(rows, dtype=torch.float64):
    """One single-channel image (1, 1, H, W) from nested lists."""
    return torch.tensor(rows, dtype=dtype)[None, None]


# --------------------------------------------------------------------------- alpha-norm

@pytest.mark.parametrize("dtype", DTYPES)
def test_alpha_norm_by_hand(dtype):
    x = img([[1, -1, 0], [2, 0, 0], [0, 0, -1]], dtype)
    # alpha = 2: 1 + 1 + 4 + 1 = 7
    assert alpha_norm(x, alpha=2).item() == pytest.approx(7)
    # alpha = 6: 1 + 1 + 2^6 + 1 = 67
    assert alpha_norm(x, alpha=6).item() == pytest.approx(67)
    assert alpha_norm(x).item() == pytest.approx(67)          # default alpha = 6
    # alpha = 3: |-1|^3 + ... = 1 + 1 + 8 + 1 = 11 (absolute value, not x^3)
    assert alpha_norm(x, alpha=3).item() == pytest.approx(11)
    assert alpha_norm(x).dtype == dtype


# --------------------------------------------------------------------------- total variation

TV_IMAGE = [[0, 1, 3],
            [2, 2, 2],
            [5, 0, 1]]
# Pixels with i < 2 and j < 2; dx = x[i, j+1] - x[i, j], dy = x[i+1, j] - x[i, j]:
#   (0,0): dx = 1 - 0 = 1,  dy = 2 - 0 = 2   -> d = 1 + 4 = 5
#   (0,1): dx = 3 - 1 = 2,  dy = 2 - 1 = 1   -> d = 4 + 1 = 5
#   (1,0): dx = 2 - 2 = 0,  dy = 5 - 2 = 3   -> d = 0 + 9 = 9
#   (1,1): dx = 2 - 2 = 0,  dy = 0 - 2 = -2  -> d = 0 + 4 = 4
# beta = 2: 5 + 5 + 9 + 4 = 23
# beta = 1: sqrt(5) + sqrt(5) + 3 + 2 = 5 + 2 sqrt(5)
# beta = 4: 25 + 25 + 81 + 16 = 147


@pytest.mark.parametrize("dtype", DTYPES)
def test_total_variation_by_hand(dtype):
    x = img(TV_IMAGE, dtype)
    assert total_variation(x, beta=2).item() == pytest.approx(23)
    assert total_variation(x).item() == pytest.approx(23)      # default beta = 2
    assert total_variation(x, beta=4).item() == pytest.approx(147)
    assert total_variation(x, beta=1, eps=0).item() == pytest.approx(5 + 2 * math.sqrt(5))
    # with the default eps each of the 4 terms moves by at most sqrt(1e-8) = 1e-4
    # (float32 loses the eps in d + eps and moves each term by exactly that much)
    assert total_variation(x, beta=1).item() == pytest.approx(5 + 2 * math.sqrt(5), abs=5e-4)
    assert total_variation(x).dtype == dtype


def test_total_variation_sums_channels_by_hand():
    # 1 x 2 x 2 x 3: one row of valid pixels (i = 0), j = 0, 1, per channel.
    x = torch.tensor([[[[0, 1, 3], [1, 1, 1]],
                       [[2, 2, 2], [2, 2, 5]]]], dtype=torch.float64)
    # channel 0: (0,0) dx = 1, dy = 1 -> 2;  (0,1) dx = 2, dy = 0 -> 4;  sum 6
    # channel 1: (0,0) dx = 0, dy = 0 -> 0;  (0,1) dx = 0, dy = 0 -> 0;  sum 0
    # (the 5 at (1,2) is in no difference: i = 1 and j = 2 are both last)
    assert total_variation(x).item() == pytest.approx(6)


def test_total_variation_differences_both_spatial_axes_not_channels():
    n, c, h, w = 1, 3, 3, 3
    ramp = torch.arange(3, dtype=torch.float64)
    along_w = ramp.view(1, 1, 1, w).expand(n, c, h, w)          # x[c, i, j] = j
    along_h = ramp.view(1, 1, h, 1).expand(n, c, h, w)          # x[c, i, j] = i
    along_c = ramp.view(1, c, 1, 1).expand(n, c, h, w)          # x[c, i, j] = c
    # along W: 4 valid pixels per channel, each dx = 1, dy = 0 -> 4 per channel, 12 in all;
    # along H: the same with dy = 1.  A TV over one spatial axis only gives 0 for one of them;
    # a TV that differences channel x height (the public-repo bug) gives 0 along W.
    assert total_variation(along_w).item() == pytest.approx(12)
    assert total_variation(along_h).item() == pytest.approx(12)
    # constant within every channel, different across channels: no spatial variation at all,
    # so 0; a TV over the channel axis would give a positive value here.
    assert total_variation(along_c).item() == 0


def test_total_variation_of_tiny_images_is_zero():
    assert total_variation(torch.randn(2, 3, 1, 5)).tolist() == [0, 0]
    assert total_variation(torch.randn(2, 3, 5, 1), beta=1).tolist() == [0, 0]


def test_total_variation_beta_below_two_is_exactly_zero_on_flat_images():
    x = torch.full((2, 3, 4, 4), 0.7, requires_grad=True)
    tv = total_variation(x, beta=1)
    assert tv.tolist() == [0, 0]
    tv.sum().backward()
    assert torch.isfinite(x.grad).all()


# --------------------------------------------------------------------------- Gaussian low pass

def test_gaussian_blur_impulse_is_the_separable_kernel():
    x = torch.zeros(1, 1, 9, 9, dtype=torch.float64)
    x[0, 0, 4, 4] = 1
    # sigma = 1: radius ceil(3) = 3, weights exp(-k^2 / 2) for k = -3..3, normalised
    k = torch.arange(-3, 4, dtype=torch.float64)
    w = torch.exp(-k ** 2 / 2)
    w = w / w.sum()
    expected = torch.zeros(9, 9, dtype=torch.float64)
    expected[1:8, 1:8] = torch.outer(w, w)
    torch.testing.assert_close(gaussian_blur(x, 1.0)[0, 0], expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gaussian_blur_keeps_constants_shape_and_dtype(dtype):
    x = torch.full((2, 3, 5, 4), 1.5, dtype=dtype)
    for sigma in (0.5, 1.0, 3.0):                  # radius 9 > image size: reflection folds
        y = gaussian_blur(x, sigma)
        assert y.shape == x.shape and y.dtype == dtype
        torch.testing.assert_close(y, x)


@pytest.mark.parametrize("dtype", DTYPES)
def test_low_pass_penalty_by_hand(dtype):
    # Every row is [0, 3, 0]; sigma = 1/3 gives radius ceil(1) = 1 and weights
    # [q, 1, q] / (1 + 2q) with q = exp(-1 / (2 sigma^2)) = exp(-4.5).
    # Vertical blur: columns are constant, reflect padding keeps them -> no change.
    # Horizontal blur, reflect padding makes [3 | 0 3 0 | 3]:
    #   j = 0: (3q + 0 + 3q) / (1+2q) = 6q/(1+2q)   residual -6q/(1+2q)
    #   j = 1: (0 + 3 + 0) / (1+2q)    = 3/(1+2q)    residual 3 - 3/(1+2q) = 6q/(1+2q)
    #   j = 2: like j = 0
    # penalty = 9 pixels * (6q/(1+2q))^2 = 324 q^2 / (1+2q)^2
    x = img([[0, 3, 0]] * 3, dtype)
    q = math.exp(-4.5)
    expected = 324 * q * q / (1 + 2 * q) ** 2
    assert low_pass_penalty(x, sigma=1 / 3).item() == pytest.approx(expected, rel=1e-5)
    assert low_pass_penalty(torch.full((1, 3, 4, 4), 2.0, dtype=dtype)).item() == \
        pytest.approx(0, abs=1e-10)


# --------------------------------------------------------------------------- Haar wavelets

def test_haar_one_level_by_hand():
    x = img([[4, 2], [1, 3]])
    # a=4 b=2 c=1 d=3: approx (a+b+c+d)/2 = 5; details (a-b+c-d)/2 = 0, (a+b-c-d)/2 = 1,
    # (a-b-c+d)/2 = 2 -> L1 = 3.  Energy: 16+4+1+9 = 30 = 25+0+1+4.
    approx, details = haar_wavelet(x, 1)
    assert approx.flatten().tolist() == [5]
    assert len(details) == 1 and details[0].shape == (1, 1, 3, 1, 1)
    assert details[0].flatten().tolist() == [0, 1, 2]
    assert wavelet_sparsity(x, levels=1).item() == 3


def test_wavelet_sparsity_two_levels_by_hand():
    x = img([[2, 0, 3, 3],
             [1, 1, 3, 3],
             [5, 5, 7, 7],
             [5, 5, 7, 7]])
    # level 1: top-left block [[2,0],[1,1]] -> details (2-0+1-1)/2 = 1, (2+0-1-1)/2 = 0,
    #   (2-0-1+1)/2 = 1; the other blocks are constant -> 0.  Approx [[2, 6], [10, 14]].
    # level 2 on a=2 b=6 c=10 d=14: (2-6+10-14)/2 = -4, (2+6-10-14)/2 = -8,
    #   (2-6-10+14)/2 = 0; approx 32/2 = 16 (not penalised).
    # L1 = (1 + 0 + 1) + (4 + 8 + 0) = 14
    approx, details = haar_wavelet(x, 2)
    assert approx.flatten().tolist() == [16]
    assert [d.shape for d in details] == [(1, 1, 3, 2, 2), (1, 1, 3, 1, 1)]
    assert details[1].flatten().tolist() == [-4, -8, 0]
    assert wavelet_sparsity(x, levels=2).item() == 14
    assert wavelet_sparsity(x).item() == 14                   # default levels = 2


@pytest.mark.parametrize("dtype", DTYPES)
def test_haar_is_orthonormal(dtype):
    x = torch.randn(2, 3, 8, 16, generator=torch.Generator().manual_seed(0), dtype=dtype)
    approx, details = haar_wavelet(x, 3)
    energy = approx.square().sum(dim=(1, 2, 3)) + sum(d.square().sum(dim=(1, 2, 3, 4))
                                                      for d in details)
    torch.testing.assert_close(energy, x.square().sum(dim=(1, 2, 3)))
    assert approx.shape == (2, 3, 1, 2)
    assert [d.shape for d in details] == [(2, 3, 3, 4, 8), (2, 3, 3, 2, 4), (2, 3, 3, 1, 2)]


def test_wavelet_needs_divisible_size():
    with pytest.raises(ValueError, match=re.escape(
            "levels=2 needs H and W divisible by 2**levels = 4, got x of shape (1, 1, 6, 8)")):
        wavelet_sparsity(torch.zeros(1, 1, 6, 8), levels=2)
    with pytest.raises(ValueError, match="divisible by 2"):
        haar_wavelet(torch.zeros(1, 1, 4, 3), 1)


# --------------------------------------------------------------------------- all regularisers

CASES = [
    ("alpha_norm", {"alpha": 6.0}),
    ("alpha_norm", {"alpha": 2.0}),
    ("total_variation", {"beta": 2.0}),
    ("total_variation", {"beta": 1.0}),
    ("total_variation", {"beta": 0.5}),
    ("low_pass", {"sigma": 0.7}),
    ("wavelet", {"levels": 2}),
]


@pytest.mark.parametrize("name,kwargs", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
def test_one_value_per_image(name, kwargs, dtype, device):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 3, 8, 8, generator=g, dtype=dtype).to(device)
    r = REGULARISERS[name](x, **kwargs)
    assert r.shape == (3,) and r.dtype == dtype and r.device == x.device
    singles = torch.cat([REGULARISERS[name](x[i:i + 1], **kwargs) for i in range(3)])
    torch.testing.assert_close(r, singles)


@pytest.mark.parametrize("name,kwargs", CASES)
def test_gradcheck_float64(name, kwargs):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 2, 4, 4, generator=g, dtype=torch.float64, requires_grad=True)
    fn = REGULARISERS[name]
    assert torch.autograd.gradcheck(lambda t: fn(t, **kwargs), (x,))


def test_gradcheck_gaussian_blur():
    x = torch.randn(1, 2, 5, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: gaussian_blur(t, 0.8), (x,))


@pytest.mark.parametrize("name,kwargs", CASES + [("alpha_norm", {"alpha": 1.0})])
def test_finite_gradient_at_zero_and_flat_images(name, kwargs):
    for value in (0.0, 0.5):
        x = torch.full((2, 3, 4, 4), value, requires_grad=True)
        REGULARISERS[name](x, **kwargs).sum().backward()
        assert torch.isfinite(x.grad).all()


# --------------------------------------------------------------------------- the priors table

def test_priors_table_names_the_lecture_priors():
    assert list(PRIORS) == ["l2", "alpha", "tv", "low_pass", "wavelet"]
    tv, l2 = get_prior("tv"), get_prior("l2")
    assert tv.function is total_variation and tv.options["beta"].default == 2
    assert l2.function is alpha_norm and l2.options == {} and l2.fixed == {"alpha": 2}
    for prior in PRIORS.values():  # every option's default lies in its slider's range
        assert all(o.low <= o.default <= o.high for o in prior.options.values()), prior.name
        low, middle, deep = prior.inversion_weights
        assert 0 < low <= middle <= deep, prior.name
    with pytest.raises(ValueError, match=re.escape(
            "unknown prior 'total_variation'; valid: l2, alpha, tv, low_pass, wavelet")):
        get_prior("total_variation")


@pytest.mark.parametrize("name,function,options", [
    ("l2", alpha_norm, {}), ("alpha", alpha_norm, {"alpha": 6.0}),
    ("tv", total_variation, {"beta": 1.5}), ("low_pass", low_pass_penalty, {"sigma": 0.7}),
    ("wavelet", wavelet_sparsity, {"levels": 1})])
def test_prior_penalty_is_the_regulariser_of_the_scaled_image_per_value(name, function, options):
    """R(x / scale) / n: the scaling every method shares (Mahendran & Vedaldi's B^2)."""
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    want = function(x / 1.7, **(options or {"alpha": 2.0})) / (3 * 8 * 8)
    torch.testing.assert_close(get_prior(name).penalty(1.7, **options)(x), want)
    term = prior_term(name, 0.5, 1.7, **options)
    assert term.name == name and term.weight == 0.5
    torch.testing.assert_close(term.function(x), want)


def test_prior_options_are_checked():
    with pytest.raises(TypeError, match="the tv prior takes no option sigma; valid options: beta"):
        get_prior("tv").penalty(sigma=1.0)
    with pytest.raises(ValueError, match="scale must be a number > 0, got scale=0"):
        get_prior("l2").penalty(0)


def test_gaussian_kernel_is_the_one_kernel():
    kernel = gaussian_kernel(7, 1.0)
    assert kernel.shape == (7,) and float(kernel.sum()) == pytest.approx(1.0)
    assert torch.allclose(kernel, kernel.flip(0)) and int(kernel.argmax()) == 3
    with pytest.raises(ValueError, match="size must be a whole number that is odd"):
        gaussian_kernel(4, 1.0)


@pytest.mark.parametrize("call,match", [
    (lambda x: alpha_norm(x, alpha=0.5), r"alpha must be >= 1, got alpha=0\.5"),
    (lambda x: alpha_norm(x, alpha=float("nan")), r"alpha must be >= 1"),
    (lambda x: total_variation(x, beta=0), r"beta must be > 0, got beta=0"),
    (lambda x: total_variation(x, beta=-1), r"beta must be > 0, got beta=-1"),
    (lambda x: total_variation(x, beta=1, eps=-1e-3), r"eps must be >= 0"),
    (lambda x: low_pass_penalty(x, sigma=0), r"sigma must be > 0, got sigma=0"),
    (lambda x: gaussian_blur(x, -2), r"sigma must be > 0, got sigma=-2"),
    (lambda x: wavelet_sparsity(x, levels=0), r"levels must be a whole number >= 1, got levels=0"),
    (lambda x: haar_wavelet(x, 1.5), r"levels must be a whole number >= 1, got levels=1\.5"),
])
def test_bad_parameters(call, match):
    with pytest.raises(ValueError, match=match):
        call(torch.zeros(1, 3, 8, 8))


@pytest.mark.parametrize("fn", list(REGULARISERS.values()) + [gaussian_blur])
def test_x_must_be_a_4d_float_batch(fn):
    args = (1.0,) if fn is gaussian_blur else ()
    with pytest.raises(ValueError, match=re.escape("x must be a 4-D batch of shape (N, C, H, W), "
                                                   "got shape (3, 8, 8)")):
        fn(torch.zeros(3, 8, 8), *args)
    with pytest.raises(ValueError, match="floating-point"):
        fn(torch.zeros(1, 3, 8, 8, dtype=torch.int64), *args)

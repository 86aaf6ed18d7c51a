"""The robustness transforms of lecturekit.optimise.transforms."""

import pytest
import torch

from lecturekit.optimise.transforms import (Compose, Jitter, Pad, RandomRotate, RandomScale, rescale,
                                   rotate, standard_robustness)

DTYPES = [torch.float32, torch.float64]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def batch(shape=(2, 3, 16, 20), dtype=torch.float32, seed=123):
    return torch.randn(*shape, generator=gen(seed), dtype=dtype)


SHAPE_KEEPING = [
    lambda: Jitter(3),
    lambda: RandomScale(0.5, 0.7),
    lambda: RandomScale(1.3, 1.6),
    lambda: RandomScale(0.9, 1.1, fill="zeros"),
    lambda: RandomRotate(30),
    lambda: RandomRotate(30, fill="zeros"),
    lambda: Compose([Jitter(2), RandomScale(0.9, 1.1), RandomRotate(10), Jitter(1)]),
]


@pytest.mark.parametrize("make", SHAPE_KEEPING)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
def test_shape_dtype_device_kept(make, dtype, device):
    x = batch(dtype=dtype).to(device)
    y = make()(x, gen())
    assert y.shape == x.shape and y.dtype == dtype and y.device == x.device


def test_pad_and_standard_robustness_grow_by_the_padding():
    x = batch((2, 3, 10, 12))
    assert Pad(3)(x).shape == (2, 3, 16, 18)
    assert Pad(3, mode="constant")(x, gen()).shape == (2, 3, 16, 18)
    assert standard_robustness()(x, gen()).shape == (2, 3, 34, 36)


def test_pad_modes_by_hand():
    x = torch.tensor([[[[1.0, 2.0, 3.0]]]])
    # reflect mirrors without repeating the edge: [3 2 | 1 2 3 | 2 1]; rows likewise (H = 1
    # mirrors onto itself)
    assert Pad(2)(x)[0, 0, 2].tolist() == [3, 2, 1, 2, 3, 2, 1]
    assert Pad(1, mode="replicate")(x)[0, 0, 1].tolist() == [1, 1, 2, 3, 3]
    assert Pad(1, mode="constant", value=-1.0)(x)[0, 0].tolist() == [[-1] * 5,
                                                                     [-1, 1, 2, 3, -1],
                                                                     [-1] * 5]


@pytest.mark.parametrize("make", SHAPE_KEEPING + [standard_robustness])
def test_same_seed_same_output(make):
    x = batch()
    torch.testing.assert_close(make()(x, gen(7)), make()(x, gen(7)), rtol=0, atol=0)


def test_different_seeds_differ():
    x = batch()
    t = standard_robustness()
    assert not torch.equal(t(x, gen(1)), t(x, gen(2)))


@pytest.mark.parametrize("make", SHAPE_KEEPING + [standard_robustness])
def test_one_draw_for_the_whole_batch(make):
    one = batch((1, 3, 16, 20))
    y = make()(one.expand(3, -1, -1, -1), gen(5))
    torch.testing.assert_close(y[0], y[1], rtol=0, atol=0)
    torch.testing.assert_close(y[0], y[2], rtol=0, atol=0)


def test_jitter_rolls_by_last_shift_and_undo_restores_exactly():
    x = batch()
    j = Jitter(4)
    g = gen(3)
    seen = set()
    for _ in range(60):
        y = j(x, g)
        dy, dx = j.last_shift
        assert -4 <= dy <= 4 and -4 <= dx <= 4
        seen.update((dy, dx))
        assert torch.equal(y, torch.roll(x, (dy, dx), dims=(2, 3)))
        assert torch.equal(j.undo(y), x)
    assert {-4, 4} <= seen                      # both ends of the range are drawn


def test_jitter_undo_needs_a_call_first():
    with pytest.raises(RuntimeError, match="last_shift"):
        Jitter(2).undo(batch())


@pytest.mark.parametrize("dtype", DTYPES)
def test_rotation_by_zero_and_scale_by_one_are_identity(dtype):
    x = batch(dtype=dtype)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(rotate(x, 0.0), x, rtol=0, atol=tol)
    torch.testing.assert_close(RandomRotate(0)(x, gen()), x, rtol=0, atol=tol)
    assert torch.equal(rescale(x, 1.0), x)
    assert torch.equal(RandomScale(1.0, 1.0)(x, gen()), x)
    assert torch.equal(Jitter(0)(x, gen()), x)


def test_rotate_90_is_rot90_anticlockwise():
    x = torch.zeros(1, 1, 5, 5, dtype=torch.float64)
    x[0, 0, 2, 4] = 1                            # right of the centre ...
    y = rotate(x, 90.0)
    assert y[0, 0, 0, 2].item() == pytest.approx(1)   # ... moves above it
    x = batch((2, 3, 7, 7), torch.float64)
    torch.testing.assert_close(rotate(x, 90.0), torch.rot90(x, 1, dims=(2, 3)))


def test_rescale_keeps_the_centre():
    x = torch.ones(1, 1, 8, 8)
    # half size: a 4 x 4 image of ones in the middle, zero padding around it
    y = rescale(x, 0.5, fill="zeros")
    assert y[0, 0, 2:6, 2:6].eq(1).all() and y.sum().item() == 16
    torch.testing.assert_close(rescale(x, 0.5), x)            # reflect keeps a constant
    # double size: the centre crop of a 16 x 16 upsampling of a centred 2 x 2 block
    x = torch.zeros(1, 1, 8, 8, dtype=torch.float64)
    x[0, 0, 3:5, 3:5] = 1
    y = rescale(x, 2.0)
    torch.testing.assert_close(y, torch.flip(y, dims=(2, 3)))  # still symmetric about the centre
    assert y[0, 0, 0].abs().max().item() == 0 and y[0, 0, 3:5, 3:5].min().item() == 1


@pytest.mark.parametrize("make", SHAPE_KEEPING + [standard_robustness, lambda: Pad(2)])
def test_gradients_reach_the_input(make):
    x = batch().requires_grad_(True)
    y = make()(x, gen(11))
    (y * torch.randn(y.shape, generator=gen(12))).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_gradcheck_rotate_and_rescale():
    x = batch((1, 2, 5, 6), torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: rotate(t, 17.0), (x,))
    assert torch.autograd.gradcheck(lambda t: rescale(t, 1.4), (x,))
    assert torch.autograd.gradcheck(lambda t: rescale(t, 0.6), (x,))


def test_standard_robustness_is_olahs_recipe():
    t = standard_robustness()
    assert repr(t) == ("Compose([Pad(pixels=12, mode='constant', value=0.0), Jitter(max_shift=8), "
                       "RandomScale(low=0.9, high=1.1, fill='reflect'), "
                       "RandomRotate(max_degrees=10.0, fill='reflect'), Jitter(max_shift=4)])")


@pytest.mark.parametrize("make", [lambda: Jitter(2), lambda: RandomScale(0.9, 1.1),
                                  lambda: RandomRotate(5), standard_robustness])
def test_random_transforms_need_a_generator(make):
    with pytest.raises(TypeError, match="torch.Generator"):
        make()(batch())


@pytest.mark.parametrize("make,match", [
    (lambda: Jitter(-1), r"max_shift must be a whole number >= 0, got max_shift=-1"),
    (lambda: Jitter(1.5), r"max_shift must be a whole number >= 0, got max_shift=1\.5"),
    (lambda: RandomScale(0, 1), r"low must be > 0, got low=0"),
    (lambda: RandomScale(1.2, 1.1), r"high must be >= low \(1\.2\), got high=1\.1"),
    (lambda: RandomScale(0.9, 1.1, fill="wrap"), r"fill must be one of .*got fill='wrap'"),
    (lambda: RandomRotate(-5), r"max_degrees must be between 0 and 180, got max_degrees=-5"),
    (lambda: RandomRotate(float("inf")), r"max_degrees must be between 0 and 180"),
    (lambda: Pad(-2), r"pixels must be a whole number >= 0, got pixels=-2"),
    (lambda: Pad(2, mode="circular"), r"mode must be one of .*got mode='circular'"),
    (lambda: Compose([Jitter(1), 3]), r"transforms\[1\]=3"),
    (lambda: rescale(batch(), 0), r"factor must be > 0, got factor=0"),
    (lambda: rotate(batch(), 5, fill="nearest"), r"fill must be one of"),
])
def test_bad_parameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_x_must_be_a_4d_float_batch():
    with pytest.raises(ValueError, match=r"4-D batch .* got shape \(3, 8, 8\)"):
        Jitter(1)(torch.zeros(3, 8, 8), gen())
    with pytest.raises(ValueError, match="floating-point"):
        RandomRotate(5)(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), gen())

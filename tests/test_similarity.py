"""SSIM (Wang et al. 2004) and PSNR of lecturekit.similarity."""

import math

import pytest
import torch

from lecturekit.similarity import edge_concentration, psnr, ssim
from lecturekit.filters import gaussian_kernel


def _pair(seed=0, shape=(2, 3, 40, 48), noise=0.2):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=g, dtype=torch.float64)
    y = (x + noise * torch.randn(shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    return x, y


def test_identical_images_give_one():
    x, _ = _pair()
    assert torch.allclose(ssim(x, x), torch.ones(2, dtype=torch.float64), atol=1e-12)


def test_constant_images_by_hand():
    # Two flat images: variances and covariance vanish, so
    # SSIM = (2 a b + C1) / (a^2 + b^2 + C1) * C2 / C2.
    a, b = 0.2, 0.6
    x = torch.full((1, 1, 16, 16), a, dtype=torch.float64)
    y = torch.full((1, 1, 16, 16), b, dtype=torch.float64)
    c1 = 0.01 ** 2
    expected = (2 * a * b + c1) / (a * a + b * b + c1)
    assert ssim(x, y).item() == pytest.approx(expected, abs=1e-12)


def test_window_sums_to_one_and_is_symmetric():
    w = gaussian_kernel(11, 1.5)
    assert w.sum().item() == pytest.approx(1.0)
    assert torch.allclose(w, w.flip(0))


def test_noise_lowers_ssim_and_is_symmetric_in_its_arguments():
    x, y = _pair(noise=0.05)
    _, z = _pair(noise=0.3)
    assert (ssim(x, y) > ssim(x, z)).all()
    assert torch.allclose(ssim(x, y), ssim(y, x))


def test_matches_scikit_image():
    metrics = pytest.importorskip("skimage.metrics")
    x, y = _pair(seed=3)
    ours = ssim(x, y)
    for i in range(x.shape[0]):
        theirs = metrics.structural_similarity(
            x[i].permute(1, 2, 0).numpy(), y[i].permute(1, 2, 0).numpy(),
            gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0,
            channel_axis=-1)
        assert ours[i].item() == pytest.approx(theirs, abs=1e-3)


def test_psnr_by_hand_and_cap():
    x = torch.zeros(1, 3, 8, 8)
    y = torch.full((1, 3, 8, 8), 0.1)
    assert psnr(x, y).item() == pytest.approx(10 * math.log10(1 / 0.01), rel=1e-6)
    assert psnr(x, x).item() == pytest.approx(100.0)


def test_errors_name_the_problem():
    x, y = _pair()
    with pytest.raises(ValueError, match="same shape"):
        ssim(x, y[:, :, :20])
    with pytest.raises(ValueError, match="at least 11"):
        ssim(x[..., :8, :8], y[..., :8, :8])
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        psnr(x[0], y[0])
    with pytest.raises(ValueError, match="odd"):
        gaussian_kernel(10, 1.5)


def test_edge_concentration_by_hand():
    # a vertical step edge: only the pixels beside the step change; the reference's edge
    # is the step column, so a sharp copy concentrates all its change there
    step = torch.zeros(1, 1, 8, 8)
    step[..., 4:] = 1.0
    blurred = step.clone()
    blurred[..., 3], blurred[..., 4] = 1 / 3, 2 / 3
    noise = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    sharp = float(edge_concentration(step, step, fraction=7 / 49))
    soft = float(edge_concentration(blurred, step, fraction=7 / 49))
    assert sharp > 1e9, "all change on the edge, none elsewhere"
    # blurred: 1/3 on the 7 edge pixels, 1/3 on the 14 beside them, 0 on the other 28
    assert soft == pytest.approx((1 / 3) / (14 / 3 / 42))
    assert float(edge_concentration(noise, step, fraction=7 / 49)) < 2


def test_edge_concentration_errors_name_the_argument():
    x = torch.rand(1, 3, 8, 8)
    with pytest.raises(ValueError, match="fraction"):
        edge_concentration(x, x, fraction=1.5)
    with pytest.raises(ValueError, match="same shape"):
        edge_concentration(x, torch.rand(1, 3, 8, 9))


# --------------------------------------------------------------------------- rank correlation

def test_rank_correlation_of_a_known_pair_by_hand():
    from lecturekit.similarity import rank_correlation
    # ranks of x: 0, 1, 2, 3; of y: 1, 0, 3, 2; d = 1, 1, 1, 1: rho = 1 - 6 * 4 / (4 * 15) = 0.6
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    y = torch.tensor([[20.0, 10.0, 40.0, 30.0]])
    assert rank_correlation(x, y).item() == pytest.approx(0.6, abs=1e-12)
    assert rank_correlation(x, -x).item() == pytest.approx(-1.0, abs=1e-12)
    assert rank_correlation(x, x.exp()).item() == pytest.approx(1.0, abs=1e-12)  # order only


def test_rank_correlation_averages_ties_and_matches_scipy():
    from lecturekit.similarity import rank_correlation, ranks
    stats = pytest.importorskip("scipy.stats")
    assert ranks(torch.tensor([[3.0, 1.0, 1.0, 2.0]])).tolist() == [[3.0, 0.5, 0.5, 2.0]]
    g = torch.Generator().manual_seed(5)
    x = torch.randint(0, 6, (3, 2, 9, 7), generator=g).float()  # many ties
    y = x + torch.randint(0, 4, x.shape, generator=g).float()
    ours = rank_correlation(x, y)
    for i in range(3):
        theirs = stats.spearmanr(x[i].flatten().numpy(), y[i].flatten().numpy())[0]
        assert ours[i].item() == pytest.approx(theirs, abs=1e-10)


def test_rank_correlation_of_a_constant_map_is_nan_and_errors_name_the_argument():
    from lecturekit.similarity import rank_correlation
    assert torch.isnan(rank_correlation(torch.zeros(1, 5), torch.rand(1, 5))).all()
    with pytest.raises(ValueError, match=r"x and y must have the same shape.*\(2, 5\).*\(2, 4\)"):
        rank_correlation(torch.rand(2, 5), torch.rand(2, 4))
    with pytest.raises(ValueError, match=r"y must have shape \(N, \.\.\.\).*\(5,\)"):
        rank_correlation(torch.rand(1, 5), torch.rand(5))
    with pytest.raises(ValueError, match="x must hold finite numbers only"):
        rank_correlation(torch.tensor([[1.0, float("nan")]]), torch.rand(1, 2))


def test_sobel_edges_by_hand():
    from lecturekit.filters import sobel_edges
    step = torch.zeros(1, 3, 6, 6)
    step[:, 1, :, 3:] = 1.0  # a vertical edge in the green channel only
    edges = sobel_edges(step)
    assert edges.shape == (1, 6, 6)
    # the Sobel kernel [1, 2, 1]^T [-1, 0, 1] across a unit step: 1 + 2 + 1 = 4 on both sides
    assert edges[0, :, 2:4].eq(4.0).all() and edges[0, :, :2].eq(0).all() and \
        edges[0, :, 4:].eq(0).all()
    assert sobel_edges(torch.full((2, 1, 5, 7), 0.3)).abs().max() < 1e-6  # flat: no edges
    with pytest.raises(ValueError, match="at least 2 x 2"):
        sobel_edges(torch.zeros(1, 3, 1, 5))

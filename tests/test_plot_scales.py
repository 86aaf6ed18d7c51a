"""The gradient figures' scales: each panel its own range, or all at one (common_scale)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lecturekit.ui.plot import show_rule_comparison, show_gradients  # noqa: E402


def _panels(figure) -> list[np.ndarray]:
    """The pictures of the figure's panels after the first (the image), as arrays."""
    arrays = [np.asarray(axis.images[-1].get_array()) for axis in figure.axes if axis.images]
    plt.close(figure)
    return arrays[1:]


@pytest.fixture()
def image() -> torch.Tensor:
    return torch.full((3, 16, 16), 0.5)


def test_heat_maps_at_one_scale_keep_their_ratio(image):
    torch.manual_seed(0)
    strong = torch.rand(16, 16)
    maps = {"strong": strong, "weak": strong / 10}
    own = _panels(show_rule_comparison(image, maps))
    common = _panels(show_rule_comparison(image, maps, common_scale=True))
    np.testing.assert_allclose(own[0], own[1], atol=1e-6)  # own scales hide the ratio
    np.testing.assert_allclose(common[0], own[0], atol=1e-6)
    unclipped = common[0] < 1
    np.testing.assert_allclose(common[1][unclipped], common[0][unclipped] / 10, atol=1e-6)


def test_signed_gradients_at_one_scale_keep_their_ratio(image):
    torch.manual_seed(0)
    g = torch.randn(2, 3, 16, 16)
    g[1] = g[0] / 10
    common = _panels(show_gradients(image, g, ["a", "b"], common_scale=True))
    own = _panels(show_gradients(image, g, ["a", "b"]))
    assert np.abs(own[1] - 0.5).max() == pytest.approx(0.5)
    assert np.abs(common[1] - 0.5).max() <= 0.5 / 10 * 1.6  # the 99th percentile scales it
    mixed = _panels(show_rule_comparison(image, {"signed": g[0], "weak signed": g[1]},
                                    common_scale=True))
    np.testing.assert_allclose(mixed[0], common[0], atol=1e-6)  # both figures: one scale
    np.testing.assert_allclose(mixed[1], common[1], atol=1e-6)

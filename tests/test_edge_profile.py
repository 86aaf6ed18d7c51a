"""The edge zoom's measures (issue 34): where the strongest edge is and the grey values
across it, checked on images whose edges are drawn by hand."""

from __future__ import annotations

import pytest
import torch

from lecturekit.measure.edge_profile import EdgeSpot, edge_profile, strongest_edge


def _step(size: int = 48, at: int = 30, vertical: bool = True) -> torch.Tensor:
    """Black left of column ``at`` (above row ``at``), white from it on; (1, 3, size, size)."""
    image = torch.zeros(1, 3, size, size)
    if vertical:
        image[..., at:] = 1.0
    else:
        image[..., at:, :] = 1.0
    return image


def test_a_vertical_step_is_found_at_its_column_and_crossed_along_a_row() -> None:
    spot = strongest_edge(_step(at=30), margin=8, sigma=0)
    assert spot.across == "row"
    assert spot.col in (29, 30)  # the central difference is largest on both sides of the jump
    assert 8 <= spot.row < 40


def test_a_horizontal_step_is_crossed_along_a_column() -> None:
    spot = strongest_edge(_step(at=20, vertical=False), margin=8, sigma=1.0)
    assert spot.across == "column"
    assert spot.row in (19, 20)


def test_the_margin_keeps_the_spot_away_from_a_stronger_edge_at_the_border() -> None:
    image = _step(at=30)
    image[..., :, :2] = 5.0  # a huge jump two pixels from the left border
    assert strongest_edge(image, margin=8, sigma=0).col in (29, 30)


def test_the_profile_reads_the_grey_values_across_the_edge() -> None:
    image = torch.zeros(2, 3, 16, 16)
    ramp = torch.arange(16, dtype=torch.float32) / 15
    image[0] = ramp  # grey value = column / 15 in every channel
    image[1, 0] = 0.3  # red only: grey value 0.1 everywhere
    profile = edge_profile(image, EdgeSpot(row=5, col=7, across="row"), half_length=3)
    assert profile.shape == (2, 7)
    assert torch.allclose(profile[0], torch.arange(4, 11, dtype=torch.float64) / 15)
    assert torch.allclose(profile[1], torch.full((7,), 0.1, dtype=torch.float64))


def test_a_column_profile_runs_top_to_bottom_and_repeats_the_border() -> None:
    image = torch.zeros(1, 3, 10, 10)
    image[0, :, :, :] = (torch.arange(10, dtype=torch.float32) / 9)[:, None]  # grey = row / 9
    profile = edge_profile(image, EdgeSpot(row=1, col=4, across="column"), half_length=3,
                           width=3)
    expected = torch.tensor([0, 0, 0, 1, 2, 3, 4], dtype=torch.float64) / 9
    assert torch.allclose(profile[0], expected)


@pytest.mark.parametrize("call, name", [
    (lambda: strongest_edge(torch.zeros(1, 3, 20, 20), margin=10), "margin"),
    (lambda: strongest_edge(torch.zeros(1, 3, 20, 20), sigma=-1.0), "sigma"),
    (lambda: edge_profile(torch.zeros(1, 3, 8, 8), EdgeSpot(2, 2, "row"), width=2), "width"),
    (lambda: edge_profile(torch.zeros(1, 3, 8, 8), EdgeSpot(9, 2, "row")), "outside"),
    (lambda: edge_profile(torch.zeros(1, 3, 8, 8), EdgeSpot(2, 2, "diagonal")), "spot"),
])
def test_bad_input_names_the_parameter(call, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call()

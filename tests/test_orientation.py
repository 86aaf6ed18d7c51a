"""The orientation measures behind the lecture's caveat for transform robustness
(issue 34): the structure tensor's direction and coherence, the share of gradient energy
near a direction and the orientation histogram, checked on stripes drawn at known angles
and on isotropic noise, and the rotation range of the kit's transforms."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from lecturekit.measure.orientation import (dominant_orientation, orientation_histogram,
                                            orientation_share, preferred_orientation)
from lecturekit.optimise.transforms import RandomRotate, robustness_for


def stripes(degrees: float, size: int = 96, period: float = 8.0) -> torch.Tensor:
    """Grey stripes whose lines run at ``degrees`` anticlockwise from the horizontal as
    displayed (row 0 on top): the intensity varies only along the normal; (1, 3, size, size)."""
    rows, cols = torch.meshgrid(torch.arange(size, dtype=torch.float64),
                                torch.arange(size, dtype=torch.float64), indexing="ij")
    x, y = cols, -rows  # y points up as displayed
    theta = math.radians(degrees)
    along_normal = -math.sin(theta) * x + math.cos(theta) * y
    grey = 0.5 + 0.5 * torch.sin(2 * math.pi * along_normal / period)
    return grey.float().expand(3, size, size)[None].clone()


def _distance(a: float, b: float) -> float:
    d = (a - b) % 180
    return min(d, 180 - d)


@pytest.mark.parametrize("degrees", [0.0, 30.0, 45.0, 90.0, 135.0, 160.0])
def test_stripes_give_their_direction_with_coherence_near_one(degrees: float) -> None:
    found = dominant_orientation(stripes(degrees))
    assert _distance(float(found.angle[0]), degrees) < 2.0
    assert float(found.coherence[0]) > 0.9


@pytest.mark.parametrize("degrees", [0.0, 45.0, 120.0])
def test_the_energy_of_stripes_lies_near_their_direction_and_not_across_it(
        degrees: float) -> None:
    image = stripes(degrees)
    assert float(orientation_share(image, degrees)[0]) > 0.9
    assert float(orientation_share(image, degrees + 90)[0]) < 0.05


def test_isotropic_noise_has_no_direction_and_a_sixth_of_its_energy_in_any_band() -> None:
    noise = torch.rand(4, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    assert float(dominant_orientation(noise).coherence.max()) < 0.1
    share = orientation_share(noise, 39.0)
    assert torch.allclose(share, torch.full_like(share, 15 / 90), atol=0.03)


def test_the_histogram_sums_to_one_and_peaks_at_the_stripes_sector() -> None:
    image = torch.cat([stripes(60.0), stripes(0.0)])
    histogram = orientation_histogram(image, bins=12)
    assert torch.allclose(histogram.sum(1), torch.ones(2, dtype=histogram.dtype))
    assert histogram.argmax(1).tolist() == [4, 0]  # 60 / 15 and 0 / 15


def test_a_flat_image_has_no_direction_and_no_energy() -> None:
    flat = torch.full((1, 3, 32, 32), 0.4)
    assert float(dominant_orientation(flat).coherence[0]) == 0.0
    assert float(orientation_share(flat, 0.0)[0]) == 0.0
    assert float(orientation_histogram(flat).sum()) == 0.0


def test_the_preferred_direction_is_the_patches_common_one_whatever_their_sizes() -> None:
    tops = [SimpleNamespace(patch=stripes(60.0, size=s)[0]) for s in (24, 40, 64)]
    preferred = preferred_orientation(tops)
    assert _distance(float(preferred.angle[0]), 60.0) < 3.0
    assert float(preferred.coherence[0]) > 0.8


def test_the_rotation_range_of_the_kits_transforms_can_be_widened_or_removed() -> None:
    photo_sized, toy_sized = SimpleNamespace(input_size=224), SimpleNamespace(input_size=128)
    for model in (photo_sized, toy_sized):
        assert not any(isinstance(t, RandomRotate) for t in robustness_for(model, 0).transforms)
        rotations = [t for t in robustness_for(model, 180).transforms
                     if isinstance(t, RandomRotate)]
        assert [t.max_degrees for t in rotations] == [180]
    default = [t.max_degrees for t in robustness_for(photo_sized).transforms
               if isinstance(t, RandomRotate)]
    assert default == [10]


@pytest.mark.parametrize("call, name", [
    (lambda: orientation_share(stripes(0.0), 0.0, tolerance=0.0), "tolerance"),
    (lambda: orientation_histogram(stripes(0.0), bins=1), "bins"),
    (lambda: dominant_orientation(torch.zeros(1, 3, 2, 2)), "3 x 3"),
    (lambda: dominant_orientation(stripes(0.0), sigma=-1.0), "sigma"),
    (lambda: preferred_orientation([]), "tops"),
    (lambda: robustness_for(SimpleNamespace(input_size=224), 200), "max_degrees"),
])
def test_bad_input_names_the_parameter(call, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call()


def test_the_caveats_report_both_experiments_on_the_toy(monkeypatch) -> None:
    """``evaluate``'s ``"caveats"`` as the CLI computes them, on the toy, made cheap: a
    collection of 12 scenes instead of 200 for the top-9 search, and both experiments at
    64 pixels with 3 steps (the same code path; the real sizes are notebook 04's and 05's)."""
    from functools import partial

    from lecturekit.examples import scene_collection
    from lecturekit.measure import caveats as module, orientation, prior_influence
    from lecturekit.models import load_model

    toy = load_model("toy", verbose=False)
    monkeypatch.setattr(orientation, "top9_images", lambda model: scene_collection(model, 12))
    monkeypatch.setattr(orientation, "rotation_caveat",
                        partial(orientation.rotation_caveat, size=64, steps=3))
    monkeypatch.setattr(prior_influence, "learned_prior_influence",
                        partial(prior_influence.learned_prior_influence, size=64, steps=3))
    caveats = module.caveat_claims(toy)
    prior = caveats["learned_prior"]
    assert list(prior["by_lambda"]) == ["0", "1", "10", "100"]
    assert all(0 <= v[key] <= 1 for v in prior["by_lambda"].values()
               for key in ("to_original", "to_prior"))
    assert 0 <= prior["original_to_prior"] <= 1
    report = caveats["orientation"]
    assert report["layer"] == toy.lecture_layers.early
    assert 0 <= report["preferred_degrees"] < 180
    assert list(report["by_max_rotation"]) == ["0", "10", "180"]
    for numbers in report["by_max_rotation"].values():
        assert 0 <= numbers["coherence"] <= 1
        assert 0 <= numbers["share_near_preferred"] <= 1
        assert numbers["activation"] >= 0  # a rectified map

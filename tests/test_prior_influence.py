"""What a learned prior puts in (issue 34): the colour histograms and their intersection
(Swain & Ballard 1991) checked by hand, the images of one kind the prior is fitted on, and
clear errors for bad input."""

from __future__ import annotations

import pytest
import torch

from lecturekit import photo_scenes
from lecturekit.measure.prior_influence import (colour_histogram, colour_similarity,
                                                histogram_intersection,
                                                learned_prior_influence)
from lecturekit.models import load_model


def _colour(rgb: tuple[float, float, float], size: int = 8) -> torch.Tensor:
    return torch.tensor(rgb).view(1, 3, 1, 1).expand(1, 3, size, size).clone()


def test_a_pure_colour_fills_one_cell_of_the_rgb_cube() -> None:
    histogram = colour_histogram(_colour((1.0, 0.0, 0.0)), bins=4, sigma=0)
    assert histogram.shape == (64,)
    assert float(histogram[(3 * 4 + 0) * 4 + 0]) == 1.0  # red slowest, the value 1 in the last cell
    assert float(histogram.sum()) == pytest.approx(1.0)


def test_the_histogram_is_pooled_over_the_batch() -> None:
    batch = torch.cat([_colour((1.0, 0.0, 0.0)), _colour((0.0, 0.0, 1.0))])
    histogram = colour_histogram(batch, bins=2, sigma=0)
    assert histogram.tolist() == [0.0, 0.5, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0]


def test_the_intersection_of_histograms_by_hand() -> None:
    p = torch.tensor([0.5, 0.5, 0.0])
    assert histogram_intersection(p, p) == pytest.approx(1.0)
    assert histogram_intersection(p, torch.tensor([0.0, 0.0, 1.0])) == 0.0
    assert histogram_intersection(p, torch.tensor([0.0, 0.5, 0.5])) == pytest.approx(0.5)


def test_half_the_colours_in_common_gives_one_half() -> None:
    half = _colour((1.0, 0.0, 0.0))
    half[..., 4:] = torch.tensor([0.0, 0.0, 1.0]).view(3, 1, 1)
    assert colour_similarity(half, _colour((1.0, 0.0, 0.0)), sigma=0) == pytest.approx(0.5)


def test_photo_scenes_of_one_kind_keep_their_seeds_places_on_the_named_texture() -> None:
    seeds = photo_scenes.photo_seeds(4, 60_000)
    _, free = photo_scenes.make_photo_batch(seeds, 96, names=["espresso"])
    _, grass = photo_scenes.make_photo_batch(seeds, 96, names=["espresso"], background="grass")
    assert {scene.background for scene in grass} == {"grass"}
    assert [scene.objects for scene in grass] == [scene.objects for scene in free]


def test_the_toys_images_of_one_kind_are_rings() -> None:
    from lecturekit.examples import one_kind_images
    toy = load_model("toy", verbose=False)
    images = one_kind_images(toy, n=4)
    assert images.shape == (4, 3, 128, 128)
    with torch.no_grad():
        named = toy(images).argmax(1)
    assert (named == toy.class_index("ring")).float().mean() >= 0.75


@pytest.mark.parametrize("call, name", [
    (lambda: colour_histogram(torch.zeros(1, 3, 4, 4), bins=0), "bins"),
    (lambda: colour_histogram(torch.zeros(1, 1, 4, 4)), "3 colour channels"),
    (lambda: colour_histogram(torch.zeros(1, 3, 4, 4), sigma=-1), "sigma"),
    (lambda: histogram_intersection(torch.zeros(3), torch.zeros(4)), "p and q"),
    (lambda: photo_scenes.make_photo_scene(1, background="sand"), "background"),
])
def test_bad_input_names_the_parameter(call, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call()


@pytest.mark.parametrize("change, name", [
    (dict(image=torch.zeros(2, 3, 128, 128)), "image must be one image"),
    (dict(lambdas=()), "lambdas"),
    (dict(lambdas=(1.0, -1.0)), "lambdas"),
    (dict(steps=0), "steps"),
])
def test_bad_arguments_of_the_experiment_name_the_parameter(change: dict, name: str) -> None:
    toy = load_model("toy", verbose=False)
    arguments = dict(image=torch.zeros(1, 3, 128, 128), sources=torch.zeros(2, 3, 128, 128))
    arguments.update(change)
    image, sources = arguments.pop("image"), arguments.pop("sources")
    with pytest.raises(ValueError, match=name):
        learned_prior_influence(toy, image, sources, **arguments)

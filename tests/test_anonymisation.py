"""Re-identification from inverted layers (lecturekit.measure.anonymisation)."""

import pytest
import torch

from lecturekit import scenes
from lecturekit.measure.anonymisation import (all_pairs, anonymisation_claims,
                                              layout_correlation, reidentification_rate)


@pytest.fixture(scope="module")
def stars():
    seeds = scenes.class_gallery(scenes.CLASSES.index("star"), 4)
    return scenes.make_batch(seeds)[0]


def test_layout_correlation_reads_where_the_edges_are(stars):
    same = layout_correlation(stars, stars)
    assert torch.allclose(same, torch.ones(len(stars)), atol=1e-5)
    # the same picture shifted by a quarter of its width no longer lines up
    shifted = torch.roll(stars, shifts=32, dims=-1)
    assert (layout_correlation(stars, shifted) < 0.8).all()
    # colour alone does not move it: an edge layout of the grey image
    assert torch.allclose(layout_correlation(stars, 1 - stars), same, atol=1e-5)


def test_all_pairs_and_the_rate_of_a_perfect_and_a_shuffled_gallery(stars):
    matrix = all_pairs(layout_correlation, stars, stars)
    assert matrix.shape == (4, 4)
    assert torch.allclose(matrix, matrix.T, atol=1e-5)
    assert reidentification_rate(stars, stars) == 1.0
    shifted = torch.roll(stars, shifts=1, dims=0)  # every reconstruction is another star's
    assert reidentification_rate(shifted, stars) == 0.0


def test_anonymisation_claims_per_layer(toy_model):
    claims = anonymisation_claims(toy_model, layers=["conv1", "fc8"], per_class=2, steps=30)
    assert list(claims) == ["conv1", "fc8"]
    assert all(0.0 <= rate <= 1.0 for rate in claims.values())
    # measured: conv1 finds 16 of 16 again after 30 steps, fc8 7 of 16 (with two scenes
    # per class, guessing finds 8)
    assert claims["conv1"] >= 0.9 and claims["conv1"] > claims["fc8"]

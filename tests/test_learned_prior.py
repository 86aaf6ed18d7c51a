"""The learned prior: per-channel statistics of one layer, matched to natural images."""

import pytest
import torch

from lecturekit import scenes
from lecturekit.examples import inversion_image, reference_images
from lecturekit.optimise.learned_prior import FeatureStatisticsPrior


@pytest.fixture(scope="module")
def references(toy_model):
    images, _, _ = scenes.make_batch(scenes.test_seeds(4, offset=900), size=128)
    return toy_model.preprocess.normalise(images)


def test_zero_on_its_own_reference_image(toy_model, references):
    prior = FeatureStatisticsPrior(toy_model, references[:1], "conv4")
    assert prior(references[:1]).item() == pytest.approx(0.0, abs=1e-8)


def test_reference_batch_scores_far_below_noise(toy_model, references):
    prior = FeatureStatisticsPrior(toy_model, references, "conv4")
    noise = torch.randn(2, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    on_references = prior(references)
    assert on_references.shape == (4,)
    assert (prior(noise) > 0).all()
    assert prior(noise).min() > 3 * on_references.mean()


def test_positive_on_other_images_and_gradient_flows(toy_model, references):
    prior = FeatureStatisticsPrior(toy_model, references[:1], "relu2")
    x = references[1:3].clone().requires_grad_(True)
    penalty = prior(x)
    assert penalty.shape == (2,) and (penalty > 0).all()
    penalty.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(not p.requires_grad for p in toy_model.parameters())


def test_default_references_are_fresh_scenes(toy_model):
    """The prior's natural images are evaluation scenes (never trained on), and not the
    scene the notebooks invert: what the prior adds cannot come from the answer."""
    batch = reference_images(toy_model, count=3)
    seeds = scenes.test_seeds(3, offset=50_000)
    assert min(seeds) >= scenes.TEST_SEED_START
    images, _, _ = scenes.make_batch(seeds, size=128)
    assert torch.equal(batch, toy_model.preprocess.normalise(images))
    target = inversion_image(toy_model)
    assert all(not torch.allclose(image, target[0]) for image in batch)


def test_errors(toy_model, references):
    with pytest.raises(ValueError, match="spatial maps.*fc6.*valid: conv1"):
        FeatureStatisticsPrior(toy_model, references, "fc6")
    with pytest.raises(ValueError, match="unknown layer 'conv9'"):
        FeatureStatisticsPrior(toy_model, references, "conv9")
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        FeatureStatisticsPrior(toy_model, references[0], "conv4")

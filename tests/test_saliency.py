"""Saliency maps (Simonyan et al. 2014): max over channels of |d logit / d image|."""

import copy

import pytest
import torch

from lecturekit import scenes
from lecturekit.gradient.gradients import input_gradient
from lecturekit.models import toy_architecture
from lecturekit.gradient.saliency import channel_max_abs, gradient_to_rgb, saliency_map
from lecturekit.targets import Logit, Probability

SIZE = 64


@pytest.fixture(scope="module")
def tiny_model():
    """A small random-weight toy AlexNet at 64 px: fast, and its own function to check."""
    torch.manual_seed(0)
    model = toy_architecture((8, 16, 16, 16, 16), 32, list(scenes.CLASSES), SIZE)
    return model.eval().requires_grad_(False)


@pytest.fixture(scope="module")
def batch(tiny_model):
    images, _, labels = scenes.make_batch(scenes.test_seeds(3), size=SIZE)
    return tiny_model.preprocess.normalise(images), labels


def test_matches_finite_differences_of_the_logit(tiny_model, batch):
    """An independent check in float64: central differences of the logit, pixel by pixel."""
    model = copy.deepcopy(tiny_model).double()
    x = batch[0][:1].double()
    cls = 5
    saliency = saliency_map(model, x, cls)[0]
    eps = 1e-5
    for y, x_ in [(10, 12), (32, 32), (50, 7), (3, 60)]:
        diffs = []
        for c in range(3):
            plus, minus = x.clone(), x.clone()
            plus[0, c, y, x_] += eps
            minus[0, c, y, x_] -= eps
            diffs.append(float(model(plus)[0, cls] - model(minus)[0, cls]) / (2 * eps))
        expected_max = max(abs(d) for d in diffs)
        assert float(saliency[y, x_]) == pytest.approx(expected_max, rel=1e-5, abs=1e-12)
        if sorted(abs(d) for d in diffs)[1] > 1e-3 * expected_max:
            # With two non-zero channels the sum over channels is a different number.
            assert float(saliency[y, x_]) != pytest.approx(sum(abs(d) for d in diffs), rel=1e-3)


def test_reduction_is_max_of_absolute_value_not_sum(tiny_model, batch):
    images, labels = batch
    gradient = input_gradient(tiny_model, images, Logit(labels))
    maps = saliency_map(tiny_model, images, labels)
    assert maps.shape == (3, SIZE, SIZE)
    assert (maps >= 0).all()
    torch.testing.assert_close(maps, gradient.abs().amax(1))
    torch.testing.assert_close(channel_max_abs(gradient), maps)
    summed = gradient.abs().sum(1)
    assert (summed > maps * 1.01).float().mean() > 0.5
    assert (gradient < 0).any(), "a signed gradient, so the absolute value matters"


def test_uses_the_logit_not_the_softmax(tiny_model, batch):
    images, labels = batch
    maps = saliency_map(tiny_model, images, labels)
    softmax = input_gradient(tiny_model, images, Probability(labels)).abs().amax(1)
    for a, b in zip(maps, softmax):
        a, b = a / a.max(), b / b.max()
        assert not torch.allclose(a, b, atol=1e-2)


def test_default_class_is_each_images_prediction(tiny_model, batch):
    images, _ = batch
    predicted = tiny_model(images).argmax(1)
    torch.testing.assert_close(saliency_map(tiny_model, images),
                               saliency_map(tiny_model, images, predicted))


def test_class_index_per_image_and_shared(tiny_model, batch):
    images, _ = batch
    per_image = saliency_map(tiny_model, images, [1, 4, 7])
    for i, cls in enumerate([1, 4, 7]):
        alone = saliency_map(tiny_model, images[i:i + 1], cls)[0]
        torch.testing.assert_close(per_image[i], alone, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(saliency_map(tiny_model, images, torch.tensor([1, 4, 7])),
                               per_image)
    torch.testing.assert_close(saliency_map(tiny_model, images, 2),
                               saliency_map(tiny_model, images, [2, 2, 2]))
    assert not torch.allclose(saliency_map(tiny_model, images, 2)[0], per_image[0])


@pytest.mark.parametrize("rule", ["deconvnet", "guided"])
def test_same_reduction_under_the_other_rules(tiny_model, batch, rule):
    images, labels = batch
    maps = saliency_map(tiny_model, images, labels, rule=rule)
    expected = input_gradient(tiny_model, images, Logit(labels), rule=rule).abs().amax(1)
    torch.testing.assert_close(maps, expected)
    assert not torch.allclose(maps, saliency_map(tiny_model, images, labels))


def test_leaves_images_and_weights_alone(tiny_model, batch):
    images, labels = batch
    before = images.clone()
    saliency_map(tiny_model, images, labels, rule="guided")
    assert torch.equal(images, before) and images.grad is None
    assert all(p.grad is None and not p.requires_grad for p in tiny_model.parameters())


@pytest.mark.parametrize("index, words", [
    (8, ["8", "8 classes", "0..7"]),
    (-1, ["-1", "0..7"]),
    ([0, 9, 1], ["9", "0..7"]),
    ([0, 1], ["2 entries", "batch of 3"]),
])
def test_bad_class_index_is_explained(tiny_model, batch, index, words):
    with pytest.raises(ValueError) as error:
        saliency_map(tiny_model, batch[0], index)
    assert all(word in str(error.value) for word in words), str(error.value)


@pytest.mark.parametrize("index", [1.5, True, torch.tensor([0.0, 1.0, 2.0])])
def test_non_integer_class_index_is_refused(tiny_model, batch, index):
    with pytest.raises(TypeError, match="class_index"):
        saliency_map(tiny_model, batch[0], index)


def test_bad_batch_and_rule_are_explained(tiny_model, batch):
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\).*\(3, 64, 64\)"):
        saliency_map(tiny_model, batch[0][0], 0)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        saliency_map(tiny_model, batch[0][:, :2], 0)
    with pytest.raises(ValueError, match="valid rules are: backprop, deconvnet, guided"):
        saliency_map(tiny_model, batch[0], 0, rule="smoothgrad")


def test_gradient_to_rgb_maps_signs_around_grey():
    g = torch.zeros(2, 3, 4, 4)
    g[0, 0, 0, 0], g[0, 1, 1, 1], g[0, 2, 2, 2] = 2.0, -2.0, 1.0
    rgb = gradient_to_rgb(g, percentile=100)
    assert rgb.shape == g.shape and rgb.dtype == torch.float32
    assert float(rgb[0, 0, 0, 0]) == 1.0 and float(rgb[0, 1, 1, 1]) == 0.0
    assert float(rgb[0, 2, 2, 2]) == pytest.approx(0.75)
    assert torch.all(rgb[1] == 0.5), "a zero gradient is plain grey"
    assert float(rgb[0, 0, 3, 3]) == 0.5


def test_gradient_to_rgb_scales_each_image_by_its_percentile():
    torch.manual_seed(0)
    g = torch.randn(2, 3, 32, 32)
    g[1] = g[0] * 1000
    rgb = gradient_to_rgb(g)
    torch.testing.assert_close(rgb[0], rgb[1])
    assert rgb.min() >= 0 and rgb.max() <= 1
    clipped = ((rgb == 0) | (rgb == 1)).float().mean()
    assert 0.005 <= clipped <= 0.015, "about the top 1% of |g| is clipped"
    sparse = torch.zeros(1, 3, 32, 32)
    sparse[0, 0, 5, 5] = -3.0
    assert float(gradient_to_rgb(sparse)[0, 0, 5, 5]) == 0.0, "percentile 0 falls back to max"


def test_gradient_to_rgb_errors():
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\), got \(3, 4, 4\)"):
        gradient_to_rgb(torch.zeros(3, 4, 4))
    with pytest.raises(ValueError, match=r"percentile must be a number in \(0, 100\], got 0"):
        gradient_to_rgb(torch.zeros(1, 3, 4, 4), percentile=0)


def test_gradient_to_rgb_with_a_common_scale_shows_sizes():
    torch.manual_seed(0)
    g = torch.randn(2, 3, 32, 32)
    g[1] = g[0] / 10
    own, common = gradient_to_rgb(g, 100), gradient_to_rgb(g, 100, common_scale=True)
    torch.testing.assert_close(common[0], own[0])  # the strongest keeps its own scale
    torch.testing.assert_close(common[1] - 0.5, (own[0] - 0.5) / 10, atol=1e-6, rtol=0)
    assert float((common[1] - 0.5).abs().max()) == pytest.approx(0.05), "10x fainter"
    assert float((own[1] - 0.5).abs().max()) == pytest.approx(0.5), "own scale: full range"

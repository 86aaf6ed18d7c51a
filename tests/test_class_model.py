"""Class-model visualisation (Simonyan et al. 2014) on the toy model."""

from types import SimpleNamespace

import pytest
import torch

import lecturekit.measure.class_model_claims as claims_module
from lecturekit.measure.class_model_claims import class_model_claims, transformed_probability
from lecturekit.optimise.class_model import ClassModelResult, class_model, resolve_classes
from lecturekit.optimise.transforms import Jitter, light_robustness, robustness_for
from lecturekit.targets import Logit

# Measured with the defaults (CPU, 2026-12-01): the robust-pixel class models of all 8
# classes and the plain ones of 7 reach probability 1.000 (float32). The plain "disc" image
# is named "hexagon" (p(disc) < 1e-4, seeds 0, 1 and 2): raising the disc's logit raised
# the hexagon's more. Under 8 random rolls (<= 8 px) and rotations (<= 15 degrees) the
# robust images keep 1.000; plain square and hexagon fall to 0.029 and 0.358 (disc 0.587,
# the other five 1.000). Floors sit a little below.
PROBABILITY_FLOOR = 0.99
TRANSFORMED_FLOOR = 0.98
PLAIN_REACHED = 7  # of the 8 classes


@pytest.fixture(scope="module")
def recorded(toy_model):
    """class_model_claims once, keeping the two class-model runs it makes, by recipe."""
    runs = {}

    def recording(*args, **kwargs):
        result = original(*args, **kwargs)
        runs[kwargs["recipe"]] = result
        return result

    original = claims_module.class_model
    claims_module.class_model = recording
    try:
        claims = class_model_claims(toy_model)
    finally:
        claims_module.class_model = original
    return runs, claims


@pytest.fixture(scope="module")
def claims(recorded):
    return recorded[1]


def _logit(model, image, index):
    with torch.no_grad():
        return Logit(index)(model.activations(image, ("logits",)))


def test_two_steps_change_the_image_and_raise_the_score(toy_model):
    result = class_model(toy_model, "ring", recipe="plain", steps=2, progress=False)
    assert isinstance(result, ClassModelResult)
    assert result.names == ["ring"] and result.classes == [4]
    assert result.image.shape == (1, 3, 128, 128)
    start = 0.1 * torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    assert not torch.equal(result.image, start)
    assert result.logit.item() > _logit(toy_model, start, 4).item()
    assert len(result.history) == 2
    assert 0 <= result.probability.item() <= 1


def test_deterministic_by_seed_and_weights_untouched(toy_model):
    before = {k: v.clone() for k, v in toy_model.state_dict().items()}
    first = class_model(toy_model, [0, 3], steps=3, robust=True, seed=1, progress=False)
    again = class_model(toy_model, [0, 3], steps=3, robust=True, seed=1, progress=False)
    other = class_model(toy_model, [0, 3], steps=3, robust=True, seed=2, progress=False)
    assert torch.equal(first.image, again.image)
    assert not torch.equal(first.image, other.image)
    for name, value in toy_model.state_dict().items():
        assert torch.equal(value, before[name]), name


def test_toy_classes_reach_their_class(toy_model, recorded):
    """One batch, one image per class (as class_model_claims runs it): the robust-pixel
    recipe reaches p >= 0.99 for every class, the plain one for at least 7 of 8, and the
    network names each image that reaches it by its own class."""
    runs, _ = recorded
    assert set(runs) == {"plain", "robust-pixel"}
    for recipe, result in runs.items():
        assert result.names == list(toy_model.classes)
        assert result.image.shape == (len(toy_model.classes), 3, 128, 128)
        reached = result.probability >= PROBABILITY_FLOOR
        needed = len(toy_model.classes) if recipe == "robust-pixel" else PLAIN_REACHED
        assert int(reached.sum()) >= needed, (recipe, result.probability)
        with torch.no_grad():
            winners = toy_model(result.image).argmax(1)
        assert torch.equal(winners[reached], torch.arange(len(toy_model.classes))[reached])
        assert result.image01.min() >= 0 and result.image01.max() <= 1


def test_claims_shape_and_floors(toy_model, claims):
    assert list(claims) == list(toy_model.classes)
    for name, entry in claims.items():
        assert set(entry) == {"probability", "probability_transformed"}
        assert set(entry["probability_transformed"]) == {"plain", "robust"}
        moved = entry["probability_transformed"]
        assert moved["robust"] >= TRANSFORMED_FLOOR, name
        assert moved["robust"] >= moved["plain"] - 1e-3, name
    assert sum(entry["probability"] >= PROBABILITY_FLOOR for entry in claims.values()) \
        >= PLAIN_REACHED
    # some plain images are patterns for one pixel grid: moved, they lose part of their
    # class (measured with the bundled weights: the plain square keeps 0.65)
    assert min(entry["probability_transformed"]["plain"] for entry in claims.values()) < 0.9


def test_claims_for_a_subset_and_many_classes(toy_model):
    some = class_model_claims(toy_model, n_trials=1, classes=["disc"], steps=2)
    assert list(some) == ["disc"]
    many = SimpleNamespace(name="big", classes=[f"class{i}" for i in range(48)])
    with pytest.raises(ValueError, match="classes: model 'big' has 48 classes"):
        class_model_claims(many)


def test_transformed_probability_is_seeded(toy_model):
    images = 0.1 * torch.randn(2, 3, 128, 128, generator=torch.Generator().manual_seed(5))
    first = transformed_probability(toy_model, images, [0, 1], n_trials=2, seed=3)
    again = transformed_probability(toy_model, images, [0, 1], n_trials=2, seed=3)
    assert first.shape == (2,) and torch.equal(first, again)
    with pytest.raises(ValueError, match="n_trials must be a whole number >= 1"):
        transformed_probability(toy_model, images, [0, 1], n_trials=0)


def test_class_names_resolve_and_unknown_names_say_what_exists(toy_model):
    assert resolve_classes(toy_model, ["disc", 7, "hexagon"]) == [0, 7, 6]
    with pytest.raises(ValueError, match=r"no class 'dumbbell' \(no similar name\); its "
                                         r"classes are: disc, square, triangle"):
        class_model(toy_model, "dumbbell", progress=False)
    with pytest.raises(ValueError, match="similar names: hexagon"):
        class_model(toy_model, "hexagn", progress=False)
    with pytest.raises(ValueError, match=r"class index 8 is out of range .* \(valid: 0..7\)"):
        class_model(toy_model, 8, progress=False)
    with pytest.raises(TypeError, match="class_index_or_name must be"):
        class_model(toy_model, True, progress=False)
    with pytest.raises(ValueError, match="class_index_or_name is empty"):
        class_model(toy_model, [], progress=False)


@pytest.mark.parametrize("kwargs, message", [
    (dict(priors={"l2": -1.0}), "weight of prior 'l2' must be a number >= 0"),
    (dict(priors={"l2": float("nan")}), "weight of prior 'l2' must be a number >= 0"),
    (dict(lr=0), "lr must be a number > 0"),
    (dict(steps=0), "steps must be a whole number >= 1, got steps=0"),
    (dict(steps=2.5), "steps must be a whole number >= 1, got steps=2.5"),
    (dict(robust="yes"), "robust must be False, True or a transform"),
    (dict(size=32), r"size must be a whole number in 63..4096 \(pixels\), got size=32"),
])
def test_bad_arguments_are_named(toy_model, kwargs, message):
    with pytest.raises(ValueError, match=message):
        class_model(toy_model, 0, progress=False, **kwargs)


def test_robustness_choices(toy_model):
    assert "Jitter(max_shift=4)" in repr(robustness_for(toy_model))
    assert "Pad(pixels=6" in repr(light_robustness())
    custom = class_model(toy_model, 1, robust=Jitter(2), steps=2, priors={}, progress=False)
    assert custom.image.shape == (1, 3, 128, 128)


def test_class_model_figure_draws(toy_model, monkeypatch):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from lecturekit.ui.plot import dream as plot_dream
    monkeypatch.setattr(plot_dream, "class_model",
                        lambda *a, **k: class_model(*a, **{**k, "steps": 2}))
    figure = plot_dream.class_model_figure(toy_model)
    assert len(figure.axes) == 2 * len(toy_model.classes)
    assert figure.axes[0].get_title().startswith("disc  p = ")
    matplotlib.pyplot.close(figure)

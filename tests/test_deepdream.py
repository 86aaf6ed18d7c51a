"""DeepDream and activation maximisation on the toy model: short runs, exact claims."""

import importlib

import pytest
import torch

from lecturekit.optimise.deepdream import (DreamResult, activation_maximisation, deepdream, max_octaves,
                                  normalised_step_size)
from lecturekit.optimise.loop import pixel_bounds
from lecturekit.optimise.parameterisation import FourierImage
from lecturekit.optimise.regularisers import total_variation
from lecturekit.scenes import make_scene, test_seeds
from lecturekit.targets import Channel, LayerL2, Logit, Neuron, PerImage


@pytest.fixture(scope="module")
def scene_batch(toy_model):
    scene = make_scene(test_seeds(1)[0])
    image = torch.from_numpy(scene.image.transpose(2, 0, 1).copy())
    return toy_model.preprocess.normalise(image[None])


@pytest.fixture(scope="module")
def noise_channel(toy_model):
    """The conv5 map most active on activation_maximisation's own start (seeded noise of
    std 0.5): a map that can climb from there."""
    start = 0.5 * torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        sums = toy_model.forward_to(start, "conv5")[0].clamp_min(0).sum(dim=(1, 2))
    return Channel("conv5", int(sums.argmax()))


def _objective(model, target, batch):
    with torch.no_grad():
        return target(model.activations(batch, target.layers))


def _short(model, batch, **kwargs):
    options = dict(octaves=1, steps=2, progress=False)
    options.update(kwargs)
    return deepdream(model, batch, **options)


def test_two_steps_change_the_image_and_raise_the_objective(toy_model, scene_batch):
    result = _short(toy_model, scene_batch, layer="conv5")
    assert isinstance(result, DreamResult)
    assert result.image.shape == scene_batch.shape
    assert not torch.equal(result.image, scene_batch)
    before = _objective(toy_model, LayerL2("conv5"), scene_batch)
    assert (result.objective > before).all()
    assert len(result.history) == 2
    assert result.image01.min() >= 0 and result.image01.max() <= 1


def test_dream_is_deterministic_by_seed(toy_model, scene_batch):
    first = _short(toy_model, scene_batch, seed=3)
    again = _short(toy_model, scene_batch, seed=3)
    other = _short(toy_model, scene_batch, seed=4)
    assert torch.equal(first.image, again.image)
    assert not torch.equal(first.image, other.image)


def test_weights_stay_untouched(toy_model, scene_batch):
    before = {k: v.clone() for k, v in toy_model.state_dict().items()}
    _short(toy_model, scene_batch)
    activation_maximisation(toy_model, "relu5", steps=2, progress=False)
    for name, value in toy_model.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert not any(p.requires_grad for p in toy_model.parameters())


def test_jitter_is_undone_and_both_variants_climb(toy_model, scene_batch):
    """The roll is part of the forward pass, so its gradient lands unshifted: with or
    without jitter the objective rises, and the two results differ."""
    before = _objective(toy_model, LayerL2("conv5"), scene_batch)
    still = _short(toy_model, scene_batch, jitter=0, steps=3)
    moved = _short(toy_model, scene_batch, jitter=4, steps=3)
    assert not torch.equal(still.image, moved.image)
    assert (still.objective > before).all() and (moved.objective > before).all()
    # the change sits where the scene is, not shifted: both dreams correlate
    delta_still = (still.image - scene_batch).flatten()
    delta_moved = (moved.image - scene_batch).flatten()
    assert torch.corrcoef(torch.stack([delta_still, delta_moved]))[0, 1] > 0.3


def test_pixels_stay_valid_and_octaves_keep_the_size(toy_model, scene_batch):
    result = deepdream(toy_model, scene_batch, "relu2", octaves=3, steps=2, progress=False)
    low, high = pixel_bounds(toy_model, result.image)
    assert result.image.shape == scene_batch.shape
    assert (result.image >= low - 1e-6).all() and (result.image <= high + 1e-6).all()
    assert len(result.history) == 6


def test_step_size_is_in_pixel_units(toy_model):
    assert normalised_step_size(toy_model, 1.5) == pytest.approx(1.5 / (255 * 0.226), rel=1e-3)


def test_picture_inputs_are_accepted(toy_model):
    scene = make_scene(test_seeds(2)[1], 96)
    result = deepdream(toy_model, scene.image, octaves=1, steps=1, progress=False)
    assert result.image.shape == (1, 3, 96, 96)


def test_channel_objective_raises_that_channel(toy_model, scene_batch):
    target = Channel("conv5", 58)
    result = _short(toy_model, scene_batch, objective=target, steps=3)
    assert result.target is target
    assert (result.objective > _objective(toy_model, target, scene_batch)).all()
    neuron = _short(toy_model, scene_batch, objective=Neuron("conv5", 58), steps=2)
    assert neuron.objective.shape == (1,)


def test_octave_error_names_the_limit(toy_model, scene_batch):
    assert max_octaves((128, 128), 1.4, 63) == 3
    with pytest.raises(ValueError, match=r"octaves=4 is too many for a 128 x 128 image.*"
                                         r"valid: octaves from 1 to 3"):
        deepdream(toy_model, scene_batch, octaves=4, progress=False)
    with pytest.raises(ValueError, match="octaves must be a whole number >= 1, got octaves=0"):
        deepdream(toy_model, scene_batch, octaves=0, progress=False)
    with pytest.raises(ValueError, match="octave_scale must be a number >= 1"):
        deepdream(toy_model, scene_batch, octave_scale=0.5, progress=False)


def test_unknown_layer_lists_the_valid_ones(toy_model, scene_batch):
    with pytest.raises(ValueError, match=r"unknown layer 'conv9'.*conv1, relu1"):
        deepdream(toy_model, scene_batch, "conv9", progress=False)
    with pytest.raises(ValueError, match="unknown layer 'inception4c'"):
        deepdream(toy_model, scene_batch, objective=Channel("inception4c", 0), progress=False)


@pytest.mark.parametrize("kwargs, message", [
    (dict(steps=0), "steps must be a whole number >= 1, got steps=0"),
    (dict(step_size=-1.0), "step_size must be a number > 0"),
    (dict(jitter=-2), "jitter must be a whole number >= 0, got jitter=-2"),
    (dict(objective="conv5"), "objective must be a lecturekit.targets.Target"),
])
def test_bad_arguments_are_named(toy_model, scene_batch, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        deepdream(toy_model, scene_batch, progress=False, **kwargs)


def test_activation_maximisation_from_noise_climbs(toy_model, noise_channel):
    target = noise_channel
    # noise hardly moves a conv5 map, and the priors first smooth the noise away: the map
    # climbs after about ten steps (measured: 0.001 at the start, 1.70 after 30)
    result = activation_maximisation(toy_model, target, steps=30, progress=False)
    assert result.image.shape == (1, 3, 128, 128)
    assert result.objective.item() > result.history[0]["objective"]
    assert {"l2", "tv"} <= set(result.history[0])


def test_priors_make_the_image_smoother(toy_model, noise_channel):
    target = noise_channel
    plain = activation_maximisation(toy_model, target, priors={}, steps=30, progress=False)
    smooth = activation_maximisation(toy_model, target, steps=30, progress=False)
    # measured after 30 steps: TV 41,181 with the priors, 53,036 without (ratio 0.78)
    assert total_variation(smooth.image) < 0.9 * total_variation(plain.image)
    assert (smooth.image ** 2).mean() < (plain.image ** 2).mean()
    assert smooth.objective.item() > smooth.history[0]["objective"]


def test_activation_maximisation_octaves_and_names(toy_model):
    result = activation_maximisation(toy_model, "relu5", octaves=2, steps=2, size=96,
                                     priors={"low_pass": 1.0}, progress=False)
    assert result.image.shape == (1, 3, 96, 96)
    assert isinstance(result.target, LayerL2) and "low_pass" in result.history[0]
    assert len(result.history) == 4
    with pytest.raises(ValueError, match="weight of prior 'l2' must be a number >= 0"):
        activation_maximisation(toy_model, "relu5", priors={"l2": -1}, progress=False)
    with pytest.raises(ValueError, match="unknown layer 'pool9'"):
        activation_maximisation(toy_model, "pool9", progress=False)
    with pytest.raises(ValueError, match="octaves=5 is too many"):
        activation_maximisation(toy_model, "relu5", octaves=5, progress=False)


def test_fourier_parameterisation_and_transforms_are_used(toy_model, monkeypatch):
    """parameterisation="fourier" optimises a FourierImage (Olah et al. 2017), robust=True
    applies the model's transform recipe, and both need no pixel noise."""
    dream_module = importlib.import_module("lecturekit.optimise.deepdream")
    made, applied = [], []
    real_start, real_robustness = dream_module.seeded_start, dream_module.robust_transform

    def spy_start(*args, **kwargs):
        made.append(real_start(*args, **kwargs))
        return made[-1]

    def spy_robustness(model, robust):
        transform = real_robustness(model, robust)

        def counted(x, generator):
            applied.append(x.shape)
            return transform(x, generator)
        return counted if transform is not None else None

    monkeypatch.setattr(dream_module, "seeded_start", spy_start)
    monkeypatch.setattr(dream_module, "robust_transform", spy_robustness)
    result = activation_maximisation(toy_model, Channel("conv5", 58), steps=3, init_std=0,
                                     parameterisation="fourier", robust=True, progress=False)
    assert len(made) == 1 and isinstance(made[0], FourierImage) and len(applied) == 3
    with torch.no_grad():
        rendered = toy_model.preprocess.normalise(made[0]())
    assert torch.allclose(result.image, rendered, atol=1e-6)
    assert result.objective.item() > result.history[0]["objective"]
    low, high = toy_model.preprocess.normalise(torch.zeros(1, 3, 1, 1)), \
        toy_model.preprocess.normalise(torch.ones(1, 3, 1, 1))
    assert (result.image >= low - 1e-5).all() and (result.image <= high + 1e-5).all()


@pytest.mark.parametrize("kwargs, message", [
    (dict(parameterisation="wavelet"), "unknown parameterisation 'wavelet'; valid: pixel, fourier"),
    (dict(parameterisation="fourier", octaves=2),
     "octaves must be a whole number equal to 1 for a FourierImage"),
    (dict(robust="yes"), "robust must be False, True or a transform"),
])
def test_activation_maximisation_names_bad_choices(toy_model, kwargs, message):
    with pytest.raises(ValueError, match=message):
        activation_maximisation(toy_model, "relu5", steps=1, progress=False, **kwargs)


def test_deepdream_figure_draws(toy_model):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from lecturekit.ui.plot.dream import deepdream_figure
    figure = deepdream_figure(toy_model)
    assert len(figure.axes) == 6
    matplotlib.pyplot.close(figure)


def test_numeric_core_imports_no_plotting_or_widgets():
    import subprocess
    import sys
    code = ("import sys, lecturekit.optimise.deepdream, lecturekit.optimise.class_model; "
            "print(sorted(m for m in ('matplotlib', 'ipywidgets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.fixture(scope="module")
def dream_widgets():
    pytest.importorskip("ipywidgets")
    from lecturekit.ui.widgets import dream as widgets_dream
    return widgets_dream


@pytest.fixture(scope="module")
def dreamer(toy_model, scene_batch, dream_widgets):
    """One explorer for the module's tests: two steps per octave keep it quick."""
    return dream_widgets.dream_explorer(toy_model, scene_batch, steps=2)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_dream_explorer_is_a_widget_with_the_promised_parts(dreamer, dream_widgets, toy_model):
    import ipywidgets as widgets
    assert isinstance(dreamer, dream_widgets.DreamExplorer)
    assert isinstance(dreamer, widgets.VBox)
    assert isinstance(dreamer.layer, widgets.Dropdown)
    assert isinstance(dreamer.octaves, widgets.IntSlider)
    assert isinstance(dreamer.dream_view, widgets.Image)
    assert isinstance(dreamer.caption, widgets.HTML)
    assert dreamer.layer.options == toy_model.layer_names and dreamer.layer.value == "conv5"
    assert (dreamer.octaves.min, dreamer.octaves.max, dreamer.octaves.value) == (1, 3, 3)
    assert dreamer.compute_count == 1 and isinstance(dreamer.result, DreamResult)
    assert dreamer.result.target.layer == "conv5"
    assert bytes(dreamer.dream_view.value).startswith(PNG_SIGNATURE)
    assert bytes(dreamer.input_view.value).startswith(PNG_SIGNATURE)
    assert bytes(dreamer.dream_view.value) != bytes(dreamer.input_view.value)
    assert "conv5" in dreamer.text and "3 octave(s)" in dreamer.text


def test_dream_explorer_follows_its_controls_and_caches(dreamer):
    first, first_caption = dreamer.result, dreamer.caption.value
    first_png, count = bytes(dreamer.dream_view.value), dreamer.compute_count
    dreamer.layer.value = "relu2"  # as if a student picked it in the dropdown
    assert dreamer.compute_count == count + 1
    assert dreamer.result is not first and dreamer.result.target.layer == "relu2"
    assert not torch.equal(dreamer.result.image, first.image)
    assert dreamer.caption.value != first_caption and "relu2" in dreamer.text
    assert bytes(dreamer.dream_view.value) != first_png
    dreamer.octaves.value = 1
    assert dreamer.compute_count == count + 2 and "1 octave(s)" in dreamer.text
    dreamer.layer.value = "conv5"  # conv5 with 1 octave: a new setting
    assert dreamer.compute_count == count + 3
    dreamer.octaves.value = 3  # back to the first setting: from the cache
    assert dreamer.compute_count == count + 3
    assert dreamer.result is first
    assert dreamer.caption.value == first_caption
    assert bytes(dreamer.dream_view.value) == first_png
    assert set(dreamer.cache) == {("conv5", 3), ("relu2", 3), ("relu2", 1), ("conv5", 1)}


def test_show_explorer_displays_the_explorer(toy_model, scene_batch, dream_widgets, monkeypatch):
    shown = []
    monkeypatch.setattr(dream_widgets, "display", shown.append)
    box = dream_widgets.show_explorer(toy_model, scene_batch, auto=False)
    assert shown == [box] and isinstance(box, dream_widgets.DreamExplorer)
    assert box.compute_count == 0 and box.result is None


@pytest.mark.parametrize("change, message", [
    (dict(batch=2), r"batch must be one normalised image of shape \(1, 3, H, W\), got "
                    r"\(2, 3, 128, 128\)"),
    (dict(layer="fc9"), r"unknown layer 'fc9' for model 'toy'; valid layer names are: conv1, "
                        r"relu1"),
    (dict(octaves=4), r"octaves must be a whole number from 1 to 3 for this image, got "
                      r"octaves=4"),
    (dict(octaves=0), r"octaves must be a whole number from 1 to 3"),
    (dict(steps=0), r"steps must be a whole number >= 1, got steps=0"),
])
def test_dream_explorer_bad_arguments_are_named(toy_model, scene_batch, dream_widgets, change,
                                                message):
    batch = scene_batch.repeat(change.pop("batch", 1), 1, 1, 1)
    with pytest.raises(ValueError, match=message):
        dream_widgets.dream_explorer(toy_model, batch, auto=False, **change)


def test_per_image_scores_each_image_by_its_own_target(toy_model):
    images = torch.rand(2, 3, 128, 128)
    layers = ["conv5", *Logit(1).layers]
    acts = toy_model.activations(images, layers)
    both = PerImage([Channel("conv5", 3), Logit(1)])(acts)
    assert torch.allclose(both, torch.stack([acts["conv5"][0, 3].mean(), acts[layers[1]][1, 1]]))
    with pytest.raises(ValueError, match="2 targets for a batch of 3"):
        PerImage([Channel("conv5", 3), Logit(1)])(toy_model.activations(torch.rand(3, 3, 128, 128),
                                                                       layers))


def test_a_list_of_targets_is_searched_in_one_batch_as_one_by_one(toy_model):
    # no random transform (jitter=0): image 0 of the batch starts as the single search does,
    # and each image's gradient is its own target's, so the two searches agree up to
    # rounding (measured: 3e-4 at most after 5 steps, objectives equal to 4 digits)
    targets = [Channel("conv5", 3), "relu5", Logit(1)]
    together = activation_maximisation(toy_model, targets, steps=5, jitter=0, progress=False)
    alone = activation_maximisation(toy_model, targets[0], steps=5, jitter=0, progress=False)
    assert together.image.shape[0] == 3 and isinstance(together.target, PerImage)
    assert torch.allclose(together.image[0], alone.image[0], atol=2e-3)
    assert torch.allclose(together.objective[0], alone.objective[0], rtol=1e-3)
    with pytest.raises(TypeError, match="a layer name or a list of them, got int"):
        activation_maximisation(toy_model, [Channel("conv5", 3), 7], progress=False)
    with pytest.raises(ValueError, match="target is an empty list"):
        activation_maximisation(toy_model, [], progress=False)

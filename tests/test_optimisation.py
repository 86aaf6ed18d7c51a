"""The one optimisation loop: it optimises, stays deterministic, explains bad input."""

import pytest
import torch

from lecturekit.optimise.loop import Term, octave_sizes, optimise, pixel_bounds
from lecturekit.optimise.parameterisation import PixelPyramid
from lecturekit.optimise.regularisers import alpha_norm, total_variation
from lecturekit.targets import Channel, FeatureMatching, Logit
from lecturekit.optimise.transforms import Jitter


def _start(n=1, size=128, seed=0):
    return 0.5 * torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_two_steps_raise_the_objective_and_change_the_image(toy_model):
    init = _start()
    result = optimise(toy_model, Channel("conv3", 5), init, steps=2, lr=0.1, progress=False)
    assert not torch.equal(result.image, init)
    with torch.no_grad():
        before = Channel("conv3", 5)(toy_model.activations(init, ["conv3"]))
    assert result.objective.item() > before.item()
    assert len(result.history) == 2 and {"step", "loss", "objective"} <= set(result.history[0])


def test_minimising_feature_matching_lowers_the_error(toy_model):
    target = toy_model.forward_to(_start(seed=1), "conv2")
    result = optimise(toy_model, FeatureMatching("conv2", target), _start(seed=2),
                      maximise=False, steps=30, lr=0.05, progress=False)
    assert result.history[-1]["objective"] < 0.5 * result.history[0]["objective"]


def test_same_seed_same_result_with_random_transforms(toy_model):
    args = dict(steps=3, lr=0.1, transform=Jitter(8), progress=False)
    first = optimise(toy_model, Logit(2), _start(), seed=4, **args)
    second = optimise(toy_model, Logit(2), _start(), seed=4, **args)
    other = optimise(toy_model, Logit(2), _start(), seed=5, **args)
    assert torch.equal(first.image, second.image)
    assert not torch.equal(first.image, other.image)


def test_weights_stay_frozen_and_pixels_valid(toy_model):
    weights = {k: v.clone() for k, v in toy_model.state_dict().items()}
    result = optimise(toy_model, Logit(0), _start(), steps=5, lr=1.0, progress=False)
    assert all(torch.equal(v, weights[k]) for k, v in toy_model.state_dict().items())
    assert all(p.grad is None for p in toy_model.parameters())
    low, high = pixel_bounds(toy_model, result.image)
    assert (result.image >= low - 1e-6).all() and (result.image <= high + 1e-6).all()


def test_terms_are_weighted_per_image(toy_model):
    init = _start(n=2)
    weights = torch.tensor([0.0, 1e-2])
    args = dict(steps=10, lr=0.05, optimiser="sgd", progress=False)  # Adam magnifies rounding
    result = optimise(toy_model, Logit(1), init,
                      terms=[Term("l2", weights, lambda x: alpha_norm(x, 2))], **args)
    norms = alpha_norm(result.image, 2)
    free = optimise(toy_model, Logit(1), init[:1], **args)
    assert torch.allclose(result.image[0], free.image[0], atol=1e-5)  # weight 0 = no term
    assert norms[1] < norms[0]


def test_schedule_phases_and_octaves_count_steps(toy_model):
    result = optimise(toy_model, Logit(3), _start(size=160), schedule=[(2, 0.1), (3, 0.01)],
                      octaves=2, octave_scale=1.25, progress=False)
    assert len(result.history) == 2 * 5
    assert result.image.shape == (1, 3, 160, 160)
    assert octave_sizes((160, 160), 2, 1.25, 63) == [(128, 128), (160, 160)]


def test_normalised_step_moves_by_the_step_size(toy_model):
    init = _start()
    result = optimise(toy_model, Logit(0), init, steps=1, lr=1.5, optimiser="sgd", momentum=0.0,
                      normalise_step=True, clamp=False, progress=False)
    assert (result.image - init).abs().mean().item() == pytest.approx(1.5, rel=1e-4)


def test_callback_sees_every_step(toy_model):
    seen = []
    optimise(toy_model, Logit(0), _start(), steps=3, lr=0.1, progress=False,
             callback=lambda step, image, record: seen.append((step, image.shape, record["loss"])))
    assert [s for s, _, _ in seen] == [0, 1, 2]


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(steps=0), ValueError, "steps must be a whole number >= 1, got steps=0"),
    (dict(steps=2.5), ValueError, "steps must be a whole number >= 1, got steps=2.5"),
    (dict(lr=-0.1), ValueError, r"lr must be a number > 0 \(the learning rate\), got lr=-0.1"),
    (dict(lr=float("nan")), ValueError, r"lr must be a number > 0 \(the learning rate\), got lr=nan"),
    (dict(momentum=1.5), ValueError, r"momentum must be a number in \[0, 1\), got momentum=1.5"),
    (dict(optimiser="lbfgs"), ValueError, "unknown optimiser 'lbfgs'; valid: adam, sgd"),
    (dict(terms=[Term("tv", -1.0, total_variation)]), ValueError,
     r"weight \(lambda\) of tv must be >= 0, got -1.0"),
    (dict(octaves=4), ValueError,
     "octaves=4 at octave_scale=1.4 shrink the 128 x 128 image to 47 x 47, below the 63"),
    (dict(octaves=0), ValueError, "octaves must be a whole number >= 1"),
])
def test_bad_settings_are_explained(toy_model, kwargs, error, message):
    with pytest.raises(error, match=message):
        optimise(toy_model, Logit(0), _start(), progress=False, **{"steps": 2, "lr": 0.1, **kwargs})


def test_unknown_layer_and_wrong_objective(toy_model):
    with pytest.raises(ValueError, match="unknown layer 'conv7'"):
        optimise(toy_model, Channel("conv7", 0), _start(), steps=1, progress=False)
    with pytest.raises(TypeError, match="objective must be a lecturekit.targets.Target"):
        optimise(toy_model, "conv5", _start(), steps=1, progress=False)


def test_divergence_names_the_term_and_what_to_lower(toy_model):
    def explode(x):
        return (x * float("inf")).flatten(1).sum(1)
    with pytest.raises(FloatingPointError, match=r"step 0: blow-up became NaN or infinite; "
                                                 r"lower the learning rate \(now 0.1\) or the "
                                                 r"weight of blow-up"):
        optimise(toy_model, Logit(0), _start(), terms=[Term("blow-up", 1.0, explode)], steps=2,
                 lr=0.1, progress=False)


def test_feature_matching_refuses_a_reference_of_another_size(toy_model):
    reference = toy_model.forward_to(_start(size=160), "conv1")
    with pytest.raises(ValueError, match="invert images of the size the reference was computed at"):
        optimise(toy_model, FeatureMatching("conv1", reference), _start(), maximise=False,
                 steps=1, progress=False)


@pytest.mark.parametrize("name", ["adam", "sgd"])
def test_the_loops_optimiser_is_torchs_step_for_step(name):
    """The loop calls torch's functional Adam / SGD directly (less per-step overhead); the
    parameters must follow torch.optim's path exactly, through a change of rate with the
    state kept, as the schedules of the inversion recipes do."""
    from lecturekit.optimise.loop import _Optimiser

    ours, theirs = _start(seed=3).requires_grad_(True), _start(seed=3).requires_grad_(True)
    optimiser = _Optimiser(name, [ours], 0.1, momentum=0.9)
    reference = (torch.optim.Adam([theirs], lr=0.1, fused=True) if name == "adam"
                 else torch.optim.SGD([theirs], lr=0.1, momentum=0.9, fused=True))
    for step in range(6):
        if step == 3:
            optimiser.lr = 0.01
            reference.param_groups[0]["lr"] = 0.01
        for x, opt in ((ours, optimiser), (theirs, reference)):
            opt.zero_grad()
            (x.sin() * torch.arange(x.numel()).view_as(x)).sum().backward()
            opt.step()
        assert torch.equal(ours, theirs), f"step {step}"
    assert not torch.equal(ours, _start(seed=3))


def test_feature_matching_is_the_same_on_channels_last_maps():
    """EfficientNet-Lite0's maps are channels-last; the error is read off their memory in
    its own order (no copy), which must give the definition's value and gradient."""
    generator = torch.Generator().manual_seed(0)
    act = torch.randn(2, 5, 7, 6, generator=generator)
    reference = torch.randn(2, 5, 7, 6, generator=generator)
    by_hand = (act - reference).square().sum(dim=(1, 2, 3)) / reference.square().sum(dim=(1, 2, 3))
    for act_format in (torch.contiguous_format, torch.channels_last):
        for reference_format in (torch.contiguous_format, torch.channels_last):
            x = act.clone().contiguous(memory_format=act_format).requires_grad_(True)
            error = FeatureMatching("conv1", reference.contiguous(
                memory_format=reference_format))({"conv1": x})
            assert torch.allclose(error, by_hand, rtol=1e-5), (act_format, reference_format)
            error.sum().backward()
            norm2 = reference.square().sum(dim=(1, 2, 3)).view(2, 1, 1, 1)
            expected = 2 * (act - reference) / norm2
            assert torch.allclose(x.grad, expected, rtol=1e-5, atol=1e-7)


def test_a_pixel_pyramid_starts_at_the_image_and_projects_exactly():
    generator = torch.Generator().manual_seed(0)
    start = torch.randn(2, 3, 12, 10, generator=generator)
    pyramid = PixelPyramid(start, 3)
    assert [tuple(level.shape[-2:]) for level in pyramid.levels] == [(12, 10), (6, 5), (3, 3)]
    assert torch.equal(pyramid.render(), start)  # coarse levels start at zero
    # every output pixel's bilinear weights sum to one: a unit gradient on the image gives
    # each level a gradient summing to the number of pixels
    pyramid.render().sum().backward()
    for level in pyramid.levels:
        assert float(level.grad.sum()) == pytest.approx(2 * 3 * 12 * 10, rel=1e-5)
    with torch.no_grad():
        for level in pyramid.levels[1:]:
            level.normal_(generator=generator)
    low, high = torch.full((1, 3, 1, 1), -0.5), torch.full((1, 3, 1, 1), 0.7)
    wanted = pyramid.render().detach().clamp(min=low, max=high)
    pyramid.project(low, high)
    assert torch.allclose(pyramid.render(), wanted, atol=1e-6)


def test_pyramid_levels_are_checked_and_optimise_with_them(toy_model):
    with pytest.raises(ValueError, match=r"pyramid must be a whole number in 1\.\.4 for a 12 x 10"):
        PixelPyramid(torch.zeros(1, 3, 12, 10), 5)
    low, high = pixel_bounds(toy_model, _start())
    first, second = (optimise(toy_model, Channel("conv2", 3), _start(), steps=4, lr=0.05,
                              pyramid=4, progress=False) for _ in range(2))
    assert torch.equal(first.image, second.image)  # same seed, same result
    assert bool(((first.image >= low - 1e-6) & (first.image <= high + 1e-6)).all())
    assert first.history[-1]["objective"] > first.history[0]["objective"]
    plain = optimise(toy_model, Channel("conv2", 3), _start(), steps=4, lr=0.05, progress=False)
    assert not torch.allclose(plain.image, first.image)  # the coarse levels took part

"""Checks for the optimisation half: the inversion of a layer (Mahendran & Vedaldi 2015,
homework 3), a DeepDream step (Mordvintsev et al. 2015) and a class-model step (Simonyan
et al. 2014, homework 4)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from lecturekit.course.checks.machinery import (Case, CheckFailed, Extras, Mistake, Spec, as_tensor,
                                                call, correct, fail, name_of, not_repeatable,
                                                require_callable, run, scenes, toy)
from lecturekit.examples import SEED_OFFSETS
from lecturekit.models import LayeredNetwork
from lecturekit.optimise.loop import pixel_bounds
from lecturekit.optimise.regularisers import total_variation
from lecturekit.similarity import ssim
from lecturekit.targets import FeatureMatching

# --------------------------------------------------------------------------- inversion

INVERSION_ARGS = ("model", "reference", "layer", "size")
MAX_FEATURE_ERROR = 0.2
"""Mahendran & Vedaldi: the relative feature error of their reconstructions "rarely exceeds
20%"; a reconstruction above that has not found the layer's activations."""


NOISE_ROUGHNESS = 5.0
"""Total variation, in multiples of the scene's, above which a 60-step inversion counts as
unsmoothed: with the homework's priors the toy's relu2 inversions of the check's scenes
measure 2.5 and 0.23, without them 96 and 6.4."""

OTHER_LAYER_STEPS = 100
"""Steps of the check's inversion at the second layer (the homework's default): at relu1
the toy's 64 x 64 check scene needs them (relative feature error 0.27 after 60 steps,
0.14 after 100)."""


def _feature_error(model: LayeredNetwork, reference: torch.Tensor, layer: str,
                   x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return FeatureMatching(layer, reference)(model.activations(x.float(), [layer]))


def _invert(fn: Callable, name: str, model: LayeredNetwork, reference: torch.Tensor,
            layer: str, size: tuple[int, int], **options) -> torch.Tensor:
    """One call of the student's inversion, checked for type, shape and finite values."""
    n = len(reference)
    shape = (n, 3, *size)
    result = as_tensor(call(fn, name, (model, reference, layer, size), INVERSION_ARGS, options),
                       name, f"a batch of images of shape {shape}")
    if tuple(result.shape) != shape:
        raise fail(f"with a reference of {n} image(s) and size={size}, {name} returned shape "
                   f"{tuple(result.shape)}; it must return one image per reference, "
                   f"(N, 3, H, W) = {shape}: start from noise of that shape.", "shape")
    if not torch.isfinite(result).all():
        raise fail(f"{name} returned NaN or infinite values: the optimisation diverged. Lower "
                   f"the learning rate or the regularisers' weights.", "diverged")
    return result.float()


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return bool(torch.allclose(a, b, rtol=0.0, atol=1e-7))


def _small_runs(fn: Callable, name: str, model: LayeredNetwork,
                layer: str) -> Callable[..., torch.Tensor]:
    """Three-step inversions of a 64 x 64 scene with the given weights."""
    images, _, _ = scenes(model, 1, offset=SEED_OFFSETS["check: inversion, prior weights"], size=64)
    reference = model.forward_to(images, layer)
    return lambda **weights: _invert(fn, name, model, reference, layer, (64, 64), steps=3,
                                     **weights)


def _weights_used(small: Callable[..., torch.Tensor], base: torch.Tensor, name: str) -> None:
    """Each weight, set high, must change the result of a short run."""
    for weight, prior in (("tv_weight", "total variation"), ("alpha_weight", "alpha-norm")):
        if _same(small(**{"tv_weight": 0.0, "alpha_weight": 0.0, weight: 1000.0}), base):
            raise fail(f"{name} returns the very same image with {weight}=1000 as with "
                       f"{weight}=0: the {prior} prior never enters the objective, or enters it "
                       f"with a fixed weight. Add it as lk.Term(..., {weight}, ...) so that the "
                       f"argument decides its weight.", f"{weight} ignored")


def _unmatched(name: str, model: LayeredNetwork, reference: torch.Tensor, layer: str,
               with_prior: torch.Tensor, plain: torch.Tensor, steps: int) -> CheckFailed:
    """Why the reconstructions (with and without priors) did not reach the activations."""
    error = _feature_error(model, reference, layer, with_prior)
    plain_error = _feature_error(model, reference, layer, plain)
    start_error = _feature_error(model, reference, layer, 0.5 * torch.randn(
        with_prior.shape, generator=torch.Generator().manual_seed(1)))
    normalised = model.preprocess.normalise(with_prior.clamp(0, 1))
    if (_feature_error(model, reference, layer, normalised) <= MAX_FEATURE_ERROR).all():
        return fail(f"{name} returns the reconstruction as a displayable image in [0, 1]; return "
                    f"the normalised image the model sees (no model.deprocess at the end).",
                    "deprocessed")
    if (error > 1.5 * start_error).any():
        return fail(f"the relative feature error of your reconstructions went up, to "
                    f"{_show(error)}, above that of the starting noise ({_show(start_error)}): "
                    f"you maximised the feature-matching term. It is an error to make small: "
                    f"pass maximise=False to optimise.", "maximised")
    rough = total_variation(with_prior, 2.0, eps=0.0)
    rough_plain = total_variation(plain, 2.0, eps=0.0)
    if (rough > rough_plain).any():
        return fail(f"with your priors the reconstructions end rougher than without them (total "
                    f"variation {_show(rough)}, without priors {_show(rough_plain)}) and far from "
                    f"the activations (relative feature error {_show(error)}): the priors push "
                    f"the wrong way. They are penalties: add weight * R(x) to the error that is "
                    f"minimised.", "prior sign")
    if (plain_error <= MAX_FEATURE_ERROR).all():
        return fail(f"with the priors your reconstructions reach a relative feature error of "
                    f"only {_show(error)}; with tv_weight=0 and alpha_weight=0 they reach "
                    f"{_show(plain_error)}. The priors overwhelm the data term: divide both by "
                    f"n, the number of values of one image, as the objective says.",
                    "priors too strong")
    return fail(f"after {steps} steps the relative feature error of your reconstructions is "
                f"{_show(error)} (starting noise: {_show(start_error)}), even without priors "
                f"{_show(plain_error)}; it should end below {MAX_FEATURE_ERROR:g}. Check the "
                f"objective (FeatureMatching of the layer you were given, minimised) and the "
                f"learning rate.", "not matched")


def check_inversion(fn: Callable[..., torch.Tensor], layer: str = "relu2") -> None:
    """``fn(model, reference, layer, size, steps=..., tv_weight=..., alpha_weight=...,
    lr=..., seed=...)`` must return images (N, 3, H, W) of ``size`` = (H, W) whose
    activations at ``layer`` match ``reference`` (N, ...), found by optimisation from the
    activations alone, with the two priors weighted by ``tv_weight`` and ``alpha_weight``.

    The check inverts two scenes of 80 x 96 pixels at ``layer`` and one at another layer,
    and requires: a relative feature error below 20% (Mahendran & Vedaldi), and that the
    priors matter: the same call with both weights 0 must give a rougher reconstruction
    (total variation at least halved by the priors) that is less like the scene (SSIM at
    least 0.1 lower). Each weight must change the result, and a second call the same one.
    """
    require_callable(fn)
    name = name_of(fn)
    model = toy()
    model.check_layer(layer)
    other = "relu1" if layer != "relu1" else "pool1"
    small = _small_runs(fn, name, model, layer)
    base = small(tv_weight=0.0, alpha_weight=0.0)
    not_repeatable(small(tv_weight=0.0, alpha_weight=0.0), base,
                   Case((), "three steps on a 64 x 64 scene"), name, 1e-6, 1e-7)

    images, images01, _ = scenes(model, 2, offset=SEED_OFFSETS["check: inversion"], size=96)
    images, images01 = images[:, :, :80], images01[:, :, :80]
    size = (80, 96)
    reference = model.forward_to(images, layer)
    steps = 60
    with_prior = _invert(fn, name, model, reference, layer, size, steps=steps)
    error = _feature_error(model, reference, layer, with_prior)
    plain = _invert(fn, name, model, reference, layer, size, steps=steps, tv_weight=0.0,
                    alpha_weight=0.0)
    if (error > MAX_FEATURE_ERROR).any():
        raise _unmatched(name, model, reference, layer, with_prior, plain, steps)
    _priors_help(name, model, images, images01, with_prior, plain)
    _weights_used(small, base, name)

    single, _, _ = scenes(model, 1, offset=SEED_OFFSETS["check: inversion, other layer"], size=64)
    reference = model.forward_to(single, other)
    try:
        result = _invert(fn, name, model, reference, other, (64, 64), steps=OTHER_LAYER_STEPS)
    except CheckFailed as failed:
        if failed.mistake != "raised":
            raise
        raise fail(f"at {layer} your inversion works, but at {other} it fails: "
                   f"{str(failed)[len('not yet: '):]}. Use the layer you are given, for "
                   f"FeatureMatching and everywhere else.", "one layer only") from failed
    error = _feature_error(model, reference, other, result)
    if (error > MAX_FEATURE_ERROR).any():
        raise fail(f"at {layer} your inversion works, but at {other} (a 64 x 64 scene) its "
                   f"relative feature error stays at {_show(error)}: use the layer you are "
                   f"given, for the reference and for FeatureMatching.", "one layer only")
    correct(f"{name} matches the activations of test scenes at {layer} and {other} (relative "
            f"error below {MAX_FEATURE_ERROR:g}, other sizes than 128), and its priors make the "
            f"reconstruction smoother and more like the scene than the same inversion without "
            f"them")


def _show(values: torch.Tensor) -> str:
    return ", ".join(f"{float(v):.3f}" for v in values)


def _priors_help(name: str, model: LayeredNetwork, images: torch.Tensor,
                 images01: torch.Tensor, with_prior: torch.Tensor, plain: torch.Tensor) -> None:
    """The piece the homework teaches: without its priors the inversion must be worse."""
    rough = total_variation(with_prior, 2.0, eps=0.0) / total_variation(images, 2.0, eps=0.0)
    rough_plain = total_variation(plain, 2.0, eps=0.0) / total_variation(images, 2.0, eps=0.0)
    like = ssim(model.deprocess(with_prior), images01)
    like_plain = ssim(model.deprocess(plain), images01)
    if _same(with_prior, plain):
        if (rough > NOISE_ROUGHNESS).any():
            raise fail(f"{name} returns the same image with tv_weight=0 and alpha_weight=0 as "
                       f"with the default weights, and it is as rough as noise (total variation "
                       f"{_show(rough)} times the scene's): no prior enters the objective. Add "
                       f"your total_variation and alpha_norm as lk.Term(...)s.", "no prior")
        raise fail(f"{name} returns the same image with tv_weight=0 and alpha_weight=0 as with "
                   f"the default weights: the priors use fixed weights instead of the arguments "
                   f"tv_weight and alpha_weight.", "weights ignored")
    if (rough >= rough_plain).any():
        raise fail(f"with your priors the reconstruction is rougher than without them (total "
                   f"variation {_show(rough)} times the scene's, without priors "
                   f"{_show(rough_plain)}): the priors push the wrong way. They are penalties: "
                   f"add weight * R(x) to the error that is minimised.", "prior sign")
    if (rough > 0.5 * rough_plain).any() or (like < like_plain + 0.1).any():
        raise fail(f"your priors barely change the reconstruction: total variation "
                   f"{_show(rough)} times the scene's (without priors {_show(rough_plain)}), "
                   f"SSIM to the scene {_show(like)} (without priors {_show(like_plain)}). With "
                   f"the default weights the priors should at least halve the roughness and "
                   f"raise the SSIM by 0.1: use total_variation with beta = 2 and alpha_norm "
                   f"with alpha = 6, divided by n, with the weights you are given.",
                   "prior too weak")


# --------------------------------------------------------------------------- DeepDream step

def _layer_gradient(model: LayeredNetwork, x: torch.Tensor, layer: str,
                    objective: str = "l2") -> torch.Tensor:
    x = x.detach().clone().requires_grad_(True)
    act = model.forward_to(x, layer)
    value = {"l2": lambda a: 0.5 * a.pow(2).sum(), "sum": lambda a: a.sum(),
             "l1": lambda a: a.abs().sum()}[objective](act)
    (gradient,) = torch.autograd.grad(value, x)
    return gradient


def _roll(x: torch.Tensor, shift: tuple[int, int], sign: int = 1,
          dims: tuple[int, int] = (2, 3)) -> torch.Tensor:
    return torch.roll(x, shifts=(sign * shift[0], sign * shift[1]), dims=dims)


def _mean_abs(g: torch.Tensor) -> torch.Tensor:
    return g.abs().mean(dim=(1, 2, 3), keepdim=True)


def _per_image_normalised(g: torch.Tensor) -> torch.Tensor:
    return g / _mean_abs(g)


def _jittered(model: LayeredNetwork, image: torch.Tensor, layer: str, shift: tuple[int, int],
              dims: tuple[int, int] = (2, 3), objective: str = "l2") -> torch.Tensor:
    """The gradient of the rolled image, rolled back (the right recipe with ``dims``)."""
    return _roll(_layer_gradient(model, _roll(image, shift, dims=dims), layer, objective),
                 shift, -1, dims=dims)


def dream_spec() -> Spec:
    model = toy()
    images, _, _ = scenes(model, 2, offset=SEED_OFFSETS["check: dream step"])
    noise = 0.5 * torch.randn(1, 3, 112, 112, generator=torch.Generator().manual_seed(5))
    cases = [
        Case((model, images, "conv4", 0.5, (5, -7)), "2 test scenes, layer conv4, shift (5, -7)"),
        Case((model, noise, "relu3", 1.0, (-13, 9)), "a noise image, layer relu3, shift (-13, 9)"),
        Case((model, images[1:], "conv5", 0.25, (0, 3)), "1 scene, layer conv5, shift (0, 3)"),
    ]
    for case in cases:
        _, image, layer, step, shift = case.args
        rolled = _layer_gradient(model, _roll(image, shift), layer)  # in the rolled frame
        case.extra = Extras(lambda m=model, i=image, ly=layer, sh=shift: {
            "plain": _layer_gradient(m, i, ly),
            "summed": _jittered(m, i, ly, sh, objective="sum"),
            "l1": _jittered(m, i, ly, sh, objective="l1"),
            "channels": _jittered(m, i, ly, sh, dims=(1, 2)),
            "swapped": _jittered(m, i, ly, sh[::-1])})
        case.extra.update(rolled=rolled, back=_roll(rolled, shift, -1))
        case.want = image + step * _per_image_normalised(case.extra["back"])

    def step_of(c: Case, g: torch.Tensor, norm: Callable = _mean_abs,
                sign: float = 1.0) -> torch.Tensor:
        return c["image"] + sign * c["step_size"] * g / norm(g)

    back = lambda c: c.extra["back"]
    recipe = (" One step: roll the image by shift, take the gradient g of 1/2 ||a||^2, roll g "
              "back by -shift, and return image + step_size * g / g.abs().mean(dim=(1, 2, 3), "
              "keepdim=True).")
    not_undone = "the jitter is not undone: the gradient (or the image) must be rolled back " \
                 "by -shift, so that the step lands on the unshifted image."
    low_high = lambda c: pixel_bounds(model, c["image"])
    mistakes = [
        Mistake("not normalised", "the gradient is not normalised: DeepDream divides it by its "
                "mean absolute value (per image) so that every step has the same size."
                + recipe, lambda c: c["image"] + c["step_size"] * back(c)),
        Mistake("descends", "your step descends instead of ascending (a sign error): DeepDream "
                "makes the layer's activations larger, so it adds the normalised gradient."
                + recipe, lambda c: step_of(c, back(c), sign=-1.0)),
        Mistake("rolled image", not_undone + " You returned the rolled image." + recipe,
                lambda c: _roll(c["image"], c["shift"]) + c["step_size"] * c.extra["rolled"]
                / _mean_abs(c.extra["rolled"])),
        Mistake("not undone", not_undone + " You added the gradient of the rolled image "
                "without rolling it back." + recipe, lambda c: step_of(c, c.extra["rolled"])),
        Mistake("undone twice", "the jitter is undone in the wrong direction: roll back by "
                "(-dy, -dx), the opposite of the shift." + recipe,
                lambda c: step_of(c, _roll(c.extra["rolled"], c["shift"], 1))),
        Mistake("shift ignored", "the shift is ignored: roll the image by shift before taking "
                "the gradient, and roll the gradient back afterwards (random jitter keeps "
                "DeepDream from painting a fixed grid pattern)." + recipe,
                lambda c: step_of(c, c.extra["plain"])),
        Mistake("roll axes", "you rolled along the wrong axes: dims=(1, 2) moves the colour "
                "channels and the rows. An image batch is (N, C, H, W): roll along dims=(2, 3)."
                + recipe, lambda c: step_of(c, c.extra["channels"])),
        Mistake("shift swapped", "you swapped the two parts of the shift: dy moves the rows "
                "(dim 2) and dx the columns (dim 3), shifts=(dy, dx), dims=(2, 3)." + recipe,
                lambda c: step_of(c, c.extra["swapped"])),
        Mistake("batch normalised", "you normalised the gradient by the mean |g| of the whole "
                "batch; DeepDream normalises each image by its own mean absolute gradient."
                + recipe, lambda c: step_of(c, back(c), norm=lambda g: g.abs().mean())),
        Mistake("max normalised", "you normalised by the largest |g|; DeepDream divides by the "
                "mean absolute value." + recipe,
                lambda c: step_of(c, back(c), norm=lambda g: g.abs().amax((1, 2, 3), True))),
        Mistake("norm normalised", "you normalised by the Euclidean norm of g; DeepDream divides "
                "by the mean absolute value." + recipe,
                lambda c: step_of(c, back(c), norm=lambda g: torch.linalg.vector_norm(
                    g, dim=(1, 2, 3), keepdim=True))),
        Mistake("std normalised", "you normalised by the standard deviation of g; DeepDream "
                "divides by the mean absolute value." + recipe,
                lambda c: step_of(c, back(c), norm=lambda g: g.std(dim=(1, 2, 3), keepdim=True))),
        Mistake("sum objective", "you maximised the sum of the layer's activations; DeepDream "
                "maximises half their squared L2 norm, 1/2 ||a||^2 (it amplifies what is "
                "already strong)." + recipe, lambda c: step_of(c, c.extra["summed"])),
        Mistake("l1 objective", "you maximised the sum of |a| (an L1 norm); DeepDream maximises "
                "half the squared L2 norm, 1/2 ||a||^2." + recipe,
                lambda c: step_of(c, c.extra["l1"])),
        Mistake("clamped to [0, 1]", "you clipped the result to [0, 1], but the image is "
                "normalised (the model's mean subtracted, divided by its std): its valid range "
                "is not [0, 1]. Do not clip here; the loop clips to lk.pixel_bounds." + recipe,
                lambda c: c.want.clamp(0, 1)),
        Mistake("clamped", "you clipped the result to the valid pixel range; the step itself "
                "must not clip (the loop does it after the step)." + recipe,
                lambda c: torch.maximum(torch.minimum(c.want, low_high(c)[1]), low_high(c)[0])),
        Mistake("only step", "you returned only the step, not the new image: return image + "
                "step." + recipe, lambda c: c.want - c["image"]),
    ]
    return Spec(("model", "image", "layer", "step_size", "shift"),
                "the new image, a tensor of the shape of image", cases, mistakes,
                rtol=1e-3, atol=1e-4)


def check_dream_step(fn: Callable[[LayeredNetwork, torch.Tensor, str, float, tuple[int, int]],
                                  torch.Tensor]) -> None:
    """``fn(model, image, layer, step_size, shift)`` must make one DeepDream step: roll the
    image by ``shift`` = (dy, dx), take the gradient of 1/2 ||a||^2 of ``layer``, roll the
    gradient back, and return ``image + step_size * g / mean(|g|)`` (mean per image)."""
    spec = dream_spec()
    run(fn, spec)
    correct(f"{name_of(fn)} rolls, ascends 1/2 ||a||^2 with the gradient normalised by its "
            f"mean |g| per image, and rolls back, on all {len(spec.cases)} test cases (three "
            f"layers, shifts and step sizes)")


# --------------------------------------------------------------------------- class model step

def _class_gradients(model: LayeredNetwork, case: Case,
                     keys: tuple[str, ...] | None = None) -> dict[str, torch.Tensor]:
    """d value / d image for the raw score and the wrong values a student may climb."""
    _, image, c, _, _ = case.args
    rows = torch.arange(len(image))
    values = {"score": lambda s: s[:, c], "softmax": lambda s: s.softmax(1)[:, c],
              "log-softmax": lambda s: s.log_softmax(1)[:, c], "all": lambda s: s.sum(1),
              "predicted": lambda s: s[rows, s.argmax(1)]}
    found = {}
    for key in keys or tuple(values):
        x = image.detach().clone().requires_grad_(True)
        (found[key],) = torch.autograd.grad(values[key](model(x)).sum(), x)
    return found


def class_model_spec() -> Spec:
    model = toy()
    g = torch.Generator().manual_seed(11)
    images = [0.3 * torch.randn(2, 3, 128, 128, generator=g),
              0.5 * torch.randn(1, 3, 96, 96, generator=g),
              0.5 * torch.randn(1, 3, 64, 80, generator=g)]
    with torch.no_grad():
        predicted = [model(x).argmax(1) for x in images]
    classes: list[int] = []  # a class no image of the case predicts, another per case
    for found in predicted:
        classes.append(next(k for k in range(len(model.classes))
                            if k not in found.tolist() and k not in classes))
    settings = [(0.1, 0.05), (0.5, 0.2), (0.5, 5.0)]
    cases = [Case((model, x, c, lr, lam), f"{len(x)} noise image(s) of {x.shape[2]} x "
                                          f"{x.shape[3]} pixels, class {c}, lr {lr}, lam {lam}")
             for x, c, (lr, lam) in zip(images, classes, settings)]
    for case in cases:
        case.extra = Extras(lambda c=case: _class_gradients(model, c))
        case.extra.update(_class_gradients(model, case, ("score",)))
        _, image, _, lr, lam = case.args
        case.want = image + lr * (case.extra["score"] - 2 * lam * image)

    def ascend(c: Case, grad: torch.Tensor, penalty: torch.Tensor, scale: float = 1.0,
               sign: float = 1.0) -> torch.Tensor:
        return c["image"] + sign * c["lr"] * scale * (grad - c["lam"] * penalty)

    two_i = lambda c: 2 * c["image"]
    score = lambda c: c.extra["score"]
    objective = " The step is image + lr * gradient of S_c(I) - lam * ||I||_2^2, whose " \
                "gradient is dS_c/dI - 2 * lam * I."
    raw = ("Simonyan et al. maximise the unnormalised score (the logit): the probability can "
           "also be raised by pushing the other classes down.")
    mistakes = [
        Mistake("softmax", f"you maximised the softmax probability instead of the raw score "
                f"S_c. {raw}" + objective, lambda c: ascend(c, c.extra["softmax"], two_i(c))),
        Mistake("log-softmax", f"you maximised the log-probability (log-softmax), or minimised "
                f"the cross-entropy loss, instead of the raw score S_c. {raw}" + objective,
                lambda c: ascend(c, c.extra["log-softmax"], two_i(c))),
        Mistake("cross-entropy mean", f"you minimised the cross-entropy loss (F.cross_entropy, "
                f"which also averages over the batch) instead of maximising the raw score S_c. "
                f"{raw}" + objective,
                lambda c: ascend(c, c.extra["log-softmax"] / len(c["image"]), two_i(c))),
        Mistake("cross-entropy ascended", "you climbed the cross-entropy loss of the class: that "
                "makes the class less likely. The class model climbs the raw score S_c."
                + objective, lambda c: ascend(c, -c.extra["log-softmax"], two_i(c))),
        Mistake("all classes", "you climbed the sum of all class scores; take only the score of "
                "class_index." + objective, lambda c: ascend(c, c.extra["all"], two_i(c))),
        Mistake("predicted class", "you climbed the predicted class (argmax of the scores) "
                "instead of the class given in class_index." + objective,
                lambda c: ascend(c, c.extra["predicted"], two_i(c))),
        Mistake("descends", "your step descends instead of ascending (a sign error): the class "
                "model maximises S_c(I) - lam * ||I||^2." + objective,
                lambda c: ascend(c, score(c), two_i(c), sign=-1.0)),
        Mistake("penalty sign", "the sign of the regulariser is wrong: the objective is S_c(I) "
                "- lam * ||I||^2, so the penalty pulls the image towards zero; you pushed it "
                "away." + objective, lambda c: ascend(c, score(c), -two_i(c))),
        Mistake("no penalty", "the regulariser is missing: the objective is S_c(I) - lam * "
                "||I||_2^2." + objective, lambda c: c["image"] + c["lr"] * score(c)),
        Mistake("penalty without 2", "the regulariser's gradient is 2 * lam * I (the derivative "
                "of lam * ||I||^2); you used lam * I." + objective,
                lambda c: ascend(c, score(c), c["image"])),
        Mistake("penalty mean", "you penalised the mean of I^2 instead of the squared L2 norm "
                "||I||_2^2, the sum over all pixels and channels." + objective,
                lambda c: ascend(c, score(c), two_i(c) / c["image"][0].numel())),
        Mistake("penalty not squared", "you penalised ||I||_2 instead of its square ||I||_2^2."
                + objective, lambda c: ascend(c, score(c), c["image"] / c["image"].flatten(1)
                                              .norm(dim=1).view(-1, 1, 1, 1))),
        Mistake("l1 penalty", "you penalised sum |I| (an L1 norm) instead of the squared L2 "
                "norm ||I||_2^2 = sum I^2." + objective,
                lambda c: ascend(c, score(c), torch.sign(c["image"]))),
        Mistake("batch mean", "you averaged the objective over the batch (.mean()), so every "
                "image's gradient is divided by the batch size N; the images do not interact, "
                "sum the objective over them." + objective,
                lambda c: ascend(c, score(c), two_i(c), scale=1 / len(c["image"]))),
        Mistake("normalised", "you normalised the gradient like DeepDream; the class-model step "
                "is plain gradient ascent." + objective,
                lambda c: c["image"] + c["lr"] * _per_image_normalised(
                    score(c) - c["lam"] * two_i(c))),
        Mistake("clamped to [0, 1]", "you clipped the result to [0, 1], but the image is "
                "normalised: its valid range is not [0, 1]. Do not clip here; the loop clips to "
                "lk.pixel_bounds." + objective, lambda c: c.want.clamp(0, 1)),
        Mistake("only step", "you returned only the step, not the new image." + objective,
                lambda c: c.want - c["image"]),
    ]
    return Spec(("model", "image", "class_index", "lr", "lam"),
                "the new image, a tensor of the shape of image", cases, mistakes,
                rtol=1e-5, atol=1e-6)


def check_class_model_step(fn: Callable[[LayeredNetwork, torch.Tensor, int, float, float],
                                        torch.Tensor]) -> None:
    """``fn(model, image, class_index, lr, lam)`` must make one gradient-ascent step on
    Simonyan et al.'s class-model objective ``S_c(I) - lam * ||I||_2^2`` (raw score S_c, the
    squared L2 norm summed per image): ``image + lr * gradient``."""
    spec = class_model_spec()
    run(fn, spec)
    correct(f"{name_of(fn)} ascends S_c(I) - lam * ||I||^2 (raw score, squared L2 penalty) on "
            f"all {len(spec.cases)} test cases (three classes, image sizes and weights)")

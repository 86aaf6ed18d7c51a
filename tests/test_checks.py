"""The homework checks: each accepts the right answer and names the classic wrong ones.

Every check of :mod:`lecturekit.course.checks` is run on a reference implementation
(it must print "correct") and on at least three plausible wrong ones, written
here the way a student might write them; the message must name the mistake.
"""

from contextlib import contextmanager

import pytest
import torch
from torch import nn

from lecturekit.course import checks
from lecturekit.course.checks import CheckFailed
from lecturekit.optimise.loop import Term, optimise
from lecturekit.targets import FeatureMatching


def accepts(check, fn, capsys):
    check(fn)
    out = capsys.readouterr().out
    assert out.startswith("correct"), out


def rejects(check, fn, *phrases):
    with pytest.raises(CheckFailed) as info:
        check(fn)
    message = str(info.value)
    assert message.startswith("not yet"), message
    for phrase in phrases:
        assert phrase.lower() in message.lower(), f"{phrase!r} not in: {message}"
    return message


def zeros(r):
    return torch.zeros_like(r)


# --------------------------------------------------------------------------- ReLU rules

def guided(f_in, r_out):
    return torch.where((f_in > 0) & (r_out > 0), r_out, zeros(r_out))


def backprop(f_in, r_out):
    return torch.where(f_in > 0, r_out, zeros(r_out))


def deconvnet(f_in, r_out):
    return torch.where(r_out > 0, r_out, zeros(r_out))


def guided_multiplied(f_in, r_out):
    return f_in.clamp(min=0) * r_out.clamp(min=0)


def guided_ties(f_in, r_out):
    return torch.where((f_in >= 0) & (r_out > 0), r_out, zeros(r_out))


def guided_in_place(f_in, r_out):
    r_out[f_in <= 0] = 0
    r_out[r_out < 0] = 0
    return r_out


def not_filled(*args):
    raise NotImplementedError("fill in this gap")


def test_rule_checks_accept_the_three_rules(capsys):
    accepts(checks.check_backprop_rule, backprop, capsys)
    accepts(checks.check_deconvnet_rule, deconvnet, capsys)
    accepts(checks.check_guided_rule, guided, capsys)


@pytest.mark.parametrize("wrong, phrases", [
    (backprop, ["plain backprop", "not guided backprop"]),
    (deconvnet, ["where the forward input was negative", "Deconvnet rule, not guided backprop"]),
    (guided_multiplied, ["multiplies the signal by the forward activation",
                         "instead of masking it by its sign"]),
    (guided_ties, ["exactly 0", "f_in > 0, not f_in >= 0"]),
    (guided_in_place, ["changed its input `r_out` in place"]),
    (not_filled, ["NotImplementedError", "not filled in"]),
])
def test_guided_check_names_the_mistake(wrong, phrases):
    rejects(checks.check_guided_rule, wrong, *phrases)


@pytest.mark.parametrize("wrong, phrases", [
    (guided, ["also drops the negative part", "guided backprop, not the true gradient"]),
    (deconvnet, ["sign of the signal", "Deconvnet rule, not backprop"]),
    (lambda f, r: f.clamp(min=0) * r, ["multiplies the signal by the forward activation"]),
    (lambda f, r: torch.where(f >= 0, r, zeros(r)), ["f_in >= 0"]),
])
def test_backprop_check_names_the_mistake(wrong, phrases):
    rejects(checks.check_backprop_rule, wrong, *phrases)


@pytest.mark.parametrize("wrong, phrases", [
    (backprop, ["sign of the forward input", "backprop, not the Deconvnet rule"]),
    (guided, ["also applies the forward mask", "guided backprop, not the Deconvnet rule"]),
    (lambda f, r: f * r.clamp(min=0), ["multiplies the signal by the forward activation"]),
    (lambda f, r: r, ["passes the signal through unchanged"]),
])
def test_deconvnet_check_names_the_mistake(wrong, phrases):
    rejects(checks.check_deconvnet_rule, wrong, *phrases)


def test_an_unexplained_rule_shows_where_it_differs():
    message = rejects(checks.check_guided_rule, lambda f, r: 2 * r, "largest difference")
    assert "expected" in message


# --------------------------------------------------------------------------- whole network

def relu_swapper(rule, names=None, restore=True, use_finally=True):
    """A student's context manager: every nn.ReLU (or those named) swapped for ``rule``."""

    class Function(torch.autograd.Function):
        @staticmethod
        def forward(ctx, f_in):
            ctx.save_for_backward(f_in)
            return f_in.clamp(min=0)

        @staticmethod
        def backward(ctx, r_out):
            (f_in,) = ctx.saved_tensors
            return rule(f_in, r_out)

    class Module(nn.Module):
        def forward(self, x):
            return Function.apply(x)

    @contextmanager
    def guided_backprop(model):
        slots = [(parent, name, child) for parent in model.modules()
                 for name, child in parent.named_children()
                 if isinstance(child, nn.ReLU) and (names is None or name in names)]
        if not use_finally:
            for parent, name, _ in slots:
                setattr(parent, name, Module())
            yield model
            for parent, name, child in slots:
                setattr(parent, name, child)
            return
        try:
            for parent, name, _ in slots:
                setattr(parent, name, Module())
            yield model
        finally:
            if restore:
                for parent, name, child in slots:
                    setattr(parent, name, child)

    return guided_backprop


def hook_version(remove=True):
    """The usual hook recipe: clamp the ReLU's input gradient (already masked) at zero."""

    @contextmanager
    def guided_backprop(model):
        handles = [m.register_full_backward_hook(lambda mod, g_in, g_out: (g_in[0].clamp(min=0),))
                   for m in model.modules() if isinstance(m, nn.ReLU)]
        try:
            yield model
        finally:
            if remove:
                for handle in handles:
                    handle.remove()

    return guided_backprop


def test_whole_network_check_accepts_swapped_relus_and_hooks(capsys):
    accepts(checks.check_whole_network_guided, relu_swapper(guided), capsys)
    accepts(checks.check_whole_network_guided, hook_version(), capsys)


@pytest.mark.parametrize("wrong, phrases", [
    (relu_swapper(backprop), ["leaves the backward pass unchanged", "plain gradient"]),
    (relu_swapper(deconvnet), ["Deconvnet rule", "forward input f_in was > 0"]),
    (relu_swapper(guided, names=("relu1", "relu2", "relu3", "relu4", "relu5")),
     ["only the ReLUs of the convolutional part", "relu6 and relu7", "model.features"]),
    (relu_swapper(guided_multiplied), ["multiply the signal by the forward activation"]),
    (relu_swapper(guided, restore=False), ["not the original module", "finally"]),
    (relu_swapper(guided, use_finally=False), ["raises an exception", "not restored"]),
    (hook_version(remove=False), ["hook outlives the with block", "handle.remove()"]),
    (lambda model: None, ["not a context manager"]),
])
def test_whole_network_check_names_the_mistake(wrong, phrases):
    rejects(checks.check_whole_network_guided, wrong, *phrases)


def leaky_forward():
    """Swaps the ReLUs for leaky ones: the forward pass changes."""

    @contextmanager
    def guided_backprop(model):
        slots = [(p, n, c) for p in model.modules() for n, c in p.named_children()
                 if isinstance(c, nn.ReLU)]
        try:
            for parent, name, _ in slots:
                setattr(parent, name, nn.LeakyReLU(0.1))
            yield model
        finally:
            for parent, name, child in slots:
                setattr(parent, name, child)

    return guided_backprop


def test_whole_network_check_rejects_a_changed_forward_pass():
    rejects(checks.check_whole_network_guided, leaky_forward(),
            "forward pass gives different class scores")


# --------------------------------------------------------------------------- gradients, saliency

def score_gradient(model, images, class_index, kind="logit", sign=1.0):
    x = images.detach().clone().requires_grad_(True)
    out = model(x)
    if kind == "softmax":
        out = out.softmax(1)
    elif kind == "cross_entropy":
        out = -out.log_softmax(1)
    rows = torch.arange(len(x))
    score = out.sum(1) if kind == "all" else out[rows, class_index]
    (gradient,) = torch.autograd.grad(sign * score.sum(), x)
    return gradient


def test_score_gradient_check_accepts_the_logit_gradient(capsys):
    accepts(checks.check_score_gradient, score_gradient, capsys)


@pytest.mark.parametrize("kwargs, phrases", [
    ({"kind": "softmax"}, ["softmax probability instead of the raw score"]),
    ({"kind": "cross_entropy"}, ["cross-entropy loss"]),
    ({"sign": -1.0}, ["sign is flipped"]),
    ({"kind": "all"}, ["sum of all class scores"]),
])
def test_score_gradient_check_names_the_mistake(kwargs, phrases):
    rejects(checks.check_score_gradient,
            lambda m, x, c: score_gradient(m, x, c, **kwargs), *phrases)


def saliency(model, images, class_index):
    return score_gradient(model, images, class_index).abs().amax(dim=1)


def test_saliency_check_accepts_the_paper_map(capsys):
    accepts(checks.check_saliency, saliency, capsys)


@pytest.mark.parametrize("wrong, phrases", [
    (lambda m, x, c: score_gradient(m, x, c).abs().sum(dim=1),
     ["summed |gradient| over the colour channels", "maximum"]),
    (lambda m, x, c: score_gradient(m, x, c).amax(dim=1),
     ["absolute value is missing"]),
    (lambda m, x, c: score_gradient(m, x, c, kind="softmax").abs().amax(dim=1),
     ["softmax probability instead of the raw score"]),
    (lambda m, x, c: score_gradient(m, x, c).abs().amax(dim=1, keepdim=True),
     ["kept the channel axis"]),
    (lambda m, x, c: (lambda s: s / s.flatten(1).amax(1).view(-1, 1, 1))(saliency(m, x, c)),
     ["normalised each map"]),
])
def test_saliency_check_names_the_mistake(wrong, phrases):
    rejects(checks.check_saliency, wrong, *phrases)


# --------------------------------------------------------------------------- regularisers

def alpha_norm(x, alpha=6.0):
    return x.abs().pow(alpha).sum(dim=(1, 2, 3))


def test_alpha_norm_check_accepts_the_sum_of_powers(capsys):
    accepts(checks.check_alpha_norm, alpha_norm, capsys)


@pytest.mark.parametrize("wrong, phrases", [
    (lambda x, a: x.pow(a).sum(dim=(1, 2, 3)), ["absolute value is missing", "odd alpha"]),
    (lambda x, a: x.abs().pow(a).mean(dim=(1, 2, 3)), ["mean instead of the sum"]),
    (lambda x, a: torch.linalg.vector_norm(x.flatten(1), ord=a, dim=1), ["alpha-th root"]),
    (lambda x, a: x.abs().pow(a).sum(), ["one number for the whole batch"]),
    (lambda x, a: x.square().sum(dim=(1, 2, 3)), ["ignores alpha"]),
])
def test_alpha_norm_check_names_the_mistake(wrong, phrases):
    rejects(checks.check_alpha_norm, wrong, *phrases)


def total_variation(x, beta=2.0):
    right = x[:, :, :-1, 1:] - x[:, :, :-1, :-1]
    down = x[:, :, 1:, :-1] - x[:, :, :-1, :-1]
    return (right.square() + down.square()).pow(beta / 2).sum(dim=(1, 2, 3))


def tv_width_only(x, beta=2.0):
    return (x[:, :, :, 1:] - x[:, :, :, :-1]).square().pow(beta / 2).sum(dim=(1, 2, 3))


def tv_channels_and_height(x, beta=2.0):
    """The public baseline's slicing: channel x height instead of height x width."""
    across = x[:, 1:, :-1, :] - x[:, :-1, :-1, :]
    down = x[:, :-1, 1:, :] - x[:, :-1, :-1, :]
    return (across.square() + down.square()).pow(beta / 2).sum(dim=(1, 2, 3))


def tv_no_exponent(x, beta=2.0):
    right = x[:, :, :-1, 1:] - x[:, :, :-1, :-1]
    down = x[:, :, 1:, :-1] - x[:, :, :-1, :-1]
    return (right.square() + down.square()).sum(dim=(1, 2, 3))


def tv_anisotropic(x, beta=2.0):
    right = x[:, :, :-1, 1:] - x[:, :, :-1, :-1]
    down = x[:, :, 1:, :-1] - x[:, :, :-1, :-1]
    return (right.abs().pow(beta) + down.abs().pow(beta)).sum(dim=(1, 2, 3))


def tv_with_eps(x, beta=2.0):
    right = x[:, :, :-1, 1:] - x[:, :, :-1, :-1]
    down = x[:, :, 1:, :-1] - x[:, :, :-1, :-1]
    return (right.square() + down.square() + 1e-8).pow(beta / 2).sum(dim=(1, 2, 3))


def test_total_variation_check_accepts_the_paper_formula(capsys):
    accepts(checks.check_total_variation, total_variation, capsys)


@pytest.mark.parametrize("wrong, phrases", [
    (tv_width_only, ["one axis only", "along the width"]),
    (lambda x, beta=2.0: tv_width_only(x.transpose(2, 3), beta), ["one axis only",
                                                                  "along the height"]),
    (tv_channels_and_height, ["across the channels", "public implementation"]),
    (tv_no_exponent, ["exponent beta is missing"]),
    (tv_anisotropic, ["each difference to the power separately"]),
    (tv_with_eps, ["not 0 on a flat image"]),
    (lambda x, beta=2.0: total_variation(x, beta).sum(), ["one number for the whole batch"]),
])
def test_total_variation_check_names_the_mistake(wrong, phrases):
    rejects(checks.check_total_variation, wrong, *phrases)


# --------------------------------------------------------------------------- inversion

def invert(model, images, layer, steps=150, maximise=False, seed=0):
    reference = model.forward_to(images, layer).detach()
    start = 0.5 * torch.randn(images.shape, generator=torch.Generator().manual_seed(seed))
    n = images[0].numel()
    terms = [Term("tv", 1.0, lambda x: total_variation(x) / n),
             Term("alpha", 0.01, lambda x: alpha_norm(x) / n)]
    return optimise(model, FeatureMatching(layer, reference), start, maximise=maximise,
                    terms=terms, steps=steps, lr=0.05, progress=False, seed=seed).image


def test_inversion_check_accepts_a_working_inversion(capsys):
    accepts(checks.check_inversion, invert, capsys)


@pytest.mark.parametrize("wrong, phrases", [
    (lambda m, x, layer: invert(m, x, layer, steps=30, maximise=True),
     ["no better than noise", "maximise=False"]),
    (lambda m, x, layer: x.clone(), ["returned the original images"]),
    (lambda m, x, layer: invert(m, x, layer, steps=2), ["should end below 0.1"]),
    (lambda m, x, layer: invert(m, x, layer)[:, :, :64], ["returned shape"]),
])
def test_inversion_check_names_the_mistake(wrong, phrases):
    rejects(checks.check_inversion, wrong, *phrases)


# --------------------------------------------------------------------------- DeepDream step

def dream_step(model, image, layer, step_size, shift, normalise=True, sign=1.0, undo=True):
    dy, dx = shift
    x = torch.roll(image, shifts=(dy, dx), dims=(2, 3)).detach().requires_grad_(True)
    (g,) = torch.autograd.grad(0.5 * model.forward_to(x, layer).pow(2).sum(), x)
    if undo:
        g = torch.roll(g, shifts=(-dy, -dx), dims=(2, 3))
    if normalise:
        g = g / g.abs().mean(dim=(1, 2, 3), keepdim=True)
    return image + sign * step_size * g


def dream_step_rolled_result(model, image, layer, step_size, shift):
    """Rolls the image, steps, and forgets to roll back."""
    x = torch.roll(image, shifts=shift, dims=(2, 3)).detach().requires_grad_(True)
    (g,) = torch.autograd.grad(0.5 * model.forward_to(x, layer).pow(2).sum(), x)
    return x.detach() + step_size * g / g.abs().mean(dim=(1, 2, 3), keepdim=True)


def test_dream_step_check_accepts_the_recipe(capsys):
    accepts(checks.check_dream_step, dream_step, capsys)


@pytest.mark.parametrize("wrong, phrases", [
    (lambda *a: dream_step(*a, normalise=False), ["not normalised", "mean absolute value"]),
    (lambda *a: dream_step(*a, undo=False), ["jitter is not undone"]),
    (dream_step_rolled_result, ["jitter is not undone", "returned the rolled image"]),
    (lambda *a: dream_step(*a, sign=-1.0), ["descends instead of ascending", "sign error"]),
])
def test_dream_step_check_names_the_mistake(wrong, phrases):
    rejects(checks.check_dream_step, wrong, *phrases)


# --------------------------------------------------------------------------- class-model step

def class_model_step(model, image, class_index, lr, lam, softmax=False, sign=1.0, penalty=1.0):
    x = image.detach().clone().requires_grad_(True)
    scores = model(x)
    if softmax:
        scores = scores.softmax(1)
    objective = scores[:, class_index] - penalty * lam * x.pow(2).sum(dim=(1, 2, 3))
    (gradient,) = torch.autograd.grad(objective.sum(), x)
    return image + sign * lr * gradient


def test_class_model_step_check_accepts_gradient_ascent(capsys):
    accepts(checks.check_class_model_step, class_model_step, capsys)


@pytest.mark.parametrize("kwargs, phrases", [
    ({"softmax": True}, ["softmax probability instead of the raw score"]),
    ({"sign": -1.0}, ["descends instead of ascending"]),
    ({"penalty": -1.0}, ["sign of the regulariser is wrong"]),
    ({"penalty": 0.0}, ["regulariser is missing"]),
])
def test_class_model_step_check_names_the_mistake(kwargs, phrases):
    rejects(checks.check_class_model_step,
            lambda *a: class_model_step(*a, **kwargs), *phrases)


# --------------------------------------------------------------------------- common behaviour

@pytest.mark.parametrize("check", [
    checks.check_backprop_rule, checks.check_deconvnet_rule, checks.check_guided_rule,
    checks.check_whole_network_guided, checks.check_score_gradient, checks.check_saliency,
    checks.check_alpha_norm, checks.check_total_variation, checks.check_inversion,
    checks.check_dream_step, checks.check_class_model_step,
])
def test_every_check_says_when_a_gap_is_not_filled(check):
    rejects(check, not_filled, "not filled in")


def test_a_function_without_return_is_explained():
    rejects(checks.check_alpha_norm, lambda x, a: None, "returned NoneType", "forget `return`")


def test_the_checks_import_only_torch_numpy_and_the_kit():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(checks))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    stdlib = {"__future__", "copy", "inspect", "collections", "contextlib", "dataclasses",
              "functools", "typing"}
    assert roots - stdlib <= {"torch", "numpy", "lecturekit"}, roots

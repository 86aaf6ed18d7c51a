"""The homework checks, table-driven: wrong answers as students write them, right answers in
several styles.

Every entry of :data:`WRONG` is a plausible wrong answer (written here the way a student
under time pressure writes it) with the mistake the check must name (the key in
``CheckFailed.mistake``), or None where the check is allowed to give only its fallback
message. The check must reject each one, and name exactly that mistake: a message naming
another mistake fails the test. :data:`RIGHT` holds correct answers in at least two styles
per check, which must be accepted. The mistake tables themselves are tested too: every two
mistakes of a check must be told apart by its inputs at its tolerance.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import re
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import lecturekit as lk
from lecturekit.course import checks
from lecturekit.course.checks import (machinery, optimisation, regularisers, relu, saliency,
                                      sanity)
from lecturekit.course.checks.machinery import CheckFailed

# --------------------------------------------------------------------------- ReLU rules


def where(mask, values):
    return torch.where(mask, values, torch.zeros_like(values))


def guided(f_in, r_out):
    return torch.where((f_in > 0) & (r_out > 0), r_out, torch.zeros_like(r_out))


def backprop(f_in, r_out):
    return torch.where(f_in > 0, r_out, torch.zeros_like(r_out))


def deconvnet(f_in, r_out):
    return torch.where(r_out > 0, r_out, torch.zeros_like(r_out))


def guided_in_place(f_in, r_out):
    r_out[f_in <= 0] = 0
    r_out[r_out < 0] = 0
    return r_out


def guided_nested_where(f_in, r_out):
    return torch.where(f_in < 0, 0.0, torch.where(r_out < 0, 0.0, r_out))


def guided_leaky(f_in, r_out):
    return torch.where(f_in > 0, torch.relu(r_out), 0.01 * r_out)


def not_filled(*args, **kwargs):
    raise NotImplementedError("fill in this gap")


# --------------------------------------------------------------------------- whole network

def rule_function(rule):
    """A student's autograd Function: a ReLU forward, ``rule(f_in, r_out)`` backward."""

    class Function(torch.autograd.Function):
        @staticmethod
        def forward(ctx, f_in):
            ctx.save_for_backward(f_in)
            return f_in.clamp(min=0)

        @staticmethod
        def backward(ctx, r_out):
            (f_in,) = ctx.saved_tensors
            return rule(f_in, r_out)

    return Function


def relu_swapper(rule, names=None, restore=True, use_finally=True, replacement=None):
    """A student's context manager: every nn.ReLU (or those named) swapped for ``rule``."""
    Function = rule_function(rule)

    class Module(nn.Module):
        def forward(self, x):
            return Function.apply(x)

    make = replacement or Module

    @contextmanager
    def guided_backprop(model):
        slots = [(parent, name, child) for parent in model.modules()
                 for name, child in parent.named_children()
                 if isinstance(child, nn.ReLU) and (names is None or name in names)]
        if not use_finally:
            for parent, name, _ in slots:
                setattr(parent, name, make())
            yield model
            for parent, name, child in slots:
                setattr(parent, name, child)
            return
        try:
            for parent, name, _ in slots:
                setattr(parent, name, make())
            yield model
        finally:
            if restore:
                for parent, name, child in slots:
                    setattr(parent, name, child)

    return guided_backprop


def hook_version(remove=True, on_output=False):
    """The usual hook recipe: clamp the ReLU's input gradient (already masked) at zero."""

    def hook(module, grad_in, grad_out):
        return ((grad_out if on_output else grad_in)[0].clamp(min=0),)

    @contextmanager
    def guided_backprop(model):
        handles = [m.register_full_backward_hook(hook) for m in model.modules()
                   if isinstance(m, nn.ReLU)]
        try:
            yield model
        finally:
            if remove:
                for handle in handles:
                    handle.remove()

    return guided_backprop


_GuidedFunction = rule_function(guided)


def patching_relu_forward(use_finally=True):
    """Patches nn.ReLU.forward itself for the duration of the block."""

    @contextmanager
    def guided_backprop(model):
        original = nn.ReLU.forward
        nn.ReLU.forward = lambda self, x: _GuidedFunction.apply(x)
        if not use_finally:
            yield model
            nn.ReLU.forward = original
            return
        try:
            yield model
        finally:
            nn.ReLU.forward = original

    return guided_backprop


@contextmanager
def _guided_in(slots):
    """Guided ReLUs in the given (parent, name, child) slots, restored on exit."""
    try:
        for parent, name, _ in slots:
            setattr(parent, name, relu._RuleReLU(guided))
        yield
    finally:
        for parent, name, child in slots:
            setattr(parent, name, child)


@contextmanager
def guided_by_layer_names(model):
    """Finds the ReLUs by AlexNet's names: works on the toy only."""
    slots = [(parent, name, child) for parent in model.modules()
             for name, child in parent.named_children() if name.startswith("relu")]
    with _guided_in(slots):
        yield model


@contextmanager
def guided_two_levels(model):
    """Looks at the model's children and grandchildren only."""
    parents = [model, *model.children()]
    slots = [(p, n, c) for p in parents for n, c in p.named_children() if isinstance(c, nn.ReLU)]
    with _guided_in(slots):
        yield model


def conv_relus_only(model):
    return relu_swapper(guided, names=("relu1", "relu2", "relu3", "relu4", "relu5"))(model)


def returns_the_model(model):
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.ReLU):
                setattr(parent, name, relu._RuleReLU(guided))
    return model


# --------------------------------------------------------------------------- gradients, saliency

def score_gradient(model, images, class_index):
    x = images.detach().clone().requires_grad_(True)
    scores = model(x)[torch.arange(len(x)), class_index]
    (gradient,) = torch.autograd.grad(scores.sum(), x)
    return gradient


def score_gradient_backward(model, images, class_index):
    x = images.clone().detach().requires_grad_()
    out = model(x)
    index = torch.as_tensor(class_index).expand(len(x)).view(-1, 1)
    out.gather(1, index).sum().backward()
    return x.grad


def score_gradient_loop(model, images, class_index):
    classes = torch.as_tensor(class_index).expand(len(images))
    grads = []
    for image, c in zip(images, classes):
        x = image[None].clone().requires_grad_(True)
        (g,) = torch.autograd.grad(model(x)[0, int(c)], x)
        grads.append(g[0])
    return torch.stack(grads)


def grad_of(value):
    """A student's score_gradient that differentiates value(scores, class_index, x)."""
    def score_gradient(model, images, class_index):
        x = images.detach().clone().requires_grad_(True)
        (g,) = torch.autograd.grad(value(model(x), class_index, x), x)
        return g
    return score_gradient


def rows(s):
    return torch.arange(len(s))


def targets(s, c):
    return torch.as_tensor(c).expand(len(s))


def score_gradient_in_place_grad(model, images, class_index):
    images.requires_grad_(True)
    model(images)[torch.arange(len(images)), class_index].sum().backward()
    return images.grad


def score_gradient_resets_the_flag(model, images, class_index):
    images.requires_grad_(True)
    model(images)[torch.arange(len(images)), class_index].sum().backward()
    gradient = images.grad.clone()
    images.requires_grad_(False)
    return gradient


def score_gradient_unfreezes(model, images, class_index):
    for p in model.parameters():
        p.requires_grad_(True)
    x = images.clone().requires_grad_(True)
    model(x)[torch.arange(len(x)), class_index].sum().backward()
    return x.grad


def score_gradient_first_class(model, images, class_index):
    c = class_index if isinstance(class_index, int) else int(class_index[0])
    x = images.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(model(x)[:, c].sum(), x)
    return g


def saliency_from(reduce, gradient=score_gradient):
    return lambda model, images, c: reduce(gradient(model, images, c), images)


def saliency_amax(model, images, class_index):
    return score_gradient(model, images, class_index).abs().amax(dim=1)


def saliency_max_values(model, images, class_index):
    return torch.max(score_gradient_loop(model, images, class_index).abs(), dim=1)[0]


def per_image_max(m):
    return m.flatten(1).max(1).values.view(-1, 1, 1)


def per_image_min(m):
    return m.flatten(1).min(1).values.view(-1, 1, 1)


def min_max(m):
    return (m - per_image_min(m)) / (per_image_max(m) - per_image_min(m))


def min_max_of_batch(m):
    return (m - m.min()) / (m.max() - m.min())


# --------------------------------------------------------------------------- pointing game

def pointing_gather(maps, masks):
    best = maps.flatten(1).argmax(dim=1, keepdim=True)
    return masks.flatten(1).gather(1, best).squeeze(1)


def pointing_loop(maps, masks):
    hits = []
    for m, mask in zip(maps, masks):
        row, col = divmod(int(m.argmax()), m.shape[1])
        hits.append(bool(mask[row, col]))
    return torch.tensor(hits)


def pointing_unravel(maps, masks):
    width = maps.shape[2]
    idx = maps.flatten(1).argmax(1)
    return torch.stack([masks[n, i // width, i % width] for n, i in enumerate(idx)])


def pointing_height(maps, masks):
    idx = maps.flatten(1).argmax(1)
    rows_, cols = idx // maps.shape[1], idx % maps.shape[1]
    return masks[torch.arange(len(maps)), rows_, cols]


def pointing_transposed(maps, masks):
    idx = maps.flatten(1).argmax(1)
    rows_, cols = idx // maps.shape[2], idx % maps.shape[2]
    return masks[torch.arange(len(maps)), cols, rows_]


def pointing_any_max(maps, masks):
    peak = maps == maps.amax(dim=(1, 2), keepdim=True)
    return (peak & masks).flatten(1).any(1)


def pointing_top5(maps, masks):
    threshold = torch.quantile(maps.flatten(1), 0.95, dim=1).view(-1, 1, 1)
    return ((maps >= threshold) & masks).flatten(1).any(1)


# --------------------------------------------------------------------------- regularisers

def alpha_norm(x, alpha=6.0):
    return x.abs().pow(alpha).sum(dim=(1, 2, 3))


def alpha_norm_hardcoded(x, alpha=6.0):
    if alpha == 2:
        return (x ** 2).sum(dim=(1, 2, 3))
    if alpha == 6:
        return (x ** 6).sum(dim=(1, 2, 3))
    return x.abs().sum(dim=(1, 2, 3)) ** alpha


def alpha_norm_in_place(x, alpha=6.0):
    return x.abs_().pow(alpha).sum(dim=(1, 2, 3))


def total_variation(x, beta=2.0):
    right = x[:, :, :-1, 1:] - x[:, :, :-1, :-1]
    down = x[:, :, 1:, :-1] - x[:, :, :-1, :-1]
    return (right.square() + down.square()).pow(beta / 2).sum(dim=(1, 2, 3))


def tv_diff(x, beta=2.0):
    dx = torch.diff(x, dim=3)[:, :, :-1, :]
    dy = torch.diff(x, dim=2)[:, :, :, :-1]
    return torch.sum((dx ** 2 + dy ** 2) ** (beta / 2), dim=[1, 2, 3])


def tv_from(right, down, combine=lambda r, d, b: (r.square() + d.square()).pow(b / 2)):
    """A student's TV from two slicing rules and a way to combine them."""
    return lambda x, beta=2.0: combine(right(x), down(x), beta).sum(dim=(1, 2, 3))


RIGHT_ = lambda x: x[:, :, :-1, 1:] - x[:, :, :-1, :-1]
DOWN_ = lambda x: x[:, :, 1:, :-1] - x[:, :, :-1, :-1]


def tv_public(x, beta=2.0):
    """The public baseline's slicing: channel x height instead of height x width."""
    across = x[:, 1:, :-1, :] - x[:, :-1, :-1, :]
    down = x[:, :-1, 1:, :] - x[:, :-1, :-1, :]
    return (across.square() + down.square()).pow(beta / 2).sum(dim=(1, 2, 3))


def tv_padded(x, beta=2.0):
    padded = F.pad(x, (0, 1, 0, 1))
    right = padded[:, :, :-1, 1:] - x
    down = padded[:, :, 1:, :-1] - x
    return (right ** 2 + down ** 2).pow(beta / 2).sum(dim=(1, 2, 3))


def tv_roll(x, beta=2.0):
    right = torch.roll(x, -1, dims=3) - x
    down = torch.roll(x, -1, dims=2) - x
    return (right ** 2 + down ** 2).pow(beta / 2).sum(dim=(1, 2, 3))


def tv_unpaired(x, beta=2.0):
    dx, dy = torch.diff(x, dim=3), torch.diff(x, dim=2)
    return (dx ** 2).pow(beta / 2).sum(dim=(1, 2, 3)) + (dy ** 2).pow(beta / 2).sum(dim=(1, 2, 3))


# --------------------------------------------------------------------------- inversion

def invert(model, reference, layer, size, steps=100, tv_weight=1.0, alpha_weight=0.01, lr=0.05,
           seed=0, maximise=False, tv=None, alpha=None, start=None, deprocess=False,
           fixed_layer=None, per_pixel=True):
    """The reference solution with the knobs a student may turn wrongly."""
    if start is None:
        start = 0.5 * torch.randn(len(reference), 3, *size,
                                  generator=torch.Generator().manual_seed(seed))
    n = start[0].numel() if per_pixel else 1
    terms = []
    if tv is not False:
        terms.append(lk.Term("tv", tv_weight if tv is None else tv,
                             lambda x: total_variation(x) / n))
    if alpha is not False:
        terms.append(lk.Term("alpha", alpha_weight if alpha is None else alpha,
                             lambda x: alpha_norm(x) / n))
    result = lk.optimise(model, lk.FeatureMatching(fixed_layer or layer, reference), start,
                         maximise=maximise, terms=terms, steps=steps, lr=lr, progress=False,
                         seed=seed).image
    return model.deprocess(result) if deprocess else result


def invert_by_hand(model, reference, layer, size, steps=100, tv_weight=1.0, alpha_weight=0.01,
                   lr=0.05, seed=0):
    """A student's own Adam loop instead of lk.optimise."""
    g = torch.Generator().manual_seed(seed)
    x = (0.5 * torch.randn(len(reference), 3, *size, generator=g)).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    n = x[0].numel()
    for _ in range(steps):
        error = ((model.forward_to(x, layer) - reference) ** 2).flatten(1).sum(1) \
            / (reference ** 2).flatten(1).sum(1)
        loss = error + tv_weight * total_variation(x) / n + alpha_weight * alpha_norm(x) / n
        opt.zero_grad()
        loss.sum().backward()
        opt.step()
    return x.detach()


def invert_negative_prior(model, reference, layer, size, steps=100, tv_weight=1.0,
                          alpha_weight=0.01, lr=0.05, seed=0):
    generator = torch.Generator().manual_seed(seed)
    start = 0.5 * torch.randn(len(reference), 3, *size, generator=generator)
    n = start[0].numel()
    terms = [lk.Term("tv", tv_weight, lambda x: -total_variation(x) / n),
             lk.Term("alpha", alpha_weight, lambda x: alpha_norm(x) / n)]
    return lk.optimise(model, lk.FeatureMatching(layer, reference), start, maximise=False,
                       terms=terms, steps=steps, lr=lr, progress=False, seed=seed).image


# --------------------------------------------------------------------------- DeepDream step

def dream_step(model, image, layer, step_size, shift, normalise=True, sign=1.0, undo=True,
               dims=(2, 3), objective=lambda a: 0.5 * a.pow(2).sum(), shifts=None):
    dy, dx = shift
    shifts = shifts or (dy, dx)
    x = torch.roll(image, shifts=shifts, dims=dims).detach().requires_grad_(True)
    (g,) = torch.autograd.grad(objective(model.forward_to(x, layer)), x)
    if undo:
        g = torch.roll(g, shifts=tuple(-s for s in shifts), dims=dims)
    if normalise:
        g = g / g.abs().mean(dim=(1, 2, 3), keepdim=True)
    return image + sign * step_size * g


def dream_step_scaled(scale):
    """A student's step that divides the (jittered) gradient by ``scale(g)``."""
    def step(model, image, layer, step_size, shift):
        g = dream_step(model, image, layer, 1.0, shift, normalise=False) - image
        return image + step_size * g / scale(g)
    return step


def dream_step_roll_result_back(model, image, layer, step_size, shift):
    """Rolls the image, steps there, and rolls the new image back: also right."""
    x = torch.roll(image, shifts=shift, dims=(2, 3)).detach().requires_grad_(True)
    (g,) = torch.autograd.grad(0.5 * (model.forward_to(x, layer) ** 2).sum(), x)
    stepped = x.detach() + step_size * g / g.abs().mean(dim=(1, 2, 3), keepdim=True)
    return torch.roll(stepped, shifts=(-shift[0], -shift[1]), dims=(2, 3))


def dream_step_rolled_result(model, image, layer, step_size, shift):
    """Rolls the image, steps, and forgets to roll back."""
    x = torch.roll(image, shifts=shift, dims=(2, 3)).detach().requires_grad_(True)
    (g,) = torch.autograd.grad(0.5 * model.forward_to(x, layer).pow(2).sum(), x)
    return x.detach() + step_size * g / g.abs().mean(dim=(1, 2, 3), keepdim=True)


def dream_step_own_shift(model, image, layer, step_size, shift):
    """Draws its own random shift instead of using the one handed in."""
    dy, dx = torch.randint(-8, 9, (2,)).tolist()
    return dream_step(model, image, layer, step_size, (dy, dx))


def dream_step_grad_on_input(model, image, layer, step_size, shift):
    image.requires_grad_(True)
    act = model.forward_to(torch.roll(image, shifts=shift, dims=(2, 3)), layer)
    (0.5 * act.pow(2).sum()).backward()
    g = image.grad
    return (image + step_size * g / g.abs().mean(dim=(1, 2, 3), keepdim=True)).detach()


# --------------------------------------------------------------------------- class-model step

def class_model_step(model, image, class_index, lr, lam, value=lambda s, c: s[:, c], sign=1.0,
                     penalty=lambda x: x.pow(2).sum(dim=(1, 2, 3)), reduce=torch.sum):
    x = image.detach().clone().requires_grad_(True)
    objective = value(model(x), class_index) - lam * penalty(x)
    (gradient,) = torch.autograd.grad(reduce(objective), x)
    return image + sign * lr * gradient


def class_model_step_analytic(model, image, class_index, lr, lam):
    """The penalty's gradient written out by hand: 2 * lam * I."""
    x = image.detach().clone().requires_grad_(True)
    (score_gradient_,) = torch.autograd.grad(model(x)[:, class_index].sum(), x)
    return image + lr * (score_gradient_ - 2 * lam * image)


def class_model_step_cross_entropy(model, image, class_index, lr, lam):
    x = image.detach().clone().requires_grad_(True)
    target = torch.full((len(x),), class_index)
    loss = F.cross_entropy(model(x), target) + lam * x.pow(2).sum()
    (gradient,) = torch.autograd.grad(loss, x)
    return image - lr * gradient


def class_model_step_in_place(model, image, class_index, lr, lam):
    x = image.detach().clone().requires_grad_(True)
    objective = model(x)[:, class_index] - lam * x.pow(2).sum(dim=(1, 2, 3))
    (gradient,) = torch.autograd.grad(objective.sum(), x)
    image += lr * gradient
    return image


def class_model_step_by_hand_dream(model, image, class_index, lr, lam):
    x = image.detach().clone().requires_grad_(True)
    objective = model(x)[:, class_index] - lam * x.pow(2).sum(dim=(1, 2, 3))
    (g,) = torch.autograd.grad(objective.sum(), x)
    return image + lr * g / g.abs().mean(dim=(1, 2, 3), keepdim=True)


def class_model_step_sgd(model, image, class_index, lr, lam):
    """One step of torch.optim.SGD on the negated objective (SGD descends)."""
    x = image.detach().clone().requires_grad_(True)
    optimiser = torch.optim.SGD([x], lr=lr)
    optimiser.zero_grad()
    objective = model(x)[:, class_index] - lam * (x ** 2).sum(dim=(1, 2, 3))
    (-objective.sum()).backward()
    optimiser.step()
    return x.detach()


def class_model_step_backward(model, image, class_index, lr, lam):
    """.backward() and .grad on a copy, the step written out."""
    x = image.clone().detach().requires_grad_(True)
    objective = model(x)[:, class_index].sum() - lam * torch.sum(x * x)
    objective.backward()
    with torch.no_grad():
        return x + lr * x.grad


def dream_step_backward(model, image, layer, step_size, shift):
    """.backward() and .grad on a rolled copy, one image at a time."""
    steps = []
    for one in image:
        x = torch.roll(one[None], shifts=shift, dims=(2, 3)).detach().requires_grad_(True)
        (model.forward_to(x, layer).pow(2).sum() / 2).backward()
        g = torch.roll(x.grad, shifts=(-shift[0], -shift[1]), dims=(2, 3))
        steps.append(one + step_size * g[0] / g.abs().mean())
    return torch.stack(steps)


def saliency_backward(model, images, class_index):
    """.backward() and .grad, then the maximum over the colour channels."""
    return score_gradient_backward(model, images, class_index).abs().max(dim=1).values


def alpha_norm_loop(x, alpha=6.0):
    return torch.stack([(image.abs() ** alpha).sum() for image in x])


def tv_loop(x, beta=2.0):
    """One image at a time, the differences as tensors of shape (C, H-1, W-1)."""
    values = []
    for image in x:
        right = image[:, :-1, 1:] - image[:, :-1, :-1]
        down = image[:, 1:, :-1] - image[:, :-1, :-1]
        values.append(torch.sum((right ** 2 + down ** 2) ** (beta / 2)))
    return torch.stack(values)


# --------------------------------------------------------------------------- the tables


# --------------------------------------------------------------------------- cascading randomisation

def reset_layer(layer):
    """reset_parameters() of every module inside one of the model's layers."""
    for module in layer.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()


def cascade_with(model, images, class_index, layers, seed=0, maps=saliency_amax,
                 compare=lk.rank_correlation, order=lambda layers: layers, seeds=lambda s, k: s + k,
                 prepare=lambda copy_: copy_, in_place=False, fresh_each_step=False,
                 reference="trained", late=False):
    """A student's cascade with the knobs a student may turn wrongly."""
    import copy as copy_module
    trained = maps(model, images, class_index)
    randomised = model if in_place else prepare(copy_module.deepcopy(model))
    previous, rows = trained, []
    for k, layer in enumerate(order(layers)):
        if late:
            rows.append(compare(maps(randomised, images, class_index), trained))
        if fresh_each_step:
            randomised = copy_module.deepcopy(model)
        torch.manual_seed(seeds(seed, k))
        reset_layer(randomised.layers[layer])
        now = maps(randomised, images, class_index)
        if not late:
            rows.append(compare(now, trained if reference == "trained" else previous))
        previous = now
    return torch.stack(rows)


def cascade(model, images, class_index, layers, seed=0):
    """One copy, randomised further at every step."""
    import copy
    trained = saliency_amax(model, images, class_index)
    randomised = copy.deepcopy(model)
    correlations = []
    for k, layer in enumerate(layers):
        torch.manual_seed(seed + k)
        for module in randomised.layers[layer].modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
        correlations.append(lk.rank_correlation(saliency_amax(randomised, images, class_index),
                                                trained))
    return torch.stack(correlations)


def cascade_fresh_copies(model, images, class_index, layers, seed=0):
    """A fresh copy for every step, with every layer down to layers[k] re-initialised."""
    import copy
    trained = saliency_backward(model, images, class_index)
    rows = []
    for k in range(len(layers)):
        randomised = copy.deepcopy(model)
        for j, layer in enumerate(layers[:k + 1]):
            torch.manual_seed(seed + j)
            randomised.layers[layer].apply(
                lambda m: m.reset_parameters() if hasattr(m, "reset_parameters") else None)
        rows.append(lk.rank_correlation(saliency_backward(randomised, images, class_index),
                                        trained))
    return torch.stack(rows)


def spearman_by_argsort(a, b):
    """Spearman without tie handling: ranks from argsort of argsort, then Pearson."""
    ra = a.flatten(1).argsort(1).argsort(1).double()
    rb = b.flatten(1).argsort(1).argsort(1).double()
    ra, rb = ra - ra.mean(1, keepdim=True), rb - rb.mean(1, keepdim=True)
    return (ra * rb).sum(1) / (ra.norm(dim=1) * rb.norm(dim=1))


def cascade_own_ranks(model, images, class_index, layers, seed=0):
    """Its own rank correlation and a loop over the images."""
    return torch.stack([cascade_with(model, image[None], torch.as_tensor(class_index).expand(
        len(images))[n:n + 1], layers, seed, compare=spearman_by_argsort)[:, 0]
        for n, image in enumerate(images)], dim=1)


def pearson(a, b):
    return torch.stack([torch.corrcoef(torch.stack([x.flatten(), y.flatten()]))[0, 1]
                        for x, y in zip(a, b)])


def cascade_unseeded(model, images, class_index, layers, seed=0):
    import copy
    trained = saliency_amax(model, images, class_index)
    randomised = copy.deepcopy(model)
    rows = []
    for layer in layers:
        reset_layer(randomised.layers[layer])
        rows.append(lk.rank_correlation(saliency_amax(randomised, images, class_index), trained))
    return torch.stack(rows)


C = checks
WRONG = [
    # ---- guided rule
    (C.check_guided_rule, "where f_in > 0 only", backprop, "backprop rule"),
    (C.check_guided_rule, "clamp of r_out only", lambda f, r: torch.clamp(r, min=0),
     "deconvnet rule"),
    (C.check_guided_rule, "masks with OR", lambda f, r: torch.where((f > 0) | (r > 0), r, 0.0),
     "or"),
    (C.check_guided_rule, ">= at ties", lambda f, r: r * (f >= 0) * (r > 0), "ties"),
    (C.check_guided_rule, "nested where with < 0", guided_nested_where, "ties"),
    (C.check_guided_rule, "relu times relu", lambda f, r: torch.relu(f) * torch.relu(r),
     "multiplied"),
    (C.check_guided_rule, "abs of the signal", lambda f, r: torch.where(f > 0, r.abs(), 0.0),
     "abs"),
    (C.check_guided_rule, "returns f_in", lambda f, r: torch.where((r > 0) & (f > 0), f, 0.0),
     "swapped"),
    (C.check_guided_rule, "returns the mask", lambda f, r: ((f > 0) & (r > 0)).float(),
     "mask only"),
    (C.check_guided_rule, "half at ties", lambda f, r: (torch.sign(f) + 1) / 2 * r.clamp(min=0),
     "half at ties"),
    (C.check_guided_rule, "in place", guided_in_place, "in place"),
    (C.check_guided_rule, "leaky", guided_leaky, None),
    # ---- backprop rule
    (C.check_backprop_rule, "guided", guided, "guided rule"),
    (C.check_backprop_rule, "deconvnet", deconvnet, "deconvnet rule"),
    (C.check_backprop_rule, "relu(f) * r", lambda f, r: torch.relu(f) * r, "multiplied"),
    (C.check_backprop_rule, ">= 0", lambda f, r: torch.where(f >= 0, r, torch.zeros_like(r)),
     "ties"),
    (C.check_backprop_rule, "where arguments swapped", lambda f, r: torch.where(f > 0, 0.0, r),
     "negative part"),
    (C.check_backprop_rule, "tests r_out, returns f_in", lambda f, r: torch.where(r > 0, f, 0.0),
     "swapped"),
    (C.check_backprop_rule, "returns the signal", lambda f, r: r, "unchanged"),
    (C.check_backprop_rule, "forward output", lambda f, r: torch.relu(f), "forward output"),
    # ---- deconvnet rule
    (C.check_deconvnet_rule, "backprop", backprop, "backprop rule"),
    (C.check_deconvnet_rule, "guided", guided, "guided rule"),
    (C.check_deconvnet_rule, "abs", lambda f, r: r.abs(), "abs"),
    (C.check_deconvnet_rule, "negative part", lambda f, r: torch.where(r < 0, r, 0.0),
     "negative part"),
    (C.check_deconvnet_rule, "f * relu(r)", lambda f, r: f * torch.relu(r), "multiplied"),
    (C.check_deconvnet_rule, "returns f_in", lambda f, r: torch.where(r > 0, f, 0.0), "swapped"),
    (C.check_deconvnet_rule, "relu_ in place", lambda f, r: torch.relu_(r), "in place"),
    # ---- whole network
    (C.check_whole_network_guided, "backprop backward", relu_swapper(backprop), "plain"),
    (C.check_whole_network_guided, "deconvnet backward", relu_swapper(deconvnet), "deconvnet"),
    (C.check_whole_network_guided, "hook clamps grad_out", hook_version(on_output=True),
     "deconvnet"),
    (C.check_whole_network_guided, "conv ReLUs only", conv_relus_only, "conv only"),
    (C.check_whole_network_guided, "rule args swapped",
     relu_swapper(lambda f, r: guided(r, f)), "swapped"),
    (C.check_whole_network_guided, "multiplied",
     relu_swapper(lambda f, r: torch.relu(f) * torch.relu(r)), "multiplied"),
    (C.check_whole_network_guided, "no finally", relu_swapper(guided, use_finally=False),
     "not restored on exception"),
    (C.check_whole_network_guided, "never restores", relu_swapper(guided, restore=False),
     "not restored"),
    (C.check_whole_network_guided, "hooks kept", hook_version(remove=False), "hook left"),
    (C.check_whole_network_guided, "found by name", guided_by_layer_names, "by name"),
    (C.check_whole_network_guided, "two levels deep", guided_two_levels, "shallow"),
    (C.check_whole_network_guided, "leaky forward",
     relu_swapper(guided, replacement=lambda: nn.LeakyReLU(0.1)), "forward changed"),
    (C.check_whole_network_guided, "patches nn.ReLU without finally",
     patching_relu_forward(use_finally=False), "torch patched"),
    (C.check_whole_network_guided, "returns the model", returns_the_model,
     "not a context manager"),
    # ---- score gradient
    (C.check_score_gradient, "softmax",
     grad_of(lambda s, c, x: s.softmax(1)[rows(s), c].sum()), "softmax"),
    (C.check_score_gradient, "F.cross_entropy",
     grad_of(lambda s, c, x: F.cross_entropy(s, targets(s, c))), "cross-entropy+batch mean"),
    (C.check_score_gradient, "minus", grad_of(lambda s, c, x: -s[rows(s), c].sum()), "sign"),
    (C.check_score_gradient, "[:, class_index]", grad_of(lambda s, c, x: s[:, c].sum()),
     "listed classes"),
    (C.check_score_gradient, "mean", grad_of(lambda s, c, x: s[rows(s), c].mean()), "batch mean"),
    (C.check_score_gradient, "max score", grad_of(lambda s, c, x: s.max(1).values.sum()),
     "predicted class"),
    (C.check_score_gradient, "all scores", grad_of(lambda s, c, x: s.sum()), "all classes"),
    (C.check_score_gradient, "nll on logits", grad_of(lambda s, c, x: F.nll_loss(s, targets(s, c))),
     "sign+batch mean"),
    (C.check_score_gradient, "first image", grad_of(lambda s, c, x: s[0, c].sum()),
     "first image only"),
    (C.check_score_gradient, "first class", score_gradient_first_class, "first class"),
    (C.check_score_gradient, "times input",
     lambda m, x, c: score_gradient(m, x, c) * x, "times input"),
    (C.check_score_gradient, "backward on the input", score_gradient_in_place_grad,
     "requires_grad left"),
    (C.check_score_gradient, "backward, then requires_grad_(False)",
     score_gradient_resets_the_flag, "grad left"),
    (C.check_score_gradient, "unfreezes the model", score_gradient_unfreezes, "model changed"),
    (C.check_score_gradient, "log softmax of first image",
     grad_of(lambda s, c, x: s.log_softmax(1)[0, c].sum()), None),
    # ---- saliency
    (C.check_saliency, "channel sum", saliency_from(lambda g, x: g.abs().sum(dim=1)),
     "channel sum"),
    (C.check_saliency, "no abs", saliency_from(lambda g, x: g.max(dim=1).values), "no abs"),
    (C.check_saliency, "keepdim", saliency_from(lambda g, x: g.abs().amax(dim=1, keepdim=True)),
     "keepdim"),
    (C.check_saliency, "normalised", saliency_from(
        lambda g, x: g.abs().amax(1) / per_image_max(g.abs().amax(1))), "normalised"),
    (C.check_saliency, "channel mean", saliency_from(lambda g, x: g.abs().mean(dim=1)),
     "channel mean"),
    (C.check_saliency, "gradient x input", saliency_from(lambda g, x: (g * x).abs().amax(1)),
     "times input"),
    (C.check_saliency, "norm", saliency_from(lambda g, x: g.norm(dim=1)), "norm"),
    (C.check_saliency, "softmax", saliency_from(
        lambda g, x: g.abs().amax(1), grad_of(lambda s, c, x: s.softmax(1)[rows(s), c].sum())),
     "softmax"),
    (C.check_saliency, "cross-entropy", saliency_from(
        lambda g, x: g.abs().amax(1),
        grad_of(lambda s, c, x: F.cross_entropy(s, targets(s, c), reduction="sum"))),
     "log-softmax"),
    (C.check_saliency, "max over the batch", saliency_from(lambda g, x: g.abs().max(0).values),
     "batch axis"),
    (C.check_saliency, "min-max", saliency_from(lambda g, x: min_max(g.abs().amax(1))),
     "min-max"),
    (C.check_saliency, "squared", saliency_from(lambda g, x: g.pow(2).amax(1)), "square"),
    (C.check_saliency, "min-max over the batch",
     saliency_from(lambda g, x: min_max_of_batch(g.abs().amax(1))), None),
    # ---- pointing game
    (C.check_pointing_game, "index // H", pointing_height, "unravel by height"),
    (C.check_pointing_game, "mask[col, row]", pointing_transposed, "transposed"),
    (C.check_pointing_game, "argmin", lambda m, k: k.flatten(1).gather(
        1, m.flatten(1).argmin(1, keepdim=True)).squeeze(1), "argmin"),
    (C.check_pointing_game, "any maximum", pointing_any_max, "any maximum"),
    (C.check_pointing_game, "hit rate", lambda m, k: pointing_gather(m, k).float().mean(),
     "hit rate"),
    (C.check_pointing_game, "top 5 percent", pointing_top5, "top 5 percent"),
    (C.check_pointing_game, "centre of mass", lambda m, k: torch.stack([
        mask[int((m_ * torch.arange(m_.shape[0])[:, None]).sum() / m_.sum()),
             int((m_ * torch.arange(m_.shape[1])[None]).sum() / m_.sum())]
        for m_, mask in zip(m.clamp(min=0) + 1e-9, k)]), None),
    # ---- alpha-norm
    (C.check_alpha_norm, "no abs", lambda x, a: x.pow(a).sum(dim=(1, 2, 3)), "no abs"),
    (C.check_alpha_norm, "mean", lambda x, a: (x.abs() ** a).mean(dim=(1, 2, 3)), "mean"),
    (C.check_alpha_norm, "norm", lambda x, a: torch.norm(x.flatten(1), p=a, dim=1), "root"),
    (C.check_alpha_norm, "sum over everything", lambda x, a: x.abs().pow(a).sum(), "batch sum"),
    (C.check_alpha_norm, "squares", lambda x, a: (x ** 2).sum(dim=(1, 2, 3)), "squares"),
    (C.check_alpha_norm, "int(alpha)", lambda x, a: x.abs().pow(int(a)).sum(dim=(1, 2, 3)),
     "integer alpha"),
    (C.check_alpha_norm, "always 6", lambda x, a: (x.abs() ** 6).sum(dim=(1, 2, 3)), "always 6"),
    (C.check_alpha_norm, "channels kept", lambda x, a: x.abs().pow(a).sum(dim=(2, 3)),
     "channels apart"),
    (C.check_alpha_norm, "(x^2)^alpha", lambda x, a: ((x ** 2) ** a).sum(dim=(1, 2, 3)),
     "squared first"),
    (C.check_alpha_norm, "divided by n", lambda x, a: x.abs().pow(a).sum(dim=(1, 2, 3))
     / x[0].numel(), "mean"),
    (C.check_alpha_norm, "abs_ in place", alpha_norm_in_place, "in place"),
    (C.check_alpha_norm, "only the exponents of the text", alpha_norm_hardcoded, None),
    # ---- total variation
    (C.check_total_variation, "width only",
     lambda x, b=2.0: (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().pow(b).sum(dim=(1, 2, 3)),
     "width only"),
    (C.check_total_variation, "public slicing", tv_public, "channel axis"),
    (C.check_total_variation, "no exponent",
     tv_from(RIGHT_, DOWN_, lambda r, d, b: r ** 2 + d ** 2), "no exponent"),
    (C.check_total_variation, "anisotropic",
     tv_from(RIGHT_, DOWN_, lambda r, d, b: r.abs() ** b + d.abs() ** b), "anisotropic"),
    (C.check_total_variation, "eps inside",
     tv_from(RIGHT_, DOWN_, lambda r, d, b: (r ** 2 + d ** 2 + 1e-8) ** (b / 2)), "eps"),
    (C.check_total_variation, "zero padded", tv_padded, "zero padded"),
    (C.check_total_variation, "torch.roll", tv_roll, "circular"),
    (C.check_total_variation, "torch.diff, not paired", tv_unpaired, "not paired"),
    (C.check_total_variation, "diagonal", lambda x, b=2.0: (
        (x[:, :, 1:, 1:] - x[:, :, :-1, :-1]) ** 2).pow(b / 2).sum(dim=(1, 2, 3)), "diagonal"),
    (C.check_total_variation, "backward differences",
     tv_from(lambda x: x[:, :, 1:, 1:] - x[:, :, 1:, :-1],
             lambda x: x[:, :, 1:, 1:] - x[:, :, :-1, 1:]), "backward"),
    (C.check_total_variation, "down one column right",
     tv_from(RIGHT_, lambda x: x[:, :, 1:, 1:] - x[:, :, :-1, 1:]), "off by one"),
    (C.check_total_variation, "square of the sum",
     tv_from(RIGHT_, DOWN_, lambda r, d, b: ((r + d) ** 2) ** (b / 2)), "square of sum"),
    (C.check_total_variation, "one number", lambda x, b=2.0: total_variation(x, b).sum(),
     "batch sum"),
    (C.check_total_variation, "mean", tv_from(
        RIGHT_, DOWN_, lambda r, d, b: (r ** 2 + d ** 2) ** (b / 2) / r[0].numel()), "mean"),
    (C.check_total_variation, "power beta",
     tv_from(RIGHT_, DOWN_, lambda r, d, b: (r ** 2 + d ** 2) ** b), "power beta"),
    (C.check_total_variation, "(|dx| + |dy|)^beta",
     tv_from(RIGHT_, DOWN_, lambda r, d, b: (r.abs() + d.abs()) ** b), None),
    # ---- inversion
    (C.check_inversion, "maximise", lambda *a, **k: invert(*a, maximise=True, **k), "maximised"),
    (C.check_inversion, "no priors", lambda *a, **k: invert(*a, tv=False, alpha=False, **k),
     "no prior"),
    (C.check_inversion, "fixed weights", lambda m, r, ly, s, steps=100, tv_weight=1.0,
     alpha_weight=0.01, **k: invert(m, r, ly, s, steps=steps, tv=1.0, alpha=0.01, **k),
     "weights ignored"),
    (C.check_inversion, "unseeded start", lambda m, r, ly, s, **k: invert(
        m, r, ly, s, start=0.5 * torch.randn(len(r), 3, *s), **k), "not repeatable"),
    (C.check_inversion, "prior with the wrong sign", invert_negative_prior, "prior sign"),
    (C.check_inversion, "priors not divided by n",
     lambda *a, **k: invert(*a, per_pixel=False, **k), "priors too strong"),
    (C.check_inversion, "deprocessed", lambda *a, **k: invert(*a, deprocess=True, **k),
     "deprocessed"),
    (C.check_inversion, "TV only", lambda *a, **k: invert(*a, alpha=False, **k),
     "alpha_weight ignored"),
    (C.check_inversion, "always relu2", lambda *a, **k: invert(*a, fixed_layer="relu2", **k),
     "one layer only"),
    (C.check_inversion, "first image only", lambda *a, **k: invert(*a, **k)[:1], "shape"),
    (C.check_inversion, "always 128 pixels", lambda m, r, ly, s, **k: invert(m, r, ly, (128, 128),
                                                                             **k), "raised"),
    # ---- DeepDream step
    (C.check_dream_step, "not normalised", lambda *a: dream_step(*a, normalise=False),
     "not normalised"),
    (C.check_dream_step, "descends", lambda *a: dream_step(*a, sign=-1.0), "descends"),
    (C.check_dream_step, "not rolled back", lambda *a: dream_step(*a, undo=False), "not undone"),
    (C.check_dream_step, "returns the rolled image", dream_step_rolled_result, "rolled image"),
    (C.check_dream_step, "dims=(1, 2)", lambda *a: dream_step(*a, dims=(1, 2)), "roll axes"),
    (C.check_dream_step, "(dx, dy)", lambda m, x, ly, st, sh: dream_step(
        m, x, ly, st, sh, shifts=(sh[1], sh[0])), "shift swapped"),
    (C.check_dream_step, "batch mean |g|", dream_step_scaled(lambda g: g.abs().mean()),
     "batch normalised"),
    (C.check_dream_step, "mean activation", lambda *a: dream_step(*a, objective=lambda t: t.mean()),
     "sum objective"),
    (C.check_dream_step, "clamp(0, 1)", lambda *a: dream_step(*a).clamp(0, 1),
     "clamped to [0, 1]"),
    (C.check_dream_step, "own random shift", dream_step_own_shift, "not repeatable"),
    (C.check_dream_step, "backward on the input", dream_step_grad_on_input,
     "requires_grad left"),
    (C.check_dream_step, "norm",
     dream_step_scaled(lambda g: g.flatten(1).norm(dim=1).view(-1, 1, 1, 1)), "norm normalised"),
    (C.check_dream_step, "median |g|",
     dream_step_scaled(lambda g: g.abs().flatten(1).median(1).values.view(-1, 1, 1, 1)), None),
    # ---- class-model step
    (C.check_class_model_step, "softmax",
     lambda *a: class_model_step(*a, value=lambda s, c: s.softmax(1)[:, c]), "softmax"),
    (C.check_class_model_step, "descends", lambda *a: class_model_step(*a, sign=-1.0),
     "descends"),
    (C.check_class_model_step, "no penalty",
     lambda *a: class_model_step(*a, penalty=lambda x: 0 * x.sum()), "no penalty"),
    (C.check_class_model_step, "penalty on the mean",
     lambda *a: class_model_step(*a, penalty=lambda x: (x ** 2).mean()), "penalty mean"),
    (C.check_class_model_step, "norm not squared",
     lambda *a: class_model_step(*a, penalty=lambda x: x.flatten(1).norm(dim=1)),
     "penalty not squared"),
    (C.check_class_model_step, "cross-entropy", class_model_step_cross_entropy,
     "cross-entropy mean"),
    (C.check_class_model_step, "predicted class",
     lambda *a: class_model_step(*a, value=lambda s, c: s.max(1).values), "predicted class"),
    (C.check_class_model_step, "L1 penalty",
     lambda *a: class_model_step(*a, penalty=lambda x: x.abs().sum(dim=(1, 2, 3))),
     "l1 penalty"),
    (C.check_class_model_step, "mean over the batch",
     lambda *a: class_model_step(*a, reduce=torch.mean), "batch mean"),
    (C.check_class_model_step, "lam * I by hand", lambda m, x, c, lr, lam: x + lr * (
        score_gradient(m, x, c) - lam * x), "penalty without 2"),
    (C.check_class_model_step, "normalised like DeepDream", class_model_step_by_hand_dream,
     "normalised"),
    (C.check_class_model_step, "in place", class_model_step_in_place, "in place"),
    (C.check_class_model_step, "penalty lam^2", lambda m, x, c, lr, lam: class_model_step(
        m, x, c, lr, lam ** 2), None),
    # ---- cascading randomisation
    (C.check_cascading_randomisation, "the shipped model randomised in place",
     lambda *a: cascade_with(*a, in_place=True), "in place"),
    (C.check_cascading_randomisation, "from the bottom up",
     lambda *a: cascade_with(*a, order=lambda layers: list(reversed(layers))), "bottom up"),
    (C.check_cascading_randomisation, "signed gradients compared",
     lambda *a: cascade_with(*a, maps=score_gradient), "signed"),
    (C.check_cascading_randomisation, "copy switched to training mode",
     lambda *a: cascade_with(*a, prepare=lambda net: net.train()), "train mode"),
    (C.check_cascading_randomisation, "one layer at a time",
     lambda *a: cascade_with(*a, fresh_each_step=True), "independent"),
    (C.check_cascading_randomisation, "against the previous step",
     lambda *a: cascade_with(*a, reference="previous"), "previous step"),
    (C.check_cascading_randomisation, "Pearson correlation",
     lambda *a: cascade_with(*a, compare=pearson), "pearson"),
    (C.check_cascading_randomisation, "one seed for every layer",
     lambda *a: cascade_with(*a, seeds=lambda s, k: s), "same seed"),
    (C.check_cascading_randomisation, "seed argument ignored",
     lambda *a: cascade_with(*a, seeds=lambda s, k: k), "seed ignored"),
    (C.check_cascading_randomisation, "maps before the re-initialisation",
     lambda *a: cascade_with(*a, late=True), "one step late"),
    (C.check_cascading_randomisation, "unseeded", cascade_unseeded, "not repeatable"),
]

RIGHT = [
    (C.check_guided_rule, "torch.where", guided),
    (C.check_guided_rule, "products of masks", lambda f, r: r * (f > 0) * (r > 0)),
    (C.check_guided_rule, "clamp and mask", lambda f, r: r.clamp(min=0) * (f > 0).to(r.dtype)),
    (C.check_backprop_rule, "torch.where", backprop),
    (C.check_backprop_rule, "mask product", lambda f, r: r * (f > 0)),
    (C.check_deconvnet_rule, "torch.where", deconvnet),
    (C.check_deconvnet_rule, "relu", lambda f, r: torch.relu(r)),
    (C.check_deconvnet_rule, "maximum", lambda f, r: torch.maximum(r, torch.zeros_like(r))),
    (C.check_whole_network_guided, "swapped modules", relu_swapper(guided)),
    (C.check_whole_network_guided, "backward hooks", hook_version()),
    (C.check_whole_network_guided, "nn.ReLU.forward patched and restored",
     patching_relu_forward()),
    (C.check_score_gradient, "autograd.grad", score_gradient),
    (C.check_score_gradient, "backward and gather", score_gradient_backward),
    (C.check_score_gradient, "one image at a time", score_gradient_loop),
    (C.check_saliency, "amax", saliency_amax),
    (C.check_saliency, "max values", saliency_max_values),
    (C.check_pointing_game, "gather", pointing_gather),
    (C.check_pointing_game, "divmod loop", pointing_loop),
    (C.check_pointing_game, "index with the width", pointing_unravel),
    (C.check_alpha_norm, "abs pow sum", alpha_norm),
    (C.check_alpha_norm, "vector_norm to the alpha",
     lambda x, a: torch.linalg.vector_norm(x.flatten(1), ord=a, dim=1) ** a),
    (C.check_total_variation, "slices", total_variation),
    (C.check_total_variation, "torch.diff", tv_diff),
    (C.check_inversion, "lk.optimise", invert),
    (C.check_inversion, "own Adam loop", invert_by_hand),
    (C.check_dream_step, "roll the gradient back", dream_step),
    (C.check_dream_step, "roll the result back", dream_step_roll_result_back),
    (C.check_class_model_step, "autograd", class_model_step),
    (C.check_class_model_step, "penalty gradient by hand", class_model_step_analytic),
    (C.check_class_model_step, "torch.optim.SGD", class_model_step_sgd),
    (C.check_class_model_step, ".backward() and .grad", class_model_step_backward),
    (C.check_dream_step, ".backward() and .grad, a loop", dream_step_backward),
    (C.check_saliency, ".backward() and .grad", saliency_backward),
    (C.check_alpha_norm, "a loop over the images", alpha_norm_loop),
    (C.check_total_variation, "a loop over the images", tv_loop),
    (C.check_cascading_randomisation, "one copy, randomised further at every step", cascade),
    (C.check_cascading_randomisation, "a fresh copy per step, .apply and .backward()",
     cascade_fresh_copies),
    (C.check_cascading_randomisation, "own argsort ranks, one image at a time",
     cascade_own_ranks),
]


def _id(entry):
    return f"{entry[0].__name__[len('check_'):]}: {entry[1]}"


@pytest.mark.parametrize("check, label, wrong, mistake", WRONG, ids=[_id(e) for e in WRONG])
def test_the_check_rejects_a_wrong_answer_and_names_its_mistake(check, label, wrong, mistake):
    with pytest.raises(CheckFailed) as info:
        check(wrong)
    message = str(info.value)
    assert message.startswith("not yet: "), message
    assert info.value.mistake == mistake, (info.value.mistake, message)
    if mistake is None:
        assert "None of the mistakes this check knows explains it" in message


@pytest.mark.parametrize("check, label, right", RIGHT, ids=[_id(e) for e in RIGHT])
def test_the_check_accepts_a_right_answer(check, label, right, capsys):
    check(right)
    out = capsys.readouterr().out
    assert out.startswith("correct: "), out


def test_the_table_is_large_and_names_at_least_three_quarters():
    assert len(WRONG) >= 60
    named = [entry for entry in WRONG if entry[3] not in (None, "raised")]
    assert len(named) >= 0.75 * len(WRONG)
    styles = {}
    for check, *_ in RIGHT:
        styles[check] = styles.get(check, 0) + 1
    assert set(styles) == {getattr(checks, name) for name in checks.__all__
                           if name.startswith("check_")}
    assert min(styles.values()) >= 2


SPECS = {
    "backprop": lambda: relu.rule_spec("backprop"),
    "deconvnet": lambda: relu.rule_spec("deconvnet"),
    "guided": lambda: relu.rule_spec("guided"),
    "whole network (toy)": lambda: relu.network_spec()[0],
    "whole network (nested)": lambda: relu.network_spec()[1],
    "score gradient": saliency.score_gradient_spec,
    "saliency": saliency.saliency_spec,
    "pointing game": saliency.pointing_spec,
    "alpha-norm": regularisers.alpha_spec,
    "total variation": regularisers.tv_spec,
    "dream step": optimisation.dream_spec,
    "class-model step": optimisation.class_model_spec,
    "cascading randomisation": sanity.cascade_spec,
}


def _alike(a, b, spec):
    return all(machinery.matches(x, y, spec.rtol, spec.atol)
               or machinery.matches(y, x, spec.rtol, spec.atol) for x, y in zip(a, b))


@pytest.mark.parametrize("name", SPECS)
def test_every_two_mistakes_of_a_check_are_told_apart(name):
    """A message may only name the mistake made: no two mistakes (with different keys) may
    give the same results on all cases at the check's tolerance, and none the right one."""
    spec = SPECS[name]()
    want = [case.want for case in spec.cases]
    results = []
    for mistake in spec.mistakes:
        wrong = machinery.outputs(mistake, spec.cases)
        assert wrong is not None, f"{mistake.key} cannot be formed on the cases"
        assert not _alike(wrong, want, spec), f"{mistake.key} gives the right answer"
        results.append((mistake.key, wrong))
    for (key1, out1), (key2, out2) in itertools.combinations(results, 2):
        assert key1 == key2 or not _alike(out1, out2, spec), f"{key1} and {key2} coincide"


# --------------------------------------------------------------------------- behaviour around

@pytest.mark.parametrize("check", [getattr(checks, name) for name in checks.__all__
                                   if name.startswith("check_")])
def test_every_check_says_when_a_gap_is_not_filled(check):
    with pytest.raises(CheckFailed, match="not filled in") as info:
        check(not_filled)
    assert info.value.mistake == "not filled"


def test_a_function_without_return_is_explained():
    with pytest.raises(CheckFailed, match="forget `return`") as info:
        checks.check_alpha_norm(lambda x, a: None)
    assert info.value.mistake == "not a tensor"


def test_a_check_needs_the_function_itself():
    with pytest.raises(CheckFailed, match="without calling it") as info:
        checks.check_alpha_norm(alpha_norm(torch.ones(1, 1, 2, 2)))
    assert info.value.mistake == "not a function"


def test_a_patched_torch_function_is_reported_and_restored():
    original = F.relu

    def patched(f_in, r_out):
        F.relu = lambda x, inplace=False: x
        return guided(f_in, r_out)

    with pytest.raises(CheckFailed, match="torch.nn.functional.relu") as info:
        checks.check_guided_rule(patched)
    assert info.value.mistake == "torch patched"
    assert F.relu is original


def test_grad_mode_left_off_is_reported_and_restored():
    def no_grad_left(f_in, r_out):
        torch.set_grad_enabled(False)
        return guided(f_in, r_out)

    with pytest.raises(CheckFailed, match="grad mode") as info:
        checks.check_guided_rule(no_grad_left)
    assert info.value.mistake == "torch patched"
    assert torch.is_grad_enabled()


def test_a_second_call_that_differs_is_reported():
    calls = []

    def counting(x, alpha):
        calls.append(1)
        return alpha_norm(x, alpha) * (1 if len(calls) <= 36 else 2)

    with pytest.raises(CheckFailed, match="second time") as info:
        checks.check_alpha_norm(counting)
    assert info.value.mistake == "not repeatable"


def test_a_check_never_changes_the_callers_inputs_or_torch(capsys):
    before = machinery.TorchState.take()
    checks.check_saliency(saliency_amax)
    assert capsys.readouterr().out.startswith("correct")
    assert before.changes() == []


def test_the_checks_import_only_torch_numpy_and_the_kit():
    roots = set()
    folder = Path(inspect.getfile(checks)).parent
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                roots.add(node.module.split(".")[0])
    assert roots - set(sys.stdlib_module_names) <= {"torch", "numpy", "lecturekit"}, roots


# --------------------------------------------------------------------------- how a failure shows

ANSI = re.compile(r"\x1b\[[0-9;]*m")
CHECK_FILES = ("machinery.py", "relu.py", "saliency.py", "optimisation.py", "regularisers.py")


def test_a_failure_shows_its_message_and_only_the_students_frames():
    def broken(f_in, r_out):
        return f_in.no_such_method()

    with pytest.raises(CheckFailed) as info:
        checks.check_guided_rule(broken)
    lines = machinery.shown_traceback(info.value)
    text = "".join(lines)
    assert lines[0].startswith("not yet: calling broken raised AttributeError")
    assert "f_in.no_such_method()" in text and "in broken" in text  # the student's line
    assert not [name for name in CHECK_FILES if name in text], text
    assert info.value._render_traceback_() == lines  # what IPython shows


def test_a_failure_without_an_error_of_the_student_shows_the_message_alone():
    with pytest.raises(CheckFailed) as info:
        checks.check_guided_rule(backprop)
    assert machinery.shown_traceback(info.value) == [str(info.value)]


def test_in_a_notebook_a_failed_check_shows_its_message_not_the_kits_traceback(tmp_path):
    """A kernel runs the checks as JupyterLab, Voilà and nbgrader run them: the error output
    starts with the message and shows no frame of the checks, and it is still an error."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in (
        "from lecturekit.course import checks\nimport torch",
        "def rule(f_in, r_out):\n    return torch.where(f_in > 0, r_out, 0 * r_out)\n"
        "checks.check_guided_rule(rule)",
        "def rule(f_in, r_out):\n    return f_in.no_such_method()\n"
        "checks.check_guided_rule(rule)")])
    NotebookClient(notebook, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    wrong, raising = ([output for output in cell.outputs if output.output_type == "error"]
                      for cell in notebook.cells[1:])
    assert len(wrong) == len(raising) == 1 and wrong[0].ename == raising[0].ename == "CheckFailed"
    assert [ANSI.sub("", line) for line in wrong[0].traceback] == [wrong[0].evalue]
    assert wrong[0].evalue.startswith("not yet: ") and "plain backprop" in wrong[0].evalue
    shown = ANSI.sub("", "\n".join(raising[0].traceback))
    assert shown.startswith("not yet: calling rule raised AttributeError")
    assert "----> 2     return f_in.no_such_method()" in shown  # the student's line, marked
    assert not [name for name in CHECK_FILES if name in shown], shown
    assert len(shown.splitlines()) <= 12, shown

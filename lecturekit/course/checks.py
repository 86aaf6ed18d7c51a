"""Checks for the homework gaps: "correct", or what is most likely wrong, in plain words.

Each homework notebook in ``exercises/`` has gaps; the cell right after a gap
calls one function of this module with the student's function. The check runs
it on fresh inputs (random values, zeros, negative values and ties included),
compares the result with the kit's own implementation and

* prints ``correct: ...`` when every case agrees, or
* raises :class:`CheckFailed` with a message that names the likely mistake.
  To find it, the check also computes what the classic wrong versions would
  give (plain backprop handed in as guided backprop, a sum over the colour
  channels instead of the maximum, total variation along one axis only, a
  DeepDream step that descends instead of ascending, ...) and says which one
  the student's result matches. When none matches, the message shows the
  first case that differs.

The checks use only torch, numpy and the kit; the models are fresh copies of
the bundled toy network on the CPU, so a check never changes the notebook's
own model and never needs a download.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import torch

from lecturekit.gradient.backward_rules import relu_backward, relu_with_backward
from lecturekit.gradient.gradients import input_gradient
from lecturekit.models import ALEXNET_LAYERS, LayeredNetwork, load_model
from lecturekit.optimise.regularisers import alpha_norm as _kit_alpha_norm
from lecturekit.optimise.regularisers import total_variation as _kit_total_variation
from lecturekit.gradient.saliency import saliency_map as _kit_saliency_map
from lecturekit.targets import FeatureMatching, Logit, Probability, Target

__all__ = ["CheckFailed", "check_alpha_norm", "check_backprop_rule", "check_class_model_step",
           "check_deconvnet_rule", "check_dream_step", "check_guided_rule", "check_inversion",
           "check_saliency", "check_score_gradient", "check_total_variation",
           "check_whole_network_guided"]


class CheckFailed(AssertionError):
    """The function handed to a check does not (yet) do what its gap asks; the message says why."""


# --------------------------------------------------------------------------- machinery

@dataclass
class _Case:
    """One call of the student's function: its arguments, a description, the right answer."""
    args: tuple
    label: str
    want: torch.Tensor | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Mistake:
    """A classic wrong version: what it returns for a case, and what to tell the student."""
    message: str
    output: Callable[[_Case], torch.Tensor]


def _not_filled(name: str) -> CheckFailed:
    return CheckFailed(f"not yet: {name} still raises NotImplementedError, so the gap above is "
                       f"not filled in. Replace the `raise NotImplementedError(...)` line with "
                       f"your code, run that cell, then run this check again.")


def _call(fn: Callable, name: str, args: tuple, arg_names: Sequence[str]) -> Any:
    """Call ``fn(*args)`` on clones of its tensor arguments; explain errors and in-place changes."""
    clones = tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)
    try:
        result = fn(*clones)
    except NotImplementedError:
        raise _not_filled(name) from None
    except CheckFailed:
        raise
    except Exception as error:  # the student's code failed: keep their traceback attached
        raise CheckFailed(f"not yet: calling {name} raised {type(error).__name__}: {error} "
                          f"(see the traceback above for the line in your code)") from error
    for arg, clone, arg_name in zip(args, clones, arg_names):
        if isinstance(arg, torch.Tensor) and not torch.equal(arg, clone.detach()):
            raise CheckFailed(f"not yet: {name} changed its input `{arg_name}` in place (for "
                              f"example with `{arg_name}[...] = 0`, `{arg_name}.clamp_(...)` or "
                              f"`{arg_name} += ...`). The caller still needs it: compute a new "
                              f"tensor instead (torch.where, clamp without the underscore, ...).")
    return result


def _as_tensor(result: Any, name: str, expected: str) -> torch.Tensor:
    if not isinstance(result, torch.Tensor):
        raise CheckFailed(f"not yet: {name} returned {type(result).__name__}"
                          f"{'' if result is not None else ' (did you forget `return`?)'}; "
                          f"it should return {expected}")
    return result.detach()


def _matches(got: torch.Tensor, want: torch.Tensor, rtol: float, atol: float) -> bool:
    """Same shape and close; ``atol`` is relative to the largest value of ``want``."""
    if tuple(got.shape) != tuple(want.shape):
        return False
    got, want = got.detach().double().cpu(), want.detach().double().cpu()
    if not torch.isfinite(got).all():
        return False
    scale = float(want.abs().max()) if want.numel() else 0.0
    return bool(torch.allclose(got, want, rtol=rtol, atol=atol * scale))


def _show(t: torch.Tensor) -> str:
    t = t.detach().cpu()
    if t.numel() <= 16:
        return str(t.double().numpy().round(4).tolist())
    return f"tensor of shape {tuple(t.shape)}"


def _first_difference(case: _Case, got: torch.Tensor, want: torch.Tensor, name: str,
                      expected: str) -> str:
    if tuple(got.shape) != tuple(want.shape):
        return (f"not yet: for {case.label}, {name} returned shape {tuple(got.shape)}, but it "
                f"should return {expected}, here of shape {tuple(want.shape)}")
    if not torch.isfinite(got).all():
        return (f"not yet: for {case.label}, {name} returned NaN or infinite values; the right "
                f"result is finite everywhere")
    diff = (got.double() - want.double()).abs()
    index = tuple(int(i) for i in torch.nonzero(diff == diff.max())[0])
    where = f" at index {index}" if got.ndim else ""
    text = (f"not yet: for {case.label}, {name} gives a different result: the largest "
            f"difference is{where}, where it returned {float(got[index]):.6g} instead of "
            f"{float(want[index]):.6g}")
    if got.numel() <= 16:
        text += f". Whole result: {_show(got)}; expected: {_show(want)}"
    return text + ". None of the classic mistakes this check knows explains it; read the " \
                  "formula in the text above once more."


def _verify(fn: Callable, cases: Sequence[_Case], mistakes: Sequence[_Mistake], *,
            arg_names: Sequence[str], expected: str, rtol: float = 1e-5,
            atol: float = 1e-6, name: str | None = None) -> list[torch.Tensor]:
    """Run ``fn`` on every case; raise with the first mistake that explains all results."""
    name = name or getattr(fn, "__name__", "your function")
    if not callable(fn):
        raise CheckFailed(f"not yet: the check needs your function itself, got "
                          f"{type(fn).__name__} (pass the name without calling it)")
    got = [_as_tensor(_call(fn, name, case.args, arg_names), name, expected) for case in cases]
    if all(_matches(g, c.want, rtol, atol) for c, g in zip(cases, got)):
        return got
    for mistake in mistakes:
        try:
            wrong = [mistake.output(case) for case in cases]
        except Exception:  # a mistake that cannot even be formed for these cases explains nothing
            continue
        if all(_matches(g, w, rtol, atol) for g, w in zip(got, wrong)):
            raise CheckFailed(f"not yet: {mistake.message}")
    for case, g in zip(cases, got):
        if not _matches(g, case.want, rtol, atol):
            raise CheckFailed(_first_difference(case, g, case.want, name, expected))
    raise AssertionError("unreachable")  # pragma: no cover


def _correct(text: str) -> None:
    print(f"correct: {text}")


@lru_cache(maxsize=1)
def _cached_toy() -> LayeredNetwork:
    return load_model("toy", device="cpu", verbose=False)


def _toy() -> LayeredNetwork:
    """A fresh copy of the toy model on the CPU: a student's function cannot damage the original."""
    return copy.deepcopy(_cached_toy())


def _scenes(model: LayeredNetwork, n: int, offset: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` normalised test scenes (never seen in training) and their labels."""
    from lecturekit.scenes import make_batch, test_seeds
    images, _, labels = make_batch(test_seeds(n, offset=offset), size=model.input_size)
    return model.preprocess.normalise(images), labels


# --------------------------------------------------------------------------- the ReLU rules

_MASK_HINT = {
    "backprop": "keep R_out wherever f_in > 0, whatever the sign of R_out",
    "deconvnet": "keep R_out wherever R_out > 0, whatever f_in was",
    "guided": "keep R_out only where f_in > 0 and R_out > 0",
}
_RULE_NAME = {"backprop": "backprop (the true gradient)", "deconvnet": "the Deconvnet rule",
              "guided": "guided backprop"}


def _rule_cases() -> list[_Case]:
    g = torch.Generator().manual_seed(20150412)
    cases = [
        _Case((torch.tensor([[3., -1., 2., -4.], [-2., 5., -3., 1.], [1., -6., 4., -1.],
                             [-3., 2., -5., 6.]]),
               torch.tensor([[-1., 2., -3., 4.], [3., 2., 1., -1.], [2., 5., -4., 3.],
                             [-2., -1., 6., 5.]])),
              "the 4 x 4 example (no zeros)"),
        _Case((torch.tensor([[0., 0., 1., -1.], [0., 2., 0., -3.]]),
               torch.tensor([[1., -1., 0., 0.], [2., 0., -2., 3.]])),
              "inputs with exact zeros (ties) in f_in and R_out"),
        _Case((torch.randint(-3, 4, (2, 3, 5, 5), generator=g).float(),
               torch.randint(-3, 4, (2, 3, 5, 5), generator=g).float()),
              "random integers between -3 and 3, shape (2, 3, 5, 5)"),
        _Case((torch.randn(4, 7, generator=g, dtype=torch.float64),
               torch.randn(4, 7, generator=g, dtype=torch.float64)),
              "random float64 values, shape (4, 7)"),
        _Case((-torch.rand(3, 3, generator=g) - 0.1, torch.randn(3, 3, generator=g)),
              "an all-negative forward input"),
    ]
    return cases


def _where(mask: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    return torch.where(mask, values, torch.zeros_like(values))


def _rule_mistakes(rule: str) -> list[_Mistake]:
    """Wrong rules a student may hand in instead of ``rule``, each with its explanation."""
    pair = lambda c: c.args  # noqa: E731  (f_in, r_out)
    target = _RULE_NAME[rule]
    hint = _MASK_HINT[rule]
    confusions = {
        ("guided", "backprop"): "your rule passes negative signals down wherever the forward "
            "input was positive: that is plain backprop (the true gradient), not guided backprop. "
            "Guided backprop also drops the negative part of the signal",
        ("guided", "deconvnet"): "your rule passes the signal through where the forward "
            "input was negative (where the forward ReLU was off): that is the Deconvnet rule, not "
            "guided backprop. Guided backprop also applies the forward mask f_in > 0",
        ("backprop", "guided"): "your rule also drops the negative part of the signal: that is "
            "guided backprop, not the true gradient. The derivative of max(f_in, 0) does not "
            "depend on the sign of R_out",
        ("backprop", "deconvnet"): "your rule masks by the sign of the signal R_out instead of "
            "the forward input f_in: that is the Deconvnet rule, not backprop. The derivative of "
            "max(f_in, 0) is 1 where f_in > 0 and 0 elsewhere",
        ("deconvnet", "backprop"): "your rule masks by the sign of the forward input f_in: that "
            "is backprop, not the Deconvnet rule. The Deconvnet rectifies the signal itself and "
            "does not look at the forward input at the ReLU",
        ("deconvnet", "guided"): "your rule also applies the forward mask f_in > 0: that is "
            "guided backprop, not the Deconvnet rule, which ignores the forward input at the ReLU",
    }
    mistakes = []
    for other in ("backprop", "deconvnet", "guided"):
        if other != rule:
            mistakes.append(_Mistake(f"{confusions[(rule, other)]}: {hint}.",
                                     lambda c, o=other: relu_backward(*pair(c), o)))
    mistakes.append(_Mistake(
        "your rule passes the signal through unchanged: a ReLU's backward pass must zero part "
        f"of it. For {target}, {hint}.", lambda c: c.args[1].clone()))
    mistakes.append(_Mistake(
        f"your rule returns zeros everywhere. For {target}, {hint}.",
        lambda c: torch.zeros_like(c.args[1])))
    multiplied = ("your rule multiplies the signal by the forward activation (its value) instead "
                  "of masking it by its sign. The mask is 0 or 1: use the comparison itself, for "
                  f"example torch.where(f_in > 0, r_out, 0), not f_in or max(f_in, 0). For "
                  f"{target}, {hint}.")
    signal_by_rule = {"backprop": lambda f, r: r, "deconvnet": lambda f, r: r.clamp(min=0),
                      "guided": lambda f, r: r.clamp(min=0)}[rule]
    for form in (lambda f, r: f.clamp(min=0) * signal_by_rule(f, r),
                 lambda f, r: f * signal_by_rule(f, r),
                 lambda f, r: f.clamp(min=0) * r, lambda f, r: f.clamp(min=0) * r.clamp(min=0),
                 lambda f, r: f * r):
        mistakes.append(_Mistake(multiplied, lambda c, form=form: form(*c.args)))
    if rule in ("backprop", "guided"):
        ties = ("your rule lets the signal through where f_in is exactly 0 (a tie). There the "
                "forward output max(f_in, 0) is 0 and the ReLU is off, so the mask is f_in > 0, "
                f"not f_in >= 0. For {target}, {hint}.")
        if rule == "backprop":
            mistakes.append(_Mistake(ties, lambda c: _where(c.args[0] >= 0, c.args[1])))
        else:
            mistakes.append(_Mistake(ties, lambda c: _where((c.args[0] >= 0) & (c.args[1] > 0),
                                                            c.args[1])))
    mistakes.append(_Mistake(
        "your rule returns the forward output max(f_in, 0); going backwards a ReLU hands down "
        f"(part of) the signal R_out from above. For {target}, {hint}.",
        lambda c: c.args[0].clamp(min=0)))
    mistakes.append(_Mistake(
        "your rule returns values of f_in where it should return the signal R_out: check the "
        f"order of the arguments, (f_in, r_out). For {target}, {hint}.",
        lambda c: relu_backward(c.args[1], c.args[0], rule)))
    return mistakes


def _check_rule(fn: Callable, rule: str) -> None:
    cases = _rule_cases()
    for case in cases:
        case.want = relu_backward(*case.args, rule)
    _verify(fn, cases, _rule_mistakes(rule), arg_names=("f_in", "r_out"),
            expected="a tensor of the same shape as f_in and r_out", rtol=0.0, atol=1e-12)
    _correct(f"{getattr(fn, '__name__', 'your rule')} follows {_RULE_NAME[rule]} on all "
             f"{len(cases)} test cases (zeros, ties and negative values included)")


def check_backprop_rule(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``fn(f_in, r_out)`` must be the true gradient rule ``(f_in > 0) * r_out``."""
    _check_rule(fn, "backprop")


def check_deconvnet_rule(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``fn(f_in, r_out)`` must be Zeiler & Fergus' rule ``(r_out > 0) * r_out``."""
    _check_rule(fn, "deconvnet")


def check_guided_rule(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``fn(f_in, r_out)`` must be Springenberg et al.'s rule ``(f_in > 0) * (r_out > 0) * r_out``."""
    _check_rule(fn, "guided")


# --------------------------------------------------------------------------- whole network

class _FnReLU(torch.nn.Module):
    """A ReLU whose backward pass is the student's rule ``rule_fn(f_in, r_out)``."""

    def __init__(self, rule_fn):
        super().__init__()
        self.rule_fn = rule_fn

    def forward(self, x):
        return relu_with_backward(x, self.rule_fn)


_RELUS = tuple(name for name in ALEXNET_LAYERS if name.startswith("relu"))
_FEATURE_RELUS = ("relu1", "relu2", "relu3", "relu4", "relu5")


def _gradient_with(model: LayeredNetwork, images: torch.Tensor, classes: torch.Tensor,
                   rules: dict[str, Callable]) -> torch.Tensor:
    """d logit / d image with the ReLUs in ``rules`` replaced by those backward rules."""
    saved = {name: model.layers[name] for name in rules}
    try:
        for name, rule_fn in rules.items():
            model.layers[name] = _FnReLU(rule_fn)
        x = images.clone().requires_grad_(True)
        scores = model(x)[torch.arange(len(images)), classes]
        (gradient,) = torch.autograd.grad(scores.sum(), x)
    finally:
        for name, module in saved.items():
            model.layers[name] = module
    return gradient


def _rule(name: str) -> Callable:
    return lambda f, r: relu_backward(f, r, name)


def _hooks_left(model: torch.nn.Module) -> list[str]:
    left = []
    for name, module in model.named_modules():
        for kind in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks",
                     "_backward_pre_hooks"):
            if getattr(module, kind, None):
                left.append(f"{name or 'the model'} ({kind.strip('_').replace('_', ' ')})")
    from torch.nn.modules import module as module_mod
    for kind in ("_global_forward_hooks", "_global_backward_hooks",
                 "_global_forward_pre_hooks", "_global_backward_pre_hooks"):
        if getattr(module_mod, kind, None):
            left.append(f"a global module hook ({kind.strip('_').replace('_', ' ')})")
    return left


class _Probe(Exception):
    pass


def _enter(fn: Callable, model: LayeredNetwork, name: str) -> AbstractContextManager:
    try:
        manager = fn(model)
    except NotImplementedError:
        raise _not_filled(name) from None
    if not (hasattr(manager, "__enter__") and hasattr(manager, "__exit__")):
        raise CheckFailed(f"not yet: {name}(model) returned {type(manager).__name__}, not a "
                          f"context manager. Write it as a generator decorated with "
                          f"@contextlib.contextmanager that swaps the ReLUs, then `yield`s inside "
                          f"try/finally and puts the originals back in the finally block.")
    return manager


def _not_restored(model: LayeredNetwork, originals: dict[str, torch.nn.Module]) -> list[str]:
    return [name for name, module in originals.items() if model.layers[name] is not module]


def check_whole_network_guided(fn: Callable[[LayeredNetwork], AbstractContextManager]) -> None:
    """``with fn(model):`` must make every ReLU of ``model`` (relu1 ... relu7) pass gradients
    by the guided rule, leave the forward pass alone, and restore the model on exit, also
    when the block raises, leaving no hook behind."""
    name = getattr(fn, "__name__", "your context manager")
    if not callable(fn):
        raise CheckFailed(f"not yet: pass the context manager function itself, got "
                          f"{type(fn).__name__}")
    model = _toy()
    originals = {layer: model.layers[layer] for layer in ALEXNET_LAYERS}
    images, labels = _scenes(model, 3, offset=4000)
    noise = 0.8 * torch.randn(1, *images.shape[1:], generator=torch.Generator().manual_seed(7))
    images = torch.cat([images, noise])
    with torch.no_grad():
        plain_scores = model(images)
    classes = torch.cat([labels, plain_scores[3:].argmax(1)])
    want = input_gradient(model, images, Logit(classes), rule="guided")
    plain = _gradient_with(model, images, classes, {})

    # inside the block: same forward pass, guided backward pass
    try:
        with _enter(fn, model, name):
            x = images.clone().requires_grad_(True)
            scores = model(x)
            if not torch.allclose(scores.detach(), plain_scores, rtol=1e-5, atol=1e-5):
                raise CheckFailed(
                    f"not yet: inside `with {name}(model):` the forward pass gives different "
                    f"class scores. Guided backprop changes only the backward pass: the forward "
                    f"of each ReLU must still be max(f_in, 0).")
            (got,) = torch.autograd.grad(scores[torch.arange(len(x)), classes].sum(), x)
    except NotImplementedError:
        raise _not_filled(name) from None
    except CheckFailed:
        raise
    except Exception as error:
        raise CheckFailed(f"not yet: using `with {name}(model):` raised {type(error).__name__}: "
                          f"{error} (see the traceback above)") from error

    # after the block: the very same modules, no hooks, the plain gradient again
    moved = _not_restored(model, originals)
    if moved:
        raise CheckFailed(f"not yet: after the with block, {', '.join(moved)} "
                          f"{'is' if len(moved) == 1 else 'are'} not the original module"
                          f"{'' if len(moved) == 1 else 's'}. A context manager that changes a "
                          f"model must put every original module back on exit (in a finally "
                          f"block after the yield).")
    hooks = _hooks_left(model)
    if hooks:
        raise CheckFailed(f"not yet: a hook outlives the with block: {', '.join(hooks)}. Keep "
                          f"the handles that register_..._hook returns and call "
                          f"handle.remove() on each in a finally block.")
    if not torch.allclose(_gradient_with(model, images, classes, {}), plain):
        raise CheckFailed("not yet: after the with block the model no longer computes the plain "
                          "gradient; restore everything you changed on exit.")

    # an exception inside the block must still restore the model
    try:
        with _enter(fn, model, name):
            raise _Probe()
    except _Probe:
        pass
    left = _not_restored(model, originals) + _hooks_left(model)
    if left:
        raise CheckFailed(f"not yet: when the code inside `with {name}(model):` raises an "
                          f"exception, the model is not restored ({', '.join(left)} left "
                          f"changed). Put the restoring code in a finally block around the yield.")

    guided, deconvnet = _rule("guided"), _rule("deconvnet")
    mistakes = [
        _Mistake("your context manager leaves the backward pass unchanged: this is the plain "
                 "gradient. Replace every ReLU module (relu1 ... relu7) by one whose backward "
                 "follows the guided rule, e.g. with a torch.autograd.Function.",
                 lambda c: plain),
        _Mistake("every ReLU passes the signal by the Deconvnet rule (positive signal only, no "
                 "forward mask): that is not guided backprop. In the backward of your ReLU, also "
                 "keep only positions where the forward input f_in was > 0.",
                 lambda c: _gradient_with(model, images, classes,
                                          {r: deconvnet for r in _RELUS})),
        _Mistake("your guided rule reaches only the ReLUs of the convolutional part (relu1 ... "
                 "relu5); relu6 and relu7 between the fully connected layers still pass the "
                 "plain gradient. This is the bug of a popular public implementation, which "
                 "hooks only `model.features`: apply the rule to every ReLU of the network, "
                 "classifier included.",
                 lambda c: _gradient_with(model, images, classes,
                                          {r: guided for r in _FEATURE_RELUS})),
        _Mistake("your guided rule reaches only relu6 and relu7 of the classifier; the ReLUs of "
                 "the convolutional part (relu1 ... relu5) still pass the plain gradient. Apply "
                 "it to every ReLU of the network.",
                 lambda c: _gradient_with(model, images, classes,
                                          {r: guided for r in _RELUS if r not in _FEATURE_RELUS})),
        _Mistake("your ReLUs multiply the signal by the forward activation instead of masking "
                 "it by its sign: use (f_in > 0) as a 0/1 mask.",
                 lambda c: _gradient_with(model, images, classes, {
                     r: (lambda f, s: f.clamp(min=0) * s.clamp(min=0)) for r in _RELUS})),
    ]
    case = _Case((), "3 test scenes and 1 noise image, each with its class score", want)
    _verify(lambda: got, [case], mistakes, arg_names=(), rtol=1e-4, atol=1e-6, name=name,
            expected="the guided-backprop gradient of the class score")
    _correct(f"with {name}(model) every ReLU (relu1 ... relu7) follows guided backprop, the "
             f"forward pass is unchanged, and the model is restored on exit (also after an "
             f"exception) with no hook left behind")


# --------------------------------------------------------------------------- saliency

def _saliency_cases(model: LayeredNetwork) -> list[_Case]:
    images, labels = _scenes(model, 3, offset=5000)
    noise = 0.8 * torch.randn(2, 3, 96, 112, generator=torch.Generator().manual_seed(3))
    return [
        _Case((model, images, labels), "3 test scenes, one class per image (a tensor)"),
        _Case((model, images[:2], 4), "2 test scenes, class 4 for both (an int)"),
        _Case((model, noise, 6), "2 noise images of 96 x 112 pixels, class 6"),
    ]


def _grad(model, images, target: Target) -> torch.Tensor:
    return input_gradient(model, images, target)


def _classes(case: _Case) -> torch.Tensor:
    """The class of every image of a saliency case, as a tensor (N,)."""
    _, images, index = case.args
    index = torch.as_tensor(index).reshape(-1)
    return index.expand(len(images)) if index.numel() == 1 else index


def check_score_gradient(fn: Callable[[LayeredNetwork, torch.Tensor, Any], torch.Tensor]) -> None:
    """``fn(model, images, class_index)`` must return dS_c/dI, the gradient of the
    unnormalised class score (the logit) with respect to the input, shape (N, 3, H, W)."""
    model = _toy()
    cases = _saliency_cases(model)
    for case in cases:
        case.want = _grad(model, case.args[1], Logit(_classes(case)))

    def of(target_of: Callable[[_Case], Target], sign: float = 1.0):
        return lambda c: sign * _grad(model, c.args[1], target_of(c))

    with torch.no_grad():
        predicted = {id(c): model(c.args[1]).argmax(1) for c in cases}
    softmax = ("you differentiated the softmax probability instead of the raw score. Simonyan "
               "et al. use the unnormalised score S_c (the logit, the output of fc8): the "
               "probability can also rise when the other classes' scores fall, so its gradient "
               "mixes all classes in.")
    mistakes = [
        _Mistake(softmax, of(lambda c: Probability(_classes(c)))),
        _Mistake("you differentiated the log-probability (log-softmax, the negative "
                 "cross-entropy) instead of the raw score S_c; take the logit, the output of "
                 "fc8, without softmax.", of(lambda c: _LogSoftmax(_classes(c)))),
        _Mistake("you differentiated the cross-entropy loss: its gradient points the other way "
                 "and mixes in all classes. Take the raw score S_c (the logit) itself.",
                 of(lambda c: _LogSoftmax(_classes(c)), -1.0)),
        _Mistake("the sign is flipped: you returned the gradient of -S_c. Return dS_c/dI "
                 "itself, the direction in which the class score grows.",
                 of(lambda c: Logit(_classes(c)), -1.0)),
        _Mistake("you differentiated the sum of all class scores; take only the score of the "
                 "class in class_index, one per image.",
                 lambda c: len(model.classes) * _grad(model, c.args[1], _MeanLogits())),
        _Mistake("you used each image's predicted class instead of the class in class_index.",
                 of(lambda c: Logit(predicted[id(c)]))),
        _Mistake("you used the first entry of class_index for every image; with a tensor of "
                 "classes, image i needs the score of class_index[i] (e.g. "
                 "scores[torch.arange(len(images)), class_index]).",
                 of(lambda c: Logit(int(_classes(c)[0])))),
    ]
    _verify(fn, cases, mistakes, arg_names=("model", "images", "class_index"), rtol=1e-4,
            atol=1e-5, expected="a tensor of the shape of images, (N, 3, H, W)")
    _correct(f"{getattr(fn, '__name__', 'your function')} returns dS_c/dI, the gradient of the "
             f"unnormalised class score, on all {len(cases)} test batches")


class _LogSoftmax(Target):
    def __init__(self, index):
        self.layers, self.index = ("fc8",), index

    def __call__(self, acts):
        logp = torch.log_softmax(acts["fc8"], dim=1)
        return logp[torch.arange(len(logp)), torch.as_tensor(self.index).to(logp.device)]


class _MeanLogits(Target):
    layers = ("fc8",)

    def __call__(self, acts):
        return acts["fc8"].mean(1)


def check_saliency(fn: Callable[[LayeredNetwork, torch.Tensor, Any], torch.Tensor]) -> None:
    """``fn(model, images, class_index)`` must return Simonyan et al.'s saliency maps
    ``M_ij = max_c |dS_c/dI_cij|`` of shape (N, H, W), unnormalised."""
    model = _toy()
    cases = _saliency_cases(model)
    for case in cases:
        case.want = _kit_saliency_map(model, case.args[1], _classes(case))
        case.extra["g"] = _grad(model, case.args[1], Logit(_classes(case)))
        case.extra["p"] = _grad(model, case.args[1], Probability(_classes(case)))
    softmax = ("you started from the gradient of the softmax probability instead of the raw "
               "score. Simonyan et al. use the unnormalised score S_c (the logit): the "
               "probability can also rise when other classes fall.")
    g = lambda c: c.extra["g"]  # noqa: E731
    p = lambda c: c.extra["p"]  # noqa: E731
    per_image_max = lambda m: m.reshape(len(m), -1).amax(1).clamp_min(1e-30).view(-1, 1, 1)  # noqa
    mistakes = [
        _Mistake("you summed |gradient| over the colour channels; the saliency map takes the "
                 "maximum over the channels, M_ij = max_c |w_ijc| (summing is the mistake of a "
                 "popular public implementation).", lambda c: g(c).abs().sum(1)),
        _Mistake("you averaged |gradient| over the colour channels; the saliency map takes the "
                 "maximum, M_ij = max_c |w_ijc|.", lambda c: g(c).abs().mean(1)),
        _Mistake("the absolute value is missing: you took the maximum of the signed gradient, "
                 "so strongly negative pixels (which matter just as much) count as unimportant. "
                 "Take |w| first, then the maximum over the channels.",
                 lambda c: g(c).amax(1)),
        _Mistake("you took the absolute value after the maximum: max_c w is the largest signed "
                 "value and misses strongly negative channels. Take |w| first, then the maximum.",
                 lambda c: g(c).amax(1).abs()),
        _Mistake("the absolute value is missing: you summed the signed gradient over the "
                 "channels. Take |w|, then the maximum over the channels.",
                 lambda c: g(c).sum(1)),
        _Mistake(softmax, lambda c: p(c).abs().amax(1)),
        _Mistake(softmax + " (You also summed over the channels instead of taking the maximum.)",
                 lambda c: p(c).abs().sum(1)),
        _Mistake("you took the Euclidean norm over the colour channels; the saliency map takes "
                 "the maximum of |w| over the channels.", lambda c: g(c).norm(dim=1)),
        _Mistake("you squared the gradient; the saliency map uses its absolute value, "
                 "M_ij = max_c |w_ijc|.", lambda c: g(c).square().amax(1)),
        _Mistake("you normalised each map (divided by its maximum). The check wants the "
                 "unnormalised map M_ij = max_c |w_ijc|; scale only for display.",
                 lambda c: c.want / per_image_max(c.want)),
        _Mistake("you kept the channel axis: the result has shape (N, 1, H, W). Reduce it away "
                 "(amax(dim=1) without keepdim) to get one map per image, (N, H, W).",
                 lambda c: c.want.unsqueeze(1)),
        _Mistake("you used only one colour channel; take the maximum of |w| over all three.",
                 lambda c: g(c)[:, 0].abs()),
    ]
    _verify(fn, cases, mistakes, arg_names=("model", "images", "class_index"), rtol=1e-4,
            atol=1e-5, expected="one map per image, a tensor of shape (N, H, W)")
    _correct(f"{getattr(fn, '__name__', 'your function')} gives max_c |dS_c/dI| (the raw "
             f"score, absolute value, maximum over colour) on all {len(cases)} test batches")


# --------------------------------------------------------------------------- regularisers

def _regulariser_images() -> list[tuple[torch.Tensor, str]]:
    g = torch.Generator().manual_seed(2015)
    ramp = torch.arange(6 * 8, dtype=torch.float32).reshape(1, 1, 6, 8).repeat(1, 3, 1, 1) / 10
    ties = torch.randint(-2, 3, (2, 3, 7, 5), generator=g).float()
    return [
        (torch.randn(2, 3, 9, 11, generator=g), "random values, shape (2, 3, 9, 11)"),
        (torch.zeros(1, 3, 5, 5), "an all-zero image"),
        (-torch.rand(1, 3, 4, 6, generator=g) - 0.5, "an all-negative image"),
        (ties, "integers -2 ... 2 with many equal neighbours (ties), shape (2, 3, 7, 5)"),
        (ramp, "a ramp image (brighter to the right and downwards), shape (1, 3, 6, 8)"),
        (torch.randn(3, 3, 8, 8, generator=g, dtype=torch.float64), "float64 values"),
    ]


def check_alpha_norm(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> None:
    """``fn(x, alpha)`` must return ``sum_{c,h,w} |x|^alpha`` per image, shape (N,)."""
    cases = []
    for x, label in _regulariser_images():
        for alpha in (1.0, 2.0, 3.0, 6.0):
            cases.append(_Case((x, alpha), f"{label} with alpha = {alpha:g}",
                               _kit_alpha_norm(x.double(), alpha)))
    a = lambda c: c.args[0].double().abs()  # noqa: E731
    mistakes = [
        _Mistake("the absolute value is missing: for odd alpha (1, 3, ...) negative pixels make "
                 "x**alpha negative, so the penalty can go below zero and would reward dark "
                 "pixels. Use |x|**alpha.",
                 lambda c: c.args[0].double().pow(c.args[1]).sum((1, 2, 3))),
        _Mistake("you took the mean instead of the sum over the pixels: the alpha-norm prior is "
                 "sum_{c,h,w} |x|^alpha.", lambda c: a(c).pow(c.args[1]).mean((1, 2, 3))),
        _Mistake("you took the alpha-th root: the prior is ||x||_alpha^alpha, the plain sum of "
                 "|x|^alpha, without the root (torch.norm(x, p=alpha) is the root form).",
                 lambda c: a(c).pow(c.args[1]).sum((1, 2, 3)).pow(1 / c.args[1])),
        _Mistake("your function returns one number for the whole batch: return one value per "
                 "image, shape (N,) (sum over dims 1, 2, 3 only).",
                 lambda c: a(c).pow(c.args[1]).sum()),
        _Mistake("your function returns one number for the whole batch, and the mean instead "
                 "of the sum: return sum_{c,h,w} |x|^alpha per image, shape (N,).",
                 lambda c: a(c).pow(c.args[1]).mean()),
        _Mistake("your function ignores alpha and always squares: use |x| ** alpha.",
                 lambda c: a(c).pow(2).sum((1, 2, 3))),
        _Mistake("you multiplied by alpha instead of raising to the power alpha: |x| ** alpha.",
                 lambda c: (a(c) * c.args[1]).sum((1, 2, 3))),
        _Mistake("your function returns the per-pixel values |x|^alpha; sum them per image, "
                 "shape (N,).", lambda c: a(c).pow(c.args[1])),
    ]
    _verify(fn, cases, mistakes, arg_names=("x", "alpha"), rtol=1e-4, atol=1e-6,
            expected="one value per image, a tensor of shape (N,)")
    _correct(f"{getattr(fn, '__name__', 'your function')} is sum |x|^alpha per image on all "
             f"{len(cases)} test cases (alpha = 1, 2, 3, 6; zeros and negative values included)")


def _tv_exact(x: torch.Tensor, beta: float, dims=(2, 3), crop: bool = True,
              together: bool = True, power: float | None = None) -> torch.Tensor:
    """TV variants: ``dims`` the two axes differenced, ``crop`` pairs both differences at the
    same pixel, ``together`` adds squares before the power, ``power`` overrides beta / 2."""
    x = x.double()
    a, b = dims
    p = beta / 2 if power is None else power
    da = x.narrow(a, 1, x.shape[a] - 1) - x.narrow(a, 0, x.shape[a] - 1)
    db = x.narrow(b, 1, x.shape[b] - 1) - x.narrow(b, 0, x.shape[b] - 1)
    if crop:
        da = da.narrow(b, 0, x.shape[b] - 1)
        db = db.narrow(a, 0, x.shape[a] - 1)
        if together:
            return (da.square() + db.square()).pow(p).sum((1, 2, 3))
        return (da.square().pow(p) + db.square().pow(p)).sum((1, 2, 3))
    return da.square().pow(p).sum((1, 2, 3)) + db.square().pow(p).sum((1, 2, 3))


def _tv_eps(x: torch.Tensor, beta: float, eps: float) -> torch.Tensor:
    x = x.double()
    dx = x[:, :, :-1, 1:] - x[:, :, :-1, :-1]
    dy = x[:, :, 1:, :-1] - x[:, :, :-1, :-1]
    return (dx.square() + dy.square() + eps).pow(beta / 2).sum((1, 2, 3))


def _tv_one_axis(x: torch.Tensor, beta: float, axis: int) -> torch.Tensor:
    x = x.double()
    d = x.narrow(axis, 1, x.shape[axis] - 1) - x.narrow(axis, 0, x.shape[axis] - 1)
    return d.square().pow(beta / 2).sum((1, 2, 3))


def check_total_variation(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> None:
    """``fn(x, beta)`` must return Mahendran & Vedaldi's ``TV_beta`` per image, shape (N,):
    ``sum_c sum_ij ((x[i, j+1] - x[i, j])^2 + (x[i+1, j] - x[i, j])^2)^(beta/2)``."""
    cases = []
    for x, label in _regulariser_images():
        for beta in (1.0, 2.0, 3.0):
            cases.append(_Case((x, beta), f"{label} with beta = {beta:g}",
                               _kit_total_variation(x.double(), beta, eps=0.0)))
    n = lambda c: c.args[0][0].numel()  # noqa: E731
    beta = lambda c: c.args[1]  # noqa: E731
    both = ("TV sums, for every pixel, the squared difference to its right neighbour plus the "
            "squared difference to the neighbour below, then raises that sum to beta/2")
    mistakes = [
        _Mistake(f"your TV uses one axis only: the differences along the width (x[i, j+1] - "
                 f"x[i, j]). {both}: add the differences along the height.",
                 lambda c: _tv_one_axis(c.args[0], beta(c), 3)),
        _Mistake(f"your TV uses one axis only: the differences along the height (x[i+1, j] - "
                 f"x[i, j]). {both}: add the differences along the width.",
                 lambda c: _tv_one_axis(c.args[0], beta(c), 2)),
        _Mistake("your TV takes differences across the channels (dimension 1 of (N, C, H, W)) "
                 "as if they were a spatial axis: this is the bug of a popular public "
                 "implementation. The two axes are the height and the width (dims 2 and 3); "
                 "each colour channel is treated separately.",
                 lambda c: _tv_exact(c.args[0], beta(c), dims=(1, 2))),
        _Mistake("your TV takes differences across the channels (dimension 1 of (N, C, H, W)) "
                 "as if they were a spatial axis: this is the bug of a popular public "
                 "implementation. The two axes are the height and the width (dims 2 and 3).",
                 lambda c: _tv_exact(c.args[0], beta(c), dims=(1, 3))),
        _Mistake("the exponent beta is missing: you summed the squared differences without "
                 "raising them to the power beta/2 (right only for beta = 2).",
                 lambda c: _tv_exact(c.args[0], beta(c), power=1.0)),
        _Mistake("you raised to the power beta instead of beta/2: the inner sum is of squared "
                 "differences, so (dx^2 + dy^2)^(beta/2) gives |gradient|^beta.",
                 lambda c: _tv_exact(c.args[0], beta(c), power=beta(c))),
        _Mistake("you raised each difference to the power separately, |dx|^beta + |dy|^beta "
                 "(the anisotropic TV). Mahendran & Vedaldi first add the two squares at each "
                 "pixel and then raise the sum to beta/2.",
                 lambda c: _tv_exact(c.args[0], beta(c), together=False)),
        _Mistake("you summed the horizontal and vertical differences over all rows and columns "
                 "separately. The formula pairs the two differences at the same pixel (i, j), "
                 "so only pixels with both a right and a lower neighbour count: use "
                 "x[:, :, :-1, 1:] - x[:, :, :-1, :-1] and x[:, :, 1:, :-1] - x[:, :, :-1, :-1].",
                 lambda c: _tv_exact(c.args[0], beta(c), crop=False)),
        _Mistake("you summed the horizontal and vertical differences over all rows and columns "
                 "separately, and the exponent beta is missing. The formula pairs the two "
                 "differences at the same pixel (i, j), adds their squares and raises the sum to "
                 "beta/2: use x[:, :, :-1, 1:] - x[:, :, :-1, :-1] and "
                 "x[:, :, 1:, :-1] - x[:, :, :-1, :-1].",
                 lambda c: _tv_exact(c.args[0], beta(c), crop=False, power=1.0)),
        *[_Mistake("your TV is not 0 on a flat image: an eps added inside the power adds "
                   "eps^(beta/2) at every pixel (0.0001 per pixel for eps = 1e-8 and beta = 1). "
                   "Leave the eps out (the inversion uses beta = 2, where the power is smooth), "
                   "or subtract eps^(beta/2) again.",
                   lambda c, e=eps: _tv_eps(c.args[0], beta(c), e))
           for eps in (1e-12, 1e-10, 1e-8, 1e-6, 1e-4)],
        _Mistake("you took the mean instead of the sum over pixels and channels: TV_beta is a "
                 "sum.", lambda c: c.want / (c.want.new_tensor(
                     (c.args[0].shape[1]) * (c.args[0].shape[2] - 1) * (c.args[0].shape[3] - 1)))),
        _Mistake("you took the mean instead of the sum over pixels and channels: TV_beta is a "
                 "sum.", lambda c: c.want / n(c)),
        _Mistake("your function returns one number for the whole batch: return one value per "
                 "image, shape (N,) (sum over dims 1, 2, 3 only).", lambda c: c.want.sum()),
    ]
    _verify(fn, cases, mistakes, arg_names=("x", "beta"), rtol=1e-4, atol=2e-5,
            expected="one value per image, a tensor of shape (N,)")
    _correct(f"{getattr(fn, '__name__', 'your function')} is TV_beta over both spatial axes per "
             f"image on all {len(cases)} test cases (beta = 1, 2, 3; flat images, ties and "
             f"negative values included)")


# --------------------------------------------------------------------------- inversion

def check_inversion(fn: Callable[[LayeredNetwork, torch.Tensor, str], torch.Tensor],
                    layer: str = "relu2") -> None:
    """``fn(model, images, layer)`` must return images whose activations at ``layer`` match
    those of ``images`` (relative error ||Phi(x) - Phi0||^2 / ||Phi0||^2 well below that of
    noise), found by optimisation from the activations alone."""
    name = getattr(fn, "__name__", "your function")
    model = _toy()
    images, _ = _scenes(model, 1, offset=6000)
    result = _as_tensor(_call(fn, name, (model, images, layer), ("model", "images", "layer")),
                        name, f"a batch of images of shape {tuple(images.shape)}")
    if tuple(result.shape) != tuple(images.shape):
        raise CheckFailed(f"not yet: {name} returned shape {tuple(result.shape)}; the "
                          f"reconstruction must have the shape of the input, "
                          f"{tuple(images.shape)}")
    if not torch.isfinite(result).all():
        raise CheckFailed(f"not yet: {name} returned NaN or infinite values: the optimisation "
                          f"diverged. Lower the learning rate or the regularisers' weights.")
    if torch.allclose(result, images, atol=1e-4):
        raise CheckFailed(f"not yet: {name} returned the original images. An inversion knows "
                          f"only the activations Phi0: start from noise and optimise.")
    error = FeatureMatching(layer, model.forward_to(images, layer))
    with torch.no_grad():
        got = float(error(model.activations(result.to(torch.float32), [layer])))
        noise = 0.5 * torch.randn(images.shape, generator=torch.Generator().manual_seed(1))
        baseline = float(error(model.activations(noise, [layer])))
    if got >= baseline:
        raise CheckFailed(
            f"not yet: the relative feature error of your reconstruction is {got:.3f}, no better "
            f"than noise ({baseline:.3f}). Did you maximise the feature-matching term? It is an "
            f"error to be made small: pass maximise=False to optimise.")
    if got > 0.1:
        raise CheckFailed(
            f"not yet: the relative feature error of your reconstruction is {got:.3f} (noise: "
            f"{baseline:.3f}); it should end below 0.1. Run more steps, use a larger learning "
            f"rate or smaller weights of the regularisers.")
    _correct(f"{name} matches the {layer} activations of a test scene with a relative error "
             f"below 0.1 (noise: about {baseline:.1f})")


# --------------------------------------------------------------------------- DeepDream step

def _layer_l2_gradient(model: LayeredNetwork, x: torch.Tensor, layer: str,
                       objective: str = "l2") -> torch.Tensor:
    x = x.detach().clone().requires_grad_(True)
    act = model.forward_to(x, layer)
    value = 0.5 * act.pow(2).sum() if objective == "l2" else act.sum()
    (gradient,) = torch.autograd.grad(value, x)
    return gradient


def _roll(x: torch.Tensor, shift: tuple[int, int], sign: int = 1) -> torch.Tensor:
    return torch.roll(x, shifts=(sign * shift[0], sign * shift[1]), dims=(2, 3))


def _per_image_mean_abs(g: torch.Tensor) -> torch.Tensor:
    return g.abs().mean(dim=(1, 2, 3), keepdim=True)


def check_dream_step(fn: Callable[[LayeredNetwork, torch.Tensor, str, float, tuple[int, int]],
                                  torch.Tensor]) -> None:
    """``fn(model, image, layer, step_size, shift)`` must make one DeepDream step: roll the
    image by ``shift`` = (dy, dx), take the gradient of 1/2 ||a||^2 of ``layer``, roll the
    gradient back, and return ``image + step_size * g / mean(|g|)`` (mean per image)."""
    model = _toy()
    scenes, _ = _scenes(model, 2, offset=7000)
    noise = 0.5 * torch.randn(1, 3, 112, 112, generator=torch.Generator().manual_seed(5))
    cases = [
        _Case((model, scenes, "conv4", 0.5, (5, -7)), "2 test scenes, layer conv4, shift (5, -7)"),
        _Case((model, noise, "relu3", 1.0, (-13, 9)), "a noise image, layer relu3, shift (-13, 9)"),
        _Case((model, scenes[1:], "conv5", 0.25, (0, 3)), "1 scene, layer conv5, shift (0, 3)"),
    ]
    for case in cases:
        _, image, layer, step, shift = case.args
        rolled_grad = _layer_l2_gradient(model, _roll(image, shift), layer)  # in rolled frame
        back = _roll(rolled_grad, shift, -1)
        case.extra.update(rolled=rolled_grad, back=back,
                          plain=_layer_l2_gradient(model, image, layer),
                          summed=_roll(_layer_l2_gradient(model, _roll(image, shift), layer,
                                                          "sum"), shift, -1))
        case.want = image + step * back / _per_image_mean_abs(back)

    def step_of(c: _Case, g: torch.Tensor, norm: Callable = _per_image_mean_abs,
                sign: float = 1.0) -> torch.Tensor:
        return c.args[1] + sign * c.args[3] * g / norm(g)

    not_undone = ("the jitter is not undone: after the step the image (or the gradient) must "
                  "be rolled back by -shift, so that the step lands on the unshifted image.")
    mistakes = [
        _Mistake("the gradient is not normalised: DeepDream divides it by its mean absolute "
                 "value (per image) so that every step has the same size, "
                 "image + step_size * g / g.abs().mean().",
                 lambda c: c.args[1] + c.args[3] * c.extra["back"]),
        _Mistake("your step descends instead of ascending (a sign error): DeepDream makes the "
                 "layer's activations larger, so it adds the normalised gradient, "
                 "image + step_size * g / mean|g|.",
                 lambda c: step_of(c, c.extra["back"], sign=-1.0)),
        _Mistake(not_undone + " You returned the rolled image.",
                 lambda c: _roll(c.args[1], c.args[4]) + c.args[3] * c.extra["rolled"]
                 / _per_image_mean_abs(c.extra["rolled"])),
        _Mistake(not_undone + " You added the gradient of the rolled image without rolling it "
                 "back.", lambda c: step_of(c, c.extra["rolled"])),
        _Mistake("the jitter is undone in the wrong direction: roll back by (-dy, -dx), the "
                 "opposite of the shift.",
                 lambda c: step_of(c, _roll(c.extra["rolled"], c.args[4], 1))),
        _Mistake("the shift is ignored: roll the image by shift before taking the gradient, and "
                 "roll the gradient back afterwards (random jitter is what keeps DeepDream from "
                 "painting a fixed grid pattern).", lambda c: step_of(c, c.extra["plain"])),
        _Mistake("you normalised the gradient by the mean |g| of the whole batch; DeepDream "
                 "normalises each image by its own mean absolute gradient "
                 "(g.abs().mean(dim=(1, 2, 3), keepdim=True)).",
                 lambda c: step_of(c, c.extra["back"], norm=lambda g: g.abs().mean())),
        _Mistake("you normalised by the largest |g|; DeepDream divides by the mean absolute "
                 "value, g.abs().mean().",
                 lambda c: step_of(c, c.extra["back"],
                                   norm=lambda g: g.abs().amax(dim=(1, 2, 3), keepdim=True))),
        _Mistake("you normalised by the Euclidean norm of g; DeepDream divides by the mean "
                 "absolute value, g.abs().mean().",
                 lambda c: step_of(c, c.extra["back"],
                                   norm=lambda g: g.norm(dim=(1, 2, 3), keepdim=True))),
        _Mistake("you maximised the sum of the layer's activations; DeepDream maximises half "
                 "their squared L2 norm, 1/2 ||a||^2 (it amplifies what is already strong).",
                 lambda c: step_of(c, c.extra["summed"])),
        _Mistake("you returned only the step, not the new image: return image + step.",
                 lambda c: c.want - c.args[1]),
    ]
    _verify(fn, cases, mistakes, arg_names=("model", "image", "layer", "step_size", "shift"),
            rtol=1e-3, atol=1e-4, expected="the new image, a tensor of the shape of image")
    _correct(f"{getattr(fn, '__name__', 'your function')} rolls, ascends 1/2 ||a||^2 with the "
             f"gradient normalised by its mean |g| per image, and rolls back, on all "
             f"{len(cases)} test cases")


# --------------------------------------------------------------------------- class model step

def check_class_model_step(fn: Callable[[LayeredNetwork, torch.Tensor, int, float, float],
                                        torch.Tensor]) -> None:
    """``fn(model, image, class_index, lr, lam)`` must make one gradient-ascent step on
    Simonyan et al.'s class-model objective ``S_c(I) - lam * ||I||_2^2`` (raw score S_c, the
    squared L2 norm summed per image): ``image + lr * gradient``."""
    model = _toy()
    g = torch.Generator().manual_seed(11)
    cases = [
        _Case((model, 0.3 * torch.randn(2, 3, 128, 128, generator=g), 2, 0.1, 0.05),
              "2 noise images, class 2, lr 0.1, lam 0.05"),
        _Case((model, 0.5 * torch.randn(1, 3, 96, 96, generator=g), 6, 0.5, 0.2),
              "a 96 x 96 noise image, class 6, lr 0.5, lam 0.2"),
    ]
    for case in cases:
        _, image, c, lr, lam = case.args
        classes = torch.full((len(image),), c)
        case.extra.update(score=_grad(model, image, Logit(classes)),
                          prob=_grad(model, image, Probability(classes)),
                          logp=_grad(model, image, _LogSoftmax(classes)))
        case.want = image + lr * (case.extra["score"] - 2 * lam * image)

    def ascend(c: _Case, g: torch.Tensor, penalty: torch.Tensor) -> torch.Tensor:
        return c.args[1] + c.args[3] * (g - c.args[4] * penalty)

    two_i = lambda c: 2 * c.args[1]  # noqa: E731
    softmax = ("you maximised the softmax probability instead of the raw score S_c. Simonyan "
               "et al. maximise the unnormalised score (the logit): the probability can also "
               "be raised by pushing the other classes down.")
    mistakes = [
        _Mistake(softmax, lambda c: ascend(c, c.extra["prob"], two_i(c))),
        _Mistake(softmax.replace("softmax probability", "log-probability (log-softmax)"),
                 lambda c: ascend(c, c.extra["logp"], two_i(c))),
        _Mistake("your step descends instead of ascending (a sign error): the class model "
                 "maximises S_c(I) - lam * ||I||^2, so the step adds its gradient: "
                 "image + lr * gradient.",
                 lambda c: c.args[1] - c.args[3] * (c.extra["score"] - c.args[4] * two_i(c))),
        _Mistake("the sign of the regulariser is wrong: the objective is S_c(I) - lam * "
                 "||I||^2, so the penalty pulls the image towards zero; you pushed it away.",
                 lambda c: ascend(c, c.extra["score"], -two_i(c))),
        _Mistake("the regulariser is missing: the objective is S_c(I) - lam * ||I||_2^2.",
                 lambda c: c.args[1] + c.args[3] * c.extra["score"]),
        _Mistake("the regulariser's gradient is 2 * lam * I (the derivative of lam * ||I||^2); "
                 "you used lam * I.", lambda c: ascend(c, c.extra["score"], c.args[1])),
        _Mistake("you penalised the mean of I^2 instead of the squared L2 norm ||I||_2^2, the "
                 "sum over all pixels and channels.",
                 lambda c: ascend(c, c.extra["score"], two_i(c) / c.args[1][0].numel())),
        _Mistake("you penalised ||I||_2 instead of its square ||I||_2^2.",
                 lambda c: ascend(c, c.extra["score"], c.args[1] / c.args[1].flatten(1).norm(
                     dim=1).view(-1, 1, 1, 1))),
        _Mistake("you normalised the gradient like DeepDream; the class-model step is plain "
                 "gradient ascent, image + lr * gradient.",
                 lambda c: c.args[1] + c.args[3] * (lambda d: d / _per_image_mean_abs(d))(
                     c.extra["score"] - c.args[4] * two_i(c))),
        _Mistake("you returned only the step, not the new image: return image + lr * gradient.",
                 lambda c: c.want - c.args[1]),
    ]
    _verify(fn, cases, mistakes, arg_names=("model", "image", "class_index", "lr", "lam"),
            rtol=1e-3, atol=1e-5, expected="the new image, a tensor of the shape of image")
    _correct(f"{getattr(fn, '__name__', 'your function')} ascends S_c(I) - lam * ||I||^2 (raw "
             f"score, squared L2 penalty) on all {len(cases)} test cases")

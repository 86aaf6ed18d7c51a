"""Checks for homework 1: the three backward rules of a ReLU (Springenberg et al. 2015) and
guided backpropagation through a whole network as a context manager."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import torch
from torch import nn

from lecturekit.course.checks.machinery import (Case, CheckFailed, Mistake, ModelState, Spec,
                                                TorchState, correct, diagnose, fail, matches,
                                                name_of, not_filled, run, scenes, torch_changed,
                                                toy)
from lecturekit.examples import SEED_OFFSETS
from lecturekit.gradient.backward_rules import relu_backward
from lecturekit.models import ALEXNET_LAYERS
from lecturekit.models.rectifiers import relu_with_backward

Rule = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

_HINT = {
    "backprop": "keep R_out wherever f_in > 0, whatever the sign of R_out",
    "deconvnet": "keep R_out wherever R_out > 0, whatever f_in was",
    "guided": "keep R_out only where f_in > 0 and R_out > 0",
}
_TITLE = {"backprop": "backprop (the true gradient)", "deconvnet": "the Deconvnet rule",
          "guided": "guided backprop"}


def _rule_cases() -> list[Case]:
    """Hand-made examples, ties (exact zeros), several shapes and dtypes, all-negative input."""
    g = torch.Generator().manual_seed(20150412)
    return [
        Case((torch.tensor([[3., -1., 2., -4.], [-2., 5., -3., 1.], [1., -6., 4., -1.],
                            [-3., 2., -5., 6.]]),
              torch.tensor([[-1., 2., -3., 4.], [3., 2., 1., -1.], [2., 5., -4., 3.],
                            [-2., -1., 6., 5.]])),
             "the 4 x 4 example (no zeros)"),
        Case((torch.tensor([[0., 0., 1., -1.], [0., 2., 0., -3.]]),
              torch.tensor([[1., -1., 0., 0.], [2., 0., -2., 3.]])),
             "inputs with exact zeros (ties) in f_in and R_out"),
        Case((torch.randint(-3, 4, (2, 3, 5, 5), generator=g).float(),
              torch.randint(-3, 4, (2, 3, 5, 5), generator=g).float()),
             "random integers between -3 and 3, shape (2, 3, 5, 5)"),
        Case((torch.randn(4, 7, generator=g, dtype=torch.float64),
              torch.randn(4, 7, generator=g, dtype=torch.float64)),
             "random float64 values, shape (4, 7)"),
        Case((-torch.rand(3, 3, generator=g) - 0.1, torch.randn(3, 3, generator=g)),
             "an all-negative forward input"),
    ]


def _keep(mask: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    return torch.where(mask, values, torch.zeros_like(values))


def _mask(rule: str, f: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    return {"backprop": f > 0, "deconvnet": r > 0, "guided": (f > 0) & (r > 0)}[rule]


def _signal(rule: str, r: torch.Tensor) -> torch.Tensor:
    return r if rule == "backprop" else r.clamp(min=0)


def _rule_mistakes(rule: str) -> list[Mistake]:
    """The wrong rules a student may hand in for ``rule``, each reproduced exactly."""
    title, hint = _TITLE[rule], _HINT[rule]
    end = f" For {title}, {hint}."
    confusions = {
        ("guided", "backprop"): "your rule passes negative signals down wherever the forward "
            "input was positive: that is plain backprop (the true gradient), not guided "
            "backprop, which also drops the negative part of the signal",
        ("guided", "deconvnet"): "your rule passes the signal through where the forward input "
            "was negative (where the forward ReLU was off): that is the Deconvnet rule, not "
            "guided backprop, which also applies the forward mask f_in > 0",
        ("backprop", "guided"): "your rule also drops the negative part of the signal: that is "
            "guided backprop, not the true gradient. The derivative of max(f_in, 0) does not "
            "depend on the sign of R_out",
        ("backprop", "deconvnet"): "your rule masks by the sign of the signal R_out instead of "
            "the forward input f_in: that is the Deconvnet rule, not backprop",
        ("deconvnet", "backprop"): "your rule masks by the sign of the forward input f_in: that "
            "is backprop, not the Deconvnet rule, which rectifies the signal itself",
        ("deconvnet", "guided"): "your rule also applies the forward mask f_in > 0: that is "
            "guided backprop, not the Deconvnet rule, which ignores the forward input",
    }
    mistakes = [Mistake(f"{other} rule", confusions[(rule, other)] + "." + end,
                        lambda c, o=other: relu_backward(*c.args, o))
                for other in ("backprop", "deconvnet", "guided") if other != rule]
    if rule == "guided":
        mistakes.append(Mistake(
            "or", "your rule combines the two masks with OR (|): it lets the signal through "
                  "where f_in > 0 *or* R_out > 0. Guided backprop needs both at once: combine "
                  "the masks with AND, (f_in > 0) & (r_out > 0)." + end,
            lambda c: _keep((c["f_in"] > 0) | (c["r_out"] > 0), c["r_out"])))
    if rule in ("backprop", "guided"):
        with_ties = lambda f, r: (f >= 0) & (r > 0) if rule == "guided" else f >= 0
        mistakes += [
            Mistake("ties", "your rule lets the signal through where f_in is exactly 0 (a tie). "
                    "There the forward output max(f_in, 0) is 0 and the ReLU is off, so the "
                    "mask is f_in > 0, not f_in >= 0." + end,
                    lambda c: _keep(with_ties(*c.args), c["r_out"])),
            Mistake("half at ties", "your rule passes half the signal where f_in is exactly 0 "
                    "(torch.heaviside(f_in, 0.5), or (sign(f_in) + 1) / 2). At a tie the ReLU is "
                    "off and passes nothing: the mask is f_in > 0." + end,
                    lambda c: _keep(with_ties(*c.args), c["r_out"])
                    * torch.where(c["f_in"] == 0, 0.5, 1.0).to(c["r_out"].dtype)),
            Mistake("swapped", "your rule mixes up its two arguments: it returns the forward "
                    "input f_in where the signal R_out should go (or tests R_out where f_in "
                    "should be tested). The function is rule(f_in, r_out): mask by the test "
                    "and return values of r_out." + end,
                    lambda c: relu_backward(c["r_out"], c["f_in"], rule)),
        ]
    else:
        mistakes.append(Mistake(
            "swapped", "your rule returns values of f_in where it should return the signal "
                       "R_out (the arguments are mixed up)." + end,
            lambda c: _keep(c["r_out"] > 0, c["f_in"])))
    if rule in ("deconvnet", "guided"):
        mistakes += [
            Mistake("abs", "your rule passes |R_out| (the absolute value) instead of its "
                    "positive part: negative signals come out positive instead of being "
                    "dropped. Keep R_out where it is > 0 and put 0 elsewhere." + end,
                    lambda c: _keep(c["f_in"] > 0, c["r_out"].abs()) if rule == "guided"
                    else c["r_out"].abs()),
            Mistake("negative part", "your rule keeps the negative part of the signal instead "
                    "of the positive one (a flipped comparison, r_out < 0)." + end,
                    lambda c: _keep((c["f_in"] > 0) & (c["r_out"] < 0), c["r_out"])
                    if rule == "guided" else _keep(c["r_out"] < 0, c["r_out"])),
        ]
    else:
        mistakes.append(Mistake(
            "negative part", "your mask is inverted: it keeps the signal where f_in < 0 (or <= "
                             "0), where the ReLU was off, and drops it where it was on." + end,
            lambda c: _keep(c["f_in"] <= 0, c["r_out"])))
    multiplied = ("your rule multiplies the signal by the forward activation (its value) "
                  "instead of masking it by its sign. The mask is 0 or 1: use the comparison "
                  "itself, for example torch.where(f_in > 0, r_out, 0), not f_in or "
                  "max(f_in, 0)." + end)
    for form in (lambda f, r: f.clamp(min=0) * _signal(rule, r), lambda f, r: f * _signal(rule, r),
                 lambda f, r: f.clamp(min=0) * r, lambda f, r: f * r):
        mistakes.append(Mistake("multiplied", multiplied, lambda c, form=form: form(*c.args)))
    mistakes += [
        Mistake("mask only", "your rule returns the mask (0 and 1) itself; multiply it with the "
                "signal, or use torch.where(mask, r_out, 0)." + end,
                lambda c: _mask(rule, *c.args).to(c["r_out"].dtype)),
        Mistake("unchanged", "your rule passes the signal through unchanged: a ReLU's backward "
                "pass must zero part of it." + end, lambda c: c["r_out"].clone()),
        Mistake("zeros", "your rule returns zeros everywhere." + end,
                lambda c: torch.zeros_like(c["r_out"])),
        Mistake("forward output", "your rule returns the forward output max(f_in, 0); going "
                "backwards a ReLU hands down (part of) the signal R_out from above." + end,
                lambda c: c["f_in"].clamp(min=0)),
    ]
    return mistakes


def rule_spec(rule: str) -> Spec:
    """The cases and mistake table of one ReLU rule."""
    cases = _rule_cases()
    for case in cases:
        case.want = relu_backward(*case.args, rule)
    return Spec(("f_in", "r_out"), "a tensor of the shape of r_out", cases, _rule_mistakes(rule),
                rtol=0.0, atol=1e-12)


def _check_rule(fn: Rule, rule: str) -> None:
    spec = rule_spec(rule)
    run(fn, spec)
    correct(f"{name_of(fn)} follows {_TITLE[rule]} on all {len(spec.cases)} test cases (zeros, "
            f"ties and negative values included)")


def check_backprop_rule(fn: Rule) -> None:
    """``fn(f_in, r_out)`` must be the true gradient rule ``(f_in > 0) * r_out``."""
    _check_rule(fn, "backprop")


def check_deconvnet_rule(fn: Rule) -> None:
    """``fn(f_in, r_out)`` must be Zeiler & Fergus' rule ``(r_out > 0) * r_out``."""
    _check_rule(fn, "deconvnet")


def check_guided_rule(fn: Rule) -> None:
    """``fn(f_in, r_out)`` must be Springenberg et al.'s rule
    ``(f_in > 0) * (r_out > 0) * r_out``."""
    _check_rule(fn, "guided")


# --------------------------------------------------------------------------- whole network

class _RuleReLU(nn.Module):
    """A ReLU whose backward pass is ``rule(f_in, r_out)``."""

    def __init__(self, rule: Rule) -> None:
        super().__init__()
        self.rule = rule

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return relu_with_backward(x, self.rule)


class _Nested(nn.Module):
    """A small network whose ReLUs sit at several depths of nested containers and whose
    layers have other names than AlexNet's: a context manager must find them all."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 6, 3, padding=1)
        self.act = nn.ReLU()
        self.body = nn.Sequential(nn.Sequential(nn.Conv2d(6, 8, 3, padding=1), nn.ReLU()),
                                  nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(8 * 8 * 8, 16), nn.ReLU(),
                                  nn.Linear(16, 4))
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.act(self.stem(x))))


def _nested_model() -> _Nested:
    with torch.random.fork_rng(devices=[]):  # seeded weights; the caller's random state stays
        torch.manual_seed(0)
        return _Nested()


def _relu_slots(model: nn.Module) -> list[tuple[nn.Module, str, str]]:
    """(parent, attribute, dotted name) of every nn.ReLU of ``model``."""
    return [(parent, child_name, f"{parent_name}.{child_name}".lstrip("."))
            for parent_name, parent in model.named_modules()
            for child_name, child in parent.named_children() if isinstance(child, nn.ReLU)]


def _gradient_with(model: nn.Module, images: torch.Tensor, classes: torch.Tensor,
                   rules: dict[str, Rule]) -> torch.Tensor:
    """d score / d image with the ReLUs named in ``rules`` (by their attribute or dotted
    name) passing gradients by those rules."""
    slots = [(parent, attr, rules.get(name, rules.get(attr)))
             for parent, attr, name in _relu_slots(model)]
    slots = [(parent, attr, rule) for parent, attr, rule in slots if rule is not None]
    saved = [(parent, attr, getattr(parent, attr)) for parent, attr, _ in slots]
    try:
        for parent, attr, rule in slots:
            setattr(parent, attr, _RuleReLU(rule))
        x = images.clone().requires_grad_(True)
        scores = model(x)[torch.arange(len(images)), classes]
        (gradient,) = torch.autograd.grad(scores.sum(), x)
    finally:
        for parent, attr, module in saved:
            setattr(parent, attr, module)
    return gradient


def _rule(name: str) -> Rule:
    return lambda f, r: relu_backward(f, r, name)


class _Probe(Exception):
    """Raised inside the student's with block to see that it restores the model anyway."""


def _enter(fn: Callable, model: nn.Module, name: str) -> AbstractContextManager:
    try:
        manager = fn(model)
    except NotImplementedError:
        raise not_filled(name) from None
    if not (hasattr(manager, "__enter__") and hasattr(manager, "__exit__")):
        raise fail(f"{name}(model) returned {type(manager).__name__}, not a context manager. "
                   f"Write it as a generator decorated with @contextlib.contextmanager that swaps "
                   f"the ReLUs, then `yield`s inside try/finally and puts the originals back in "
                   f"the finally block.", "not a context manager")
    return manager


def _network_case(model: nn.Module, images: torch.Tensor, classes: torch.Tensor,
                  label: str) -> Case:
    case = Case((model, images, classes), label, names=("model", "images", "classes"))
    case.want = _gradient_with(model, images, classes,
                               {name: _rule("guided") for *_, name in _relu_slots(model)})
    with torch.no_grad():
        case.extra["scores"] = model(case["images"])
    return case


def _guided_inside(fn: Callable, case: Case, name: str) -> torch.Tensor:
    """The gradient the student's context manager produces for ``case``, with everything
    around it checked: forward pass unchanged, model and torch restored after a normal exit
    and after an exception, no hook left behind."""
    model, images, classes = case.args
    before, state = ModelState.take(model), TorchState.take()
    try:
        with _enter(fn, model, name):
            x = images.clone().requires_grad_(True)
            scores = model(x)
            if not torch.allclose(scores.detach(), case.extra["scores"], rtol=1e-5, atol=1e-5):
                raise fail(f"inside `with {name}(model):` the forward pass gives different "
                           f"class scores ({case.label}). Guided backprop changes only the "
                           f"backward pass: the forward of each ReLU must still be "
                           f"max(f_in, 0).", "forward changed")
            (got,) = torch.autograd.grad(scores[torch.arange(len(x)), classes].sum(), x)
    except NotImplementedError:
        state.restore()
        raise not_filled(name) from None
    except CheckFailed:
        state.restore()
        raise
    except Exception as error:
        state.restore()
        raise fail(f"using `with {name}(model):` ({case.label}) raised {type(error).__name__}: "
                   f"{error} (its traceback shows the line in your code)", "raised") from error
    _restored(model, before, state, name, "")
    try:
        with _enter(fn, model, name):
            raise _Probe()
    except _Probe:
        pass
    except Exception as error:  # the student's exit code failed: keep their traceback
        state.restore()
        raise fail(f"when the code inside `with {name}(model):` raises, leaving the block "
                   f"raised {type(error).__name__}: {error} (its traceback shows the line in "
                   f"your code)", "raised") from error
    _restored(model, before, state, name, " when left by an exception")
    return got.detach()


def _restored(model: nn.Module, before: ModelState, state: TorchState, name: str,
              when: str) -> None:
    torch_changed(state, f"`with {name}(model):`", when)
    hooks = before.new_hooks(model)
    if hooks:
        raise fail(f"a hook outlives the with block{when}: {', '.join(hooks)}. Keep the handles "
                   f"that register_..._hook returns and call handle.remove() on each in a "
                   f"finally block.", "hook left")
    changed = before.changes(model)
    if changed:
        raise fail(f"after the with block{when}, the model is not as it was: "
                   f"{'; '.join(changed)}. A context manager that changes a model must put every "
                   f"original module back on exit, also when the block raises: restore in a "
                   f"`finally` block around the yield.",
                   "not restored on exception" if when else "not restored")


def network_spec() -> tuple[Spec, Spec]:
    """Two specs: the toy AlexNet (3 scenes and a noise image) and a small nested network
    (whose ReLUs have other names and sit in nested containers)."""
    model = toy()
    images, _, _ = scenes(model, 3, offset=SEED_OFFSETS["check: whole network guided"])
    noise = 0.8 * torch.randn(1, *images.shape[1:], generator=torch.Generator().manual_seed(7))
    images = torch.cat([images, noise])
    with torch.no_grad():
        classes = model(images).argmax(1)
    relus = [name for name in ALEXNET_LAYERS if name.startswith("relu")]
    conv = ("relu1", "relu2", "relu3", "relu4", "relu5")
    toy_case = _network_case(model, images, classes, "the toy AlexNet: 3 test scenes and 1 noise "
                                                     "image, each with its class score")
    nested = _nested_model()
    small = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(8))
    nested_case = _network_case(nested, small, torch.tensor([0, 2, 3]),
                                "a small network with nested ReLUs")

    def everywhere(rule: Rule) -> Callable[[Case], torch.Tensor]:
        return lambda c: _gradient_with(c["model"], c["images"], c["classes"],
                                        {n: rule for *_, n in _relu_slots(c["model"])})

    def only(names) -> Callable[[Case], torch.Tensor]:
        return lambda c: _gradient_with(c["model"], c["images"], c["classes"],
                                        {n: _rule("guided") for n in names})

    common = [
        Mistake("plain", "your context manager leaves the backward pass unchanged: this is the "
                "plain gradient. Replace every nn.ReLU module by one whose backward follows the "
                "guided rule (e.g. with a torch.autograd.Function), or clamp each ReLU's "
                "gradient at zero with a backward hook.", only(())),
        Mistake("deconvnet", "every ReLU passes the signal by the Deconvnet rule (positive "
                "signal only, no forward mask): that is not guided backprop. In the backward of "
                "your ReLU also keep only positions where the forward input f_in was > 0.",
                everywhere(_rule("deconvnet"))),
        Mistake("multiplied", "your ReLUs multiply the signal by the forward activation instead "
                "of masking it by its sign: use (f_in > 0) as a 0/1 mask.",
                everywhere(lambda f, r: f.clamp(min=0) * r.clamp(min=0))),
        Mistake("swapped", "your ReLU's backward calls the rule with its arguments swapped, "
                "guided_relu(r_out, f_in): pass the saved forward input first, the incoming "
                "signal second.", everywhere(lambda f, r: relu_backward(r, f, "guided"))),
    ]
    toy_mistakes = common + [
        Mistake("conv only", "your guided rule reaches only the ReLUs of the convolutional part "
                "(relu1 ... relu5); relu6 and relu7 between the fully connected layers still "
                "pass the plain gradient. This is the bug of a popular public implementation "
                "(pytorch-cnn-visualizations by U. Ozbulak), "
                "which hooks only `model.features`: apply the rule to every ReLU of the "
                "network.", only(conv)),
        Mistake("fc only", "your guided rule reaches only relu6 and relu7 of the classifier; the "
                "ReLUs of the convolutional part (relu1 ... relu5) still pass the plain "
                "gradient. Apply it to every ReLU of the network.",
                only([r for r in relus if r not in conv])),
    ]
    nested_mistakes = [Mistake(m.key, m.message, m.output) for m in common[1:]] + [
        Mistake("by name", "on the toy AlexNet your context manager works, but on another "
                "network (ReLUs called differently and nested in containers) it leaves every "
                "ReLU unchanged: it finds them by AlexNet's layer names or positions. Walk "
                "model.modules() and their named_children() and swap each nn.ReLU you meet.",
                only(())),
        *[Mistake("shallow", "on a network whose ReLUs sit inside nested containers, your "
                  "context manager misses the deeper ones (here body.0.1): it looks only at the "
                  "model's children (and perhaps their children). Walk all modules, "
                  "model.modules(), and their named_children().", only(names))
          for names in (("act",), ("act", "head.2"))],
    ]
    spec = {"arg_names": (), "expected": "the guided-backprop gradient of the class score",
            "rtol": 1e-4, "atol": 1e-6}
    return (Spec(cases=[toy_case], mistakes=toy_mistakes, **spec),
            Spec(cases=[nested_case], mistakes=nested_mistakes, **spec))


def check_whole_network_guided(fn: Callable[[nn.Module], AbstractContextManager]) -> None:
    """``with fn(model):`` must make every ReLU of ``model`` pass gradients by the guided rule
    (relu1 ... relu7 of the toy AlexNet, and the nested ReLUs of another network), leave the
    forward pass alone, and restore the model and torch on exit, also when the block raises,
    leaving no hook behind."""
    name = name_of(fn, "your context manager")
    if not callable(fn):
        raise fail(f"pass the context manager function itself, got {type(fn).__name__}",
                   "not a function")
    for spec in network_spec():
        (case,) = spec.cases
        got = _guided_inside(fn, case, name)
        if not matches(got, case.want, spec.rtol, spec.atol):
            raise diagnose(spec, [got], name)
        again = _guided_inside(fn, case, name)
        if not matches(again, got, spec.rtol, spec.atol):
            raise fail(f"used a second time on the same model ({case.label}), `with "
                       f"{name}(model):` gives another gradient: something stays behind "
                       f"between uses (a rule applied twice, a hook that was not removed).",
                       "not repeatable")
    correct(f"with {name}(model) every ReLU (relu1 ... relu7 of the toy, and the nested ReLUs of "
            f"another network) follows guided backprop, the forward pass is unchanged, and the "
            f"model and torch are restored on exit (also after an exception) with no hook left "
            f"behind")

"""What every homework check shares: run the student's function, watch what it does around
its answer, compare the answer with the kit's, and name the mistake.

A check describes its test as a :class:`Spec`: the cases (arguments, a label, the right
answer) and a table of :class:`Mistake` s, each a wrong version of the function that the
check *computes* for every case. :func:`run` then

1. calls the student's function once per case and, around every call, compares what it
   must not touch: its tensor arguments (values, ``requires_grad``, ``.grad``), the model
   it was given (weights, their gradients, training mode, modules, hooks) and torch itself
   (the functions of ``torch``, ``torch.nn.functional``, ``torch.Tensor``, ...; grad mode,
   default dtype, global hooks; see :class:`TorchState`). Anything changed fails the check
   at once, and torch is put back as it was;
2. calls it a second time on the very same inputs and requires the same results (a
   ``.grad`` that accumulates, a global that remembers, unseeded randomness all show
   here; a function that answers differently each time cannot be judged further);
3. compares every result with the right answer; when one differs, names the first mistake
   of the table whose outputs match the student's on *every* case, or, when none does,
   shows where the first case differs.

A message therefore only names a mistake the check has reproduced. Every failure is a
:class:`CheckFailed` whose ``mistake`` attribute holds a short key (the tests use it).
"""

from __future__ import annotations

import copy
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from types import TracebackType
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules import module as module_mod

from lecturekit.models import LayeredNetwork, load_model
from lecturekit.scenes import make_batch, test_seeds


_CHECKS_FOLDER = os.path.dirname(os.path.abspath(__file__)) + os.sep


class CheckFailed(AssertionError):
    """The function handed to a check does not (yet) do what its gap asks; the message says
    why and ``mistake`` names the mistake recognised (None when none was).

    In a notebook the failure shows its message alone, not a traceback through the checks
    (:meth:`_render_traceback_`)."""

    def __init__(self, message: str, mistake: str | None = None) -> None:
        super().__init__(message)
        self.mistake = mistake

    def _render_traceback_(self) -> list[str]:
        """What IPython shows for this failure (in JupyterLab, Voilà and nbgrader's
        autograder alike): the message, then, when the student's own code raised, that
        error's traceback from the student's first frame on (:func:`shown_traceback`).
        IPython calls this hook in place of its own traceback; the kernel still reports an
        error, so the cell counts as failed."""
        return shown_traceback(self)


def _in_checks(frame: TracebackType) -> bool:
    return os.path.abspath(frame.tb_frame.f_code.co_filename).startswith(_CHECKS_FOLDER)


def _student_traceback(error: BaseException) -> list[str]:
    """The traceback of ``error`` without the checks' own frames at its start, formatted by
    IPython when this runs inside it (cells named as the notebook names them), else by
    Python. IPython is never imported here: the checks need only torch and numpy."""
    frames = error.__traceback__
    while frames is not None and _in_checks(frames):
        frames = frames.tb_next
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None:
        return shell.InteractiveTB.structured_traceback(type(error), error, frames)
    return traceback.format_exception(type(error), error, frames)


def shown_traceback(failure: CheckFailed) -> list[str]:
    """The lines a notebook shows for ``failure``: its message ("not yet: ..."), followed by
    the traceback of the student's error that caused it, if one did."""
    lines = [str(failure)]
    cause = failure.__cause__
    if cause is not None:
        lines += ["", "The error in your code:", *_student_traceback(cause)]
    return lines


def fail(message: str, mistake: str | None = None) -> CheckFailed:
    """A :class:`CheckFailed` whose message starts with "not yet: "."""
    return CheckFailed(f"not yet: {message}", mistake)


def correct(text: str) -> None:
    """Print the verdict of a check that passed."""
    print(f"correct: {text}")


def name_of(fn: Any, default: str = "your function") -> str:
    return getattr(fn, "__name__", default)


def require_callable(fn: Any) -> None:
    if not callable(fn):
        raise fail(f"the check needs your function itself, got {type(fn).__name__} (pass the "
                   f"name without calling it, e.g. check(my_function), not "
                   f"check(my_function(...)))", "not a function")


def not_filled(name: str) -> CheckFailed:
    return fail(f"{name} still raises NotImplementedError, so the gap above is not filled in. "
                f"Replace the `raise NotImplementedError(...)` line with your code, run that "
                f"cell, then run this check again.", "not filled")


# --------------------------------------------------------------------------- cases and mistakes

class Extras(dict):
    """A case's intermediate results, computed by ``make()`` on first use (the wrong
    variants need them only when a result is wrong)."""

    def __init__(self, make: Callable[[], dict[str, Any]]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, key: str) -> Any:
        self.update(self.make())
        return dict.__getitem__(self, key)


@dataclass
class Case:
    """One call of the student's function: its arguments, a description, the right answer.

    Tensor arguments are stored as fresh leaf tensors that belong to the check alone, so
    the student's function receives (and may only spoil) the check's own copies. An
    argument is read by its name, ``case["image"]`` (the names come from the :class:`Spec`,
    or are given as ``names``)."""
    args: tuple
    label: str
    want: torch.Tensor | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.args = tuple(a.detach().clone() if isinstance(a, torch.Tensor) else a
                          for a in self.args)

    def __getitem__(self, name: str) -> Any:
        """The argument called ``name``."""
        return self.args[self.names.index(name)]


@dataclass(frozen=True)
class Mistake:
    """A wrong version of the function: its key, what to tell the student, and what it
    returns for a case (computed by the check, never guessed)."""
    key: str
    message: str
    output: Callable[[Case], torch.Tensor]


@dataclass
class Spec:
    """Everything a check runs: the cases, the mistake table and the tolerance.

    ``atol`` is relative to the largest absolute value of the right answer."""
    arg_names: tuple[str, ...]
    expected: str
    cases: list[Case]
    mistakes: list[Mistake]
    rtol: float = 1e-5
    atol: float = 1e-6

    def __post_init__(self) -> None:
        for case in self.cases:
            case.names = case.names or self.arg_names


def matches(got: torch.Tensor, want: torch.Tensor, rtol: float, atol: float) -> bool:
    """Same shape and close (NaN only where ``want`` has NaN); ``atol`` is relative to the
    largest finite absolute value of ``want``."""
    if tuple(got.shape) != tuple(want.shape):
        return False
    got, want = got.detach().double().cpu(), want.detach().double().cpu()
    finite = torch.isfinite(want)
    if not torch.equal(torch.isfinite(got), finite) or \
            not torch.equal(torch.isnan(got), torch.isnan(want)):
        return False
    if not finite.any():
        return True
    scale = float(want[finite].abs().max())
    return bool(torch.allclose(got[finite], want[finite], rtol=rtol, atol=atol * scale))


def outputs(mistake: Mistake, cases: Sequence[Case]) -> list[torch.Tensor] | None:
    """What ``mistake`` returns for every case, or None when it cannot be formed for them."""
    try:
        return [mistake.output(case).detach() for case in cases]
    except Exception:  # noqa: BLE001 (a variant that cannot be formed explains nothing)
        return None


# --------------------------------------------------------------------------- what must not change

_WATCHED = (("torch", torch), ("torch.nn.functional", F), ("torch.Tensor", torch.Tensor),
            ("torch.nn.Module", nn.Module), ("torch.nn.ReLU", nn.ReLU),
            ("torch.autograd", torch.autograd),
            ("torch.autograd.Function", torch.autograd.Function))
_GLOBAL_HOOKS = ("_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks",
                 "_global_backward_pre_hooks")
_FLAGS: dict[str, tuple[Callable[[], Any], Callable[[Any], None]]] = {
    "grad mode (torch.is_grad_enabled())": (torch.is_grad_enabled, torch.set_grad_enabled),
    "the default dtype": (torch.get_default_dtype, torch.set_default_dtype),
    "deterministic algorithms": (torch.are_deterministic_algorithms_enabled,
                                 torch.use_deterministic_algorithms),
    "anomaly detection": (torch.is_anomaly_enabled, torch.set_anomaly_enabled),
}


_MISSING = object()
_TORCH_FOLDER = os.path.dirname(os.path.abspath(torch.__file__)) + os.sep


def wrapped_by_torch(now: Any, before: Any) -> bool:
    """Whether ``now`` is torch's own wrapper around ``before``.

    torch finishes some of its set-up lazily: the first ``torch.optim`` step of a process
    imports its compiler stack, which replaces ``torch.manual_seed`` by a wrapper of
    ``torch/_compile.py`` around the original. A student's function that merely uses an
    optimiser must not be blamed for that, while a student's own patch (code outside
    torch's folder, or a value that does not wrap the original) still is."""
    code = getattr(now, "__code__", None)
    if code is None or not os.path.abspath(code.co_filename).startswith(_TORCH_FOLDER):
        return False
    seen = now
    for _ in range(8):  # a short chain of functools.wraps wrappers
        seen = getattr(seen, "__wrapped__", None)
        if seen is None:
            return False
        if seen is before:
            return True
    return False


def _module_hooks() -> dict[str, dict]:
    return {kind: getattr(module_mod, kind, {}) for kind in _GLOBAL_HOOKS}


@dataclass
class TorchState:
    """The parts of torch a student's function may patch: every attribute of the watched
    namespaces (``torch.nn.functional.relu = ...``, ``torch.Tensor.relu = ...``,
    ``nn.ReLU.forward = ...``), a few global switches and the global module hooks."""
    attributes: dict[tuple[str, str], Any]
    flags: dict[str, Any]
    hooks: dict[str, set]

    @classmethod
    def take(cls) -> TorchState:
        attributes = {(label, name): value for label, owner in _WATCHED
                      for name, value in vars(owner).items()}
        flags = {name: get() for name, (get, _) in _FLAGS.items()}
        hooks = {kind: set(found) for kind, found in _module_hooks().items()}
        return cls(attributes, flags, hooks)

    def changes(self) -> list[str]:
        """What differs from the snapshot, in words. torch's own lazy initialisation is not a
        change: it is taken into the snapshot (see :func:`wrapped_by_torch`)."""
        owners = dict(_WATCHED)
        changed = []
        for (label, name), value in self.attributes.items():
            now = vars(owners[label]).get(name, _MISSING)
            if now is value:
                continue
            if wrapped_by_torch(now, value):
                self.attributes[label, name] = now
            else:
                changed.append(f"{label}.{name}")
        changed += [name for name, (get, _) in _FLAGS.items() if get() != self.flags[name]]
        changed += [f"a global module hook ({kind.strip('_').replace('_', ' ')})"
                    for kind, found in _module_hooks().items() if set(found) - self.hooks[kind]]
        return changed

    def restore(self) -> None:
        """Put back every attribute, switch and global hook as they were in the snapshot."""
        owners = dict(_WATCHED)
        for (label, name), value in self.attributes.items():
            if vars(owners[label]).get(name, _MISSING) is not value:
                setattr(owners[label], name, value)
        for name, (get, set_) in _FLAGS.items():
            if get() != self.flags[name]:
                set_(self.flags[name])
        for kind, found in _module_hooks().items():
            for key in set(found) - self.hooks[kind]:
                del found[key]


def torch_patched(name: str, changed: Sequence[str], when: str = "") -> CheckFailed:
    return fail(f"{name} changed torch itself{when} and did not put it back: "
                f"{', '.join(changed)}. Every later cell of the notebook would run with that "
                f"change (the check has now restored it). Work with your own modules and copies "
                f"instead of patching torch, or restore what you patch in a `finally` block.",
                "torch patched")


def torch_changed(state: TorchState, name: str, when: str = "") -> None:
    """Raise (after putting torch back) when ``state`` no longer describes torch."""
    changed = state.changes()
    if changed:
        state.restore()
        raise torch_patched(name, changed, when)


@dataclass
class TensorState:
    """A tensor argument as the caller handed it over."""
    value: torch.Tensor
    requires_grad: bool
    grad: torch.Tensor | None
    version: int

    @classmethod
    def take(cls, t: torch.Tensor) -> TensorState:
        grad = None if t.grad is None else t.grad.detach().clone()
        return cls(t.detach().clone(), t.requires_grad, grad, t._version)

    def problem(self, t: torch.Tensor, name: str, arg: str) -> CheckFailed | None:
        """What ``name`` did to the argument ``arg`` (now ``t``), or None if nothing."""
        if t._version != self.version or not torch.equal(t.detach(), self.value):
            return fail(f"{name} changed its input `{arg}` in place (for example with "
                        f"`{arg}[...] = 0`, `{arg}.clamp_(...)`, `{arg}.relu_()` or "
                        f"`{arg} += ...`). The caller still needs it: compute a new tensor "
                        f"instead (torch.where, clamp without the underscore, ...).", "in place")
        if t.requires_grad != self.requires_grad:
            return fail(f"{name} leaves `requires_grad` switched on for its input `{arg}` (for "
                        f"example `{arg}.requires_grad_()` on the caller's tensor): every later "
                        f"operation on it is recorded, and a second call adds to its `.grad`. "
                        f"Work on a copy: `x = {arg}.detach().clone().requires_grad_(True)`.",
                        "requires_grad left")
        same = (t.grad is None and self.grad is None) or (
            t.grad is not None and self.grad is not None and torch.equal(t.grad, self.grad))
        if not same:
            return fail(f"{name} leaves a gradient in `{arg}.grad` (a backward() through the "
                        f"caller's tensor): the next call adds to it, so it returns twice the "
                        f"answer. Differentiate a copy, `x = {arg}.detach().clone()."
                        f"requires_grad_(True)`, with `torch.autograd.grad(value, x)`.",
                        "grad left")
        return None


def _module_hooks_of(model: nn.Module) -> list[str]:
    left = []
    for name, module in model.named_modules():
        for kind in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks",
                     "_backward_pre_hooks"):
            if getattr(module, kind, None):
                left.append(f"{name or 'the model'} ({kind.strip('_').replace('_', ' ')})")
    return left


@dataclass
class ModelState:
    """A model as the caller handed it over: its modules, weights, their gradients and
    flags, and its hooks."""
    modules: list[tuple[str, int]]
    training: list[bool]
    parameters: dict[str, tuple[torch.Tensor, bool, bool]]
    hooks: list[str]

    @classmethod
    def take(cls, model: nn.Module) -> ModelState:
        named = list(model.named_modules())
        return cls([(n, id(m)) for n, m in named], [m.training for _, m in named],
                   {n: (p.detach().clone(), p.requires_grad, p.grad is None)
                    for n, p in model.named_parameters()}, _module_hooks_of(model))

    def changes(self, model: nn.Module) -> list[str]:
        """What differs now, in words."""
        named = list(model.named_modules())
        found = []
        if [(n, id(m)) for n, m in named] != self.modules:
            moved = sorted({n for n, i in self.modules} ^ {n for n, m in named}
                           | {n for (n, i), (_, m) in zip(self.modules, named) if id(m) != i})
            found.append(f"modules were replaced ({', '.join(x or 'the model' for x in moved)})")
        elif [m.training for _, m in named] != self.training:
            found.append("it was switched to training mode (model.train())")
        params = dict(model.named_parameters())
        if any(params[n].requires_grad != rg for n, (_, rg, _) in self.parameters.items()
               if n in params):
            found.append("its weights now require gradients (model.requires_grad_() or "
                         "p.requires_grad = True)")
        if any(params[n].grad is not None and none for n, (_, _, none) in self.parameters.items()
               if n in params):
            found.append("its weights hold gradients (.grad) from a backward pass")
        if any(n in params and not torch.equal(params[n].detach(), value)
               for n, (value, _, _) in self.parameters.items()):
            found.append("its weights changed")
        hooks = self.new_hooks(model)
        if hooks:
            found.append(f"hooks were left on it: {', '.join(hooks)}")
        return found

    def new_hooks(self, model: nn.Module) -> list[str]:
        """The hooks on ``model`` that were not there before."""
        return sorted(set(_module_hooks_of(model)) - set(self.hooks))


def model_changed(state: ModelState, model: nn.Module, name: str) -> None:
    changed = state.changes(model)
    if changed:
        raise fail(f"{name} changes the model it is given: {'; '.join(changed)}. The model is "
                   f"shared by every later cell: leave it as you found it (its weights stay "
                   f"frozen; differentiate with respect to the image only, "
                   f"torch.autograd.grad(value, x)).", "model changed")


# --------------------------------------------------------------------------- running a function

def call(fn: Callable, name: str, args: tuple, arg_names: Sequence[str],
         kwargs: dict[str, Any] | None = None) -> Any:
    """``fn(*args, **kwargs)`` with the student's errors turned into plain-words failures,
    and every tensor argument, model and torch itself checked afterwards."""
    state = TorchState.take()
    tensors = [(a, TensorState.take(a), n) for a, n in zip(args, arg_names)
               if isinstance(a, torch.Tensor)]
    models = [(a, ModelState.take(a)) for a in args if isinstance(a, nn.Module)]
    try:
        result = fn(*args, **(kwargs or {}))
    except NotImplementedError:
        raise not_filled(name) from None
    except CheckFailed:
        raise
    except Exception as error:  # the student's code failed: keep their traceback attached
        raise fail(f"calling {name} raised {type(error).__name__}: {error} (its traceback "
                   f"shows the line in your code)", "raised") from error
    finally:
        changed = state.changes()
        state.restore()
    if changed:
        raise torch_patched(name, changed)
    for arg, before, arg_name in tensors:
        problem = before.problem(arg, name, arg_name)
        if problem is not None:
            raise problem
    for model, before in models:
        model_changed(before, model, name)
    return result


def as_tensor(result: Any, name: str, expected: str) -> torch.Tensor:
    if not isinstance(result, torch.Tensor):
        hint = " (did you forget `return`?)" if result is None else ""
        raise fail(f"{name} returned {type(result).__name__}{hint}; it should return {expected}",
                   "not a tensor")
    return result.detach()


def _show(t: torch.Tensor) -> str:
    t = t.detach().cpu()
    if t.numel() <= 16:
        return str(t.double().numpy().round(4).tolist())
    return f"tensor of shape {tuple(t.shape)}"


def first_difference(case: Case, got: torch.Tensor, name: str, expected: str) -> str:
    """Where the result of one case differs from the right answer, for the fallback message."""
    want = case.want
    if tuple(got.shape) != tuple(want.shape):
        return (f"for {case.label}, {name} returned shape {tuple(got.shape)}, but it should "
                f"return {expected}, here of shape {tuple(want.shape)}")
    if not torch.isfinite(got).all():
        return (f"for {case.label}, {name} returned NaN or infinite values; the right result "
                f"is finite everywhere")
    diff = (got.double() - want.double()).abs()
    index = tuple(int(i) for i in torch.nonzero(diff == diff.max())[0])
    where = f" at index {index}" if got.ndim else ""
    text = (f"for {case.label}, {name} gives a different result: the largest difference "
            f"is{where}, where it returned {float(got[index]):.6g} instead of "
            f"{float(want[index]):.6g}")
    if got.numel() <= 16:
        text += f". Whole result: {_show(got)}; expected: {_show(want)}"
    return text + (". None of the mistakes this check knows explains it; read the formula "
                   "in the text above once more.")


def diagnose(spec: Spec, got: Sequence[torch.Tensor], name: str) -> CheckFailed:
    """The failure for results ``got`` that are not all right: the first mistake of the
    table that reproduces every one of them, else the first difference."""
    for mistake in spec.mistakes:
        wrong = outputs(mistake, spec.cases)
        if wrong is not None and all(matches(g, w, spec.rtol, spec.atol)
                                     for g, w in zip(got, wrong)):
            return fail(mistake.message, mistake.key)
    for case, g in zip(spec.cases, got):
        if not matches(g, case.want, spec.rtol, spec.atol):
            return fail(first_difference(case, g, name, spec.expected))
    raise AssertionError("diagnose called with right results")  # pragma: no cover


def run(fn: Callable, spec: Spec, name: str | None = None) -> list[torch.Tensor]:
    """Run ``fn`` twice on every case of ``spec``; raise the failure that explains what went
    wrong (different answers the second time first: they make every other verdict moot), or
    return the results."""
    require_callable(fn)
    name = name or name_of(fn)
    got = [as_tensor(call(fn, name, case.args, spec.arg_names), name, spec.expected)
           for case in spec.cases]
    for case, first in zip(spec.cases, got):
        again = as_tensor(call(fn, name, case.args, spec.arg_names), name, spec.expected)
        not_repeatable(again, first, case, name, spec.rtol, spec.atol)
    if not all(matches(g, case.want, spec.rtol, spec.atol) for g, case in zip(got, spec.cases)):
        raise diagnose(spec, got, name)
    return got


def not_repeatable(again: torch.Tensor, first: torch.Tensor, case: Case, name: str,
                   rtol: float, atol: float) -> None:
    if not matches(again, first, rtol, atol):
        raise fail(f"called a second time on the same inputs ({case.label}), {name} returned "
                   f"something else. A result must depend only on the arguments: keep no "
                   f"state between calls (a global tensor, a `.grad` that accumulates, a "
                   f"counter) and draw no unseeded random numbers.", "not repeatable")


# --------------------------------------------------------------------------- shared inputs

@lru_cache(maxsize=1)
def _cached_toy() -> LayeredNetwork:
    return load_model("toy", device="cpu", verbose=False)


def toy() -> LayeredNetwork:
    """A fresh copy of the toy model on the CPU: a student's function cannot damage the
    notebook's own model, and the check never needs a download."""
    return copy.deepcopy(_cached_toy())


def scenes(model: LayeredNetwork, n: int, offset: int,
           size: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` test scenes (never seen in training), normalised, with their [0, 1] images
    and their masks."""
    images, masks, _ = make_batch(test_seeds(n, offset=offset), size=size or model.input_size)
    return model.preprocess.normalise(images), images, masks

"""The three ways a ReLU can pass a signal backwards (Springenberg et al. 2015).

In the forward pass a ReLU computes ``f_out = max(f_in, 0)``. Going backwards,
``r_out`` is the signal arriving from the layer above and ``r_in`` what the
ReLU hands on:

* backprop (the true gradient):    ``r_in = (f_in > 0) * r_out``
* Deconvnet (Zeiler & Fergus 2014): ``r_in = (r_out > 0) * r_out``  (the forward input is not used)
* guided backprop:                 ``r_in = (f_in > 0) * (r_out > 0) * r_out``

ReLU6, ``min(max(f_in, 0), 6)`` (the rectifier of MobileNet and EfficientNet-Lite),
passes the gradient only where ``0 < f_in < 6``; its rules use that mask in place of
``f_in > 0`` (the Deconvnet rule, which ignores the forward pass, is the same).

:func:`relu_backward` is the rule on plain tensors, for the worked example and
the exercises. :func:`backward_rule` applies a rule to every ReLU and ReLU6 module
of a model (wherever they sit, in-place ones included) for the duration of a
``with`` block and puts the original modules back on exit, also when the block
raises.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import torch
from torch import nn

from lecturekit.models.rectifiers import relu_with_backward

RULES: tuple[str, ...] = ("backprop", "deconvnet", "guided")


def check_rule(rule: str) -> str:
    """Return ``rule`` if it is one of :data:`RULES`, else raise a ValueError listing them."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; valid rules are: {', '.join(RULES)}")
    return rule


def relu_backward(f_in: torch.Tensor, r_out: torch.Tensor, rule: str,
                  upper: float | None = None) -> torch.Tensor:
    """The signal a ReLU passes down under ``rule``, given its forward input ``f_in``
    and the signal ``r_out`` from above; ``upper=6`` for a ReLU6, whose forward pass lets
    ``f_in`` through only where ``0 < f_in < 6``."""
    check_rule(rule)
    if not isinstance(f_in, torch.Tensor) or not isinstance(r_out, torch.Tensor):
        raise TypeError(f"f_in and r_out must be torch.Tensors, got {type(f_in).__name__} and "
                        f"{type(r_out).__name__}")
    if f_in.shape != r_out.shape:
        raise ValueError(f"f_in and r_out must have the same shape, got {tuple(f_in.shape)} "
                         f"and {tuple(r_out.shape)}")
    passed = f_in > 0 if upper is None else (f_in > 0) & (f_in < upper)
    zero = torch.zeros_like(r_out)
    if rule == "backprop":
        return torch.where(passed, r_out, zero)
    if rule == "deconvnet":
        return torch.where(r_out > 0, r_out, zero)
    return torch.where(passed & (r_out > 0), r_out, zero)


class RuleReLU(nn.Module):
    """A ReLU (``upper=None``) or ReLU6 (``upper=6``) module whose backward pass follows
    ``rule``; never in place."""

    def __init__(self, rule: str, upper: float | None = None) -> None:
        super().__init__()
        self.rule = check_rule(rule)
        self.upper = upper

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return relu_with_backward(x, partial(relu_backward, rule=self.rule, upper=self.upper),
                                  self.upper)

    def extra_repr(self) -> str:
        return f"rule={self.rule!r}" + ("" if self.upper is None else f", upper={self.upper:g}")


def _relu_slots(model: nn.Module) -> list[tuple[nn.Module, str, nn.Module]]:
    """(parent, attribute name, module) for every ReLU and ReLU6 module inside ``model``."""
    slots = []
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, (nn.ReLU, nn.ReLU6, RuleReLU)):
                slots.append((parent, name, child))
    return slots


def _upper(module: nn.Module) -> float | None:
    if isinstance(module, RuleReLU):
        return module.upper
    return float(module.max_val) if isinstance(module, nn.ReLU6) else None


@contextmanager
def backward_rule(model: nn.Module, rule: str) -> Iterator[nn.Module]:
    """Within the block, every ReLU and ReLU6 module of ``model`` passes signals backwards
    by ``rule``.

    The forward pass is unchanged. On exit, normal or by an exception, the very
    same modules are back in their places.
    """
    check_rule(rule)
    slots = _relu_slots(model)
    if not slots:
        raise ValueError(f"{type(model).__name__} has no nn.ReLU or nn.ReLU6 module, so a "
                         f"backward rule cannot be applied (rectifiers called as functions "
                         f"cannot be replaced)")
    try:
        for parent, name, original in slots:
            setattr(parent, name, RuleReLU(rule, _upper(original)))
        yield model
    finally:
        for parent, name, original in slots:
            setattr(parent, name, original)

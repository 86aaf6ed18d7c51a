"""Rectifiers whose backward pass is chosen: the one mechanism behind the three backward
rules of :mod:`lecturekit.gradient.backward_rules` and the leaky gradient that inversion
sends through the matched layer's rectifier (:meth:`LayeredNetwork.staggered_activations
<lecturekit.models.network.LayeredNetwork.staggered_activations>`).

It sits with the networks because the networks need it; the lecture's rules build on it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["leaky_relu_gradient", "relu_with_backward"]


class _ReLUWithBackward(torch.autograd.Function):
    """``clamp(x, 0, upper)`` forwards; backwards, ``backward(f_in, r_out)`` instead of the
    gradient."""

    @staticmethod
    def forward(ctx, f_in: torch.Tensor,
                backward: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                upper: float | None) -> torch.Tensor:
        ctx.save_for_backward(f_in)
        ctx.backward_rule = backward
        return f_in.clamp(min=0, max=upper)

    @staticmethod
    def backward(ctx, r_out: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (f_in,) = ctx.saved_tensors
        return ctx.backward_rule(f_in, r_out), None, None


def relu_with_backward(x: torch.Tensor,
                       backward: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                       upper: float | None = None) -> torch.Tensor:
    """``max(x, 0)`` (``min(max(x, 0), upper)`` with ``upper``) whose backward pass hands on
    ``backward(f_in, r_out)``: the one mechanism behind :class:`RuleReLU` and
    :func:`leaky_relu_gradient`."""
    return _ReLUWithBackward.apply(x, backward, upper)


def leaky_relu_gradient(x: torch.Tensor, slope: float, upper: float | None = None) -> torch.Tensor:
    """``max(x, 0)`` (``min(max(x, 0), upper)`` with ``upper``, e.g. 6 for ReLU6) with an
    exact forward value, whose gradient is ``slope`` times the incoming one where the
    rectifier is flat (``x <= 0``, and ``x >= upper``) and 1 elsewhere.

    Why (inversion, Mahendran & Vedaldi 2015): a unit that the reference switches
    on but the current image switches off gets no gradient through its ReLU, so
    the optimisation cannot turn it on (and a ReLU6 unit stuck above 6 cannot come
    down). In sparse layers (the toy's ``relu5`` fires at 3 % of its positions)
    whole images get stuck at a feature error of 1. Inversion leaks only the
    rectifier of the matched layer
    (:meth:`~lecturekit.models.network.LayeredNetwork.rectified_layer`): there the
    leaked signal says "switch this unit on", and at zero feature error the
    gradient is zero either way, so the solution does not move. Leaking the ReLUs
    below would send the gradient along paths that do not change the output, and
    the images get noisy.
    """
    if isinstance(slope, bool) or not (isinstance(slope, (int, float)) and 0 <= slope <= 1):
        raise ValueError(f"slope must be a number in [0, 1], got slope={slope!r}")
    if upper is None:
        return relu_with_backward(x, lambda f_in, r_out: torch.where(f_in > 0, r_out,
                                                                     r_out * slope))
    return relu_with_backward(
        x, lambda f_in, r_out: torch.where((f_in > 0) & (f_in < upper), r_out, r_out * slope),
        upper)

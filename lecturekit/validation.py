"""Argument checks shared by the numeric modules, so every error reads the same way:
the parameter's name, what is valid, and what was given."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np
import torch

MAX_SIDE = 4096
"""The largest side, in pixels, of an image the kit generates (noise, scenes, Fourier images):
a guard against a typo that would ask for terabytes."""


def check_real(name: str, value: float, valid: str, ok: Callable[[float], bool]) -> float:
    """``value`` as a float if it is a finite real number for which ``ok`` holds."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)) \
            or not math.isfinite(value) or not ok(value):
        raise ValueError(f"{name} must be {valid}, got {name}={value!r}")
    return float(value)


def check_int(name: str, value: int, valid: str, ok: Callable[[int], bool]) -> int:
    """``value`` as an int if it is a whole number (an int or a NumPy integer, not a bool)
    for which ``ok`` holds."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or not ok(int(value)):
        raise ValueError(f"{name} must be a whole number {valid}, got {name}={value!r}")
    return int(value)


def check_at_least(name: str, value: int, minimum: int) -> int:
    """``value`` if it is a whole number >= ``minimum``."""
    return check_int(name, value, f">= {minimum}", lambda v: v >= minimum)


def check_side(name: str, value: int, minimum: int) -> int:
    """``value`` if it is a whole number of pixels in ``minimum..MAX_SIDE``."""
    return check_int(name, value, f"in {minimum}..{MAX_SIDE} (pixels)",
                     lambda v: minimum <= v <= MAX_SIDE)


def check_seed(value: int) -> int:
    """``value`` if it can seed a ``torch.Generator``: a whole number in 0..2**63 - 1."""
    return check_int("seed", value, "in 0..2**63 - 1", lambda v: 0 <= v < 2 ** 63)


def check_callable(name: str, value: object, valid: str) -> None:
    """Raise a TypeError unless ``value`` is callable; ``valid`` says what it is called with."""
    if not callable(value):
        raise TypeError(f"{name} must be {valid}, got {name}={value!r}")


def check_finite(name: str, tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` if all its values are finite, else a ValueError counting NaNs and infinities.

    One reduction decides: a sum of finite values is finite unless it overflows, and only
    then are the values looked at one by one. A tensor that requires grad is being
    differentiated inside the kit (a gradient, an optimisation step) and was checked where
    it came in; it passes unread, so that a step does not wait for the device.
    """
    if tensor.requires_grad or not tensor.is_floating_point():
        return tensor
    if not torch.isfinite(tensor.sum()) and not torch.isfinite(tensor).all():
        nan, inf = int(tensor.isnan().sum()), int(tensor.isinf().sum())
        raise ValueError(f"{name} must hold finite numbers only, got {name} with {nan} NaN and "
                         f"{inf} infinite value(s) among {tensor.numel()}")
    return tensor


def check_image_batch(x: torch.Tensor) -> None:
    """Raise unless ``x`` is a finite floating-point batch of shape (N, C, H, W)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape (N, C, H, W), got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"x must be a 4-D batch of shape (N, C, H, W), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"x must be a floating-point tensor (float32 or float64), got dtype {x.dtype}")
    check_finite("x", x)


def check_choice(name: str, value: str, valid: Iterable[str]) -> str:
    """``value`` if it is one of ``valid``, else a ValueError listing them."""
    options = list(valid)
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(options)}")
    return value


def check_index(name: str, value: int, count: int, what: str) -> int:
    """``value`` if it is a whole number in ``0..count-1``; ``what`` says what it indexes
    (e.g. "channels of layer conv5")."""
    return check_int(name, value, f"in 0..{count - 1} ({count} {what})",
                     lambda v: 0 <= v < count)


def check_channel(layer: str, channel: int, activation: torch.Tensor) -> int:
    """``channel`` if it indexes a channel (a unit, for fully connected layers) of ``layer``,
    whose ``activation`` (N, C, ...) is given."""
    what = f"{'units' if activation.ndim == 2 else 'channels'} of layer {layer}"
    return check_index("channel", channel, activation.shape[1], what)

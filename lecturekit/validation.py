"""Argument checks shared by the numeric modules, so every error reads the same way:
the parameter's name, what is valid, and what was given."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch


def check_real(name: str, value: float, valid: str, ok: Callable[[float], bool]) -> float:
    """``value`` as a float if it is a finite real number for which ``ok`` holds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or not ok(value):
        raise ValueError(f"{name} must be {valid}, got {name}={value!r}")
    return float(value)


def check_int(name: str, value: int, valid: str, ok: Callable[[int], bool]) -> int:
    """``value`` if it is an int (not a bool) for which ``ok`` holds."""
    if isinstance(value, bool) or not isinstance(value, int) or not ok(value):
        raise ValueError(f"{name} must be a whole number {valid}, got {name}={value!r}")
    return value


def check_at_least(name: str, value: int, minimum: int) -> int:
    """``value`` if it is a whole number >= ``minimum``."""
    return check_int(name, value, f">= {minimum}", lambda v: v >= minimum)


def check_image_batch(x: torch.Tensor) -> None:
    """Raise unless ``x`` is a floating-point batch of shape (N, C, H, W)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape (N, C, H, W), got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"x must be a 4-D batch of shape (N, C, H, W), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"x must be a floating-point tensor (float32 or float64), got dtype {x.dtype}")

"""Where tensors live: the CPU first, CUDA or Apple's MPS when present."""

from __future__ import annotations

import torch


def available_devices() -> list[str]:
    """Names of the devices torch can use here, the CPU always among them."""
    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.append("mps")
    return found


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The device to use: ``device`` when given and present, else CUDA, MPS, then the CPU."""
    if device is None:
        for choice in ("cuda", "mps"):
            if choice in available_devices():
                return torch.device(choice)
        return torch.device("cpu")
    resolved = torch.device(device)
    if resolved.type not in available_devices():
        raise ValueError(f"device {str(device)!r} is not available here; available: "
                         f"{', '.join(available_devices())}")
    return resolved

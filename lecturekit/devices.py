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
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be a device name such as 'cpu', 'cuda' or 'cuda:0', got "
                         f"device={device!r}; available here: "
                         f"{', '.join(available_devices())}") from None
    found = available_devices()
    gpus = torch.cuda.device_count() if "cuda" in found else 0
    if resolved.type not in found or (resolved.type == "cuda" and (resolved.index or 0) >= gpus):
        raise ValueError(f"device {str(device)!r} is not available here; available: "
                         f"{', '.join(found)}" + (f" (cuda:0..cuda:{gpus - 1})" if gpus else ""))
    return resolved

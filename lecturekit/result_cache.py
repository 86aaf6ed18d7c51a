"""A disk cache for the long optimisations, so that a notebook run a second time is instant.

Class models, activation maximisation, inversions and the top-9 searches take seconds to
minutes on a laptop CPU, and the notebooks, the homework and the presentation page ask for
the same ones again and again. :func:`cached` stores each result on disk under a key made
of everything it depends on:

* the **network**: its name, its modules (with each ReLU's backward rule), the device type
  and a hash of every weight (so a network whose weights were randomised, as in notebook
  6, never gets the trained one's picture);
* the **inputs and settings**: every argument of the call (images and other tensors by
  a hash of their values, the kit's own objects such as targets and priors by their
  contents); ``progress`` is left out, it changes nothing;
* the **kit**: a hash of the source of every module of ``lecturekit``, so a changed kit
  never shows a picture computed by an older one.

A call the key cannot describe (a function passed as ``callback`` or as a transform) is
simply computed. A cache file that cannot be read is computed again, with a warning.

Where: ``$LECTUREKIT_CACHE`` if set (a folder; ``off``, ``0``, ``false`` or ``no`` turns
the cache off, as the test suite does so that every test computes what it checks),
else ``$XDG_CACHE_HOME/lecturekit/results`` (``~/.cache/lecturekit/results``). Deleting
the folder is always safe.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

__all__ = ["CACHE_VARIABLE", "cache_folder", "cached", "call_key", "kit_fingerprint",
           "network_fingerprint"]

CACHE_VARIABLE = "LECTUREKIT_CACHE"
_OFF = ("0", "false", "no", "off")
_UNKEYED = ("progress",)
"""Arguments that change how a call reports, not what it returns."""

F = TypeVar("F", bound=Callable[..., Any])


class Uncacheable(Exception):
    """An argument has no key (a plain function, an open file, ...): compute, do not cache."""


def cache_folder() -> Path | None:
    """The folder results are kept in, or None when ``$LECTUREKIT_CACHE`` turns caching off."""
    value = os.environ.get(CACHE_VARIABLE, "").strip()
    if value.lower() in _OFF:
        return None
    if value:
        return Path(value).expanduser()
    home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(home) / "lecturekit" / "results"


@functools.lru_cache(maxsize=1)
def kit_fingerprint() -> str:
    """A hash of the source of every module of the kit (computed once per process)."""
    digest = hashlib.blake2b(digest_size=16)
    root = Path(__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _hash_tensor(digest: Any, tensor: torch.Tensor) -> None:
    value = tensor.detach().to("cpu").contiguous()
    digest.update(f"{value.dtype}{tuple(value.shape)}".encode())
    digest.update(value.reshape(-1).view(torch.uint8).numpy().data if value.numel() else b"")


def network_fingerprint(model: torch.nn.Module) -> str:
    """A hash of a network's name, modules (their printout names each ReLU's backward rule),
    train/eval modes, device type and every weight and buffer."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{getattr(model, 'name', '')}{model!r}".encode())
    digest.update(bytes(module.training for module in model.modules()))
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        _hash_tensor(digest, tensor)
    device = next(model.parameters(), torch.empty(0)).device
    digest.update(device.type.encode())
    return digest.hexdigest()


def _key(value: Any, depth: int = 0) -> str:
    """A text that changes whenever ``value`` could give another result."""
    if depth > 8:
        raise Uncacheable("arguments nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    if isinstance(value, torch.Tensor):
        digest = hashlib.blake2b(digest_size=16)
        _hash_tensor(digest, value)
        return f"tensor:{digest.hexdigest()}"
    if isinstance(value, torch.nn.Module):
        return f"network:{network_fingerprint(value)}"
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__}[" + ",".join(_key(v, depth + 1) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted((_key(k, depth + 1), _key(v, depth + 1)) for k, v in value.items())
        return "{" + ",".join(f"{k}:{v}" for k, v in items) + "}"
    if type(value).__module__.startswith("lecturekit.") and hasattr(value, "__dict__"):
        return f"{type(value).__qualname__}({_key(vars(value), depth + 1)})"
    raise Uncacheable(f"no key for a {type(value).__name__}")


def call_key(name: str, function: Callable, args: tuple, kwargs: dict) -> str:
    """The cache key of ``function(*args, **kwargs)``: a hash of the kit, the function and
    every argument but ``progress``; raises :class:`Uncacheable` when an argument has none."""
    bound = inspect.signature(function).bind(*args, **kwargs)
    bound.apply_defaults()
    arguments = {k: v for k, v in bound.arguments.items() if k not in _UNKEYED}
    # the networks last: a call with an unkeyable argument (the explorer's callback) is
    # then given up before any weight is hashed
    keys = {k: _key(v) for k, v in arguments.items() if not isinstance(v, torch.nn.Module)}
    keys.update({k: _key(v) for k, v in arguments.items() if isinstance(v, torch.nn.Module)})
    text = f"{kit_fingerprint()}|{name}|" + ",".join(f"{k}={keys[k]}" for k in sorted(keys))
    return hashlib.blake2b(text.encode(), digest_size=20).hexdigest()


def _load(path: Path) -> tuple[bool, Any]:
    """(True, result) from a readable cache file, (False, None) from a missing one; a
    file that cannot be read is reported by a warning and treated as missing."""
    if not path.is_file():
        return False, None
    try:
        return True, torch.load(path, weights_only=False)
    except Exception as error:  # any damage to the file: compute again, never fail
        warnings.warn(f"lecturekit: the cached result {path} could not be read "
                      f"({type(error).__name__}); computing it again", stacklevel=3)
        return False, None


def _store(path: Path, result: Any) -> None:
    """Write ``result`` atomically (a partly written file never has the final name); a
    folder that cannot be written is reported by a warning, the result is still returned."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(result, partial)
        os.replace(partial, path)
    except (OSError, RuntimeError) as error:  # torch.save reports a failed write as either
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        warnings.warn(f"lecturekit: could not keep the result in {path.parent} ({error}); "
                      f"set {CACHE_VARIABLE}=off to stop trying", stacklevel=3)


def cached(name: str) -> Callable[[F], F]:
    """Decorate a long computation so that its results are kept on disk (module docstring)."""
    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            folder = cache_folder()
            if folder is None:
                return function(*args, **kwargs)
            try:
                key = call_key(name, function, args, kwargs)
            except (Uncacheable, TypeError):  # TypeError: arguments the function rejects
                return function(*args, **kwargs)
            path = folder / f"{name}-{key}.pt"
            found, result = _load(path)
            if found:
                return result
            result = function(*args, **kwargs)
            _store(path, result)
            return result
        return wrapper  # type: ignore[return-value]
    return decorate

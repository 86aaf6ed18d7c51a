"""Loading, converting and preprocessing images for the CNN visualisation lectures.

Everything here produces or consumes the same simple format: a float32 torch
tensor of shape ``(3, H, W)`` holding RGB values in ``[0, 1]`` on the CPU.
:func:`load_image` turns files, PIL images, NumPy arrays and tensors into that
format; :class:`Preprocessing` turns such images into the normalised batches a
network expects, and :meth:`Preprocessing.deprocess` plus
:func:`to_numpy_image` turn network inputs back into something matplotlib can
show.

Only torch, NumPy and Pillow are imported (not torchvision: importing it takes
seconds, and every command and kernel of the kit imports this module).  The
sample images are files shipped inside scikit-image and matplotlib; they are
found on disk without importing either package.
"""

from __future__ import annotations

import importlib.util
import os
import re
import reprlib
import struct
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from lecturekit.validation import check_finite

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "IMAGE_SUFFIXES",
    "ImageCollection",
    "ImageLike",
    "MAX_PIXELS",
    "Preprocessing",
    "SAMPLE_IMAGES",
    "load_image",
    "sample_image",
    "to_numpy_image",
]

ImageLike = str | os.PathLike | Image.Image | np.ndarray | torch.Tensor
"""Anything :func:`load_image` understands: a file path, a PIL image, an array or a tensor."""

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff",
                                   ".webp")
"""File endings of image files (any case): what a folder of images is searched for, and the
names :func:`load_image` expects to hold an image."""

MAX_PIXELS: int = 50_000_000
"""Default largest image (width * height) that :func:`load_image` will decode."""

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

# name -> (module to locate, pip package name, path inside the module's directory, description)
_SAMPLE_FILES: dict[str, tuple[str, str, str, str]] = {
    "chelsea": ("skimage", "scikit-image", "data/chelsea.png",
                "Chelsea the cat, 451x300 colour photo (scikit-image)"),
    "coffee": ("skimage", "scikit-image", "data/coffee.png",
               "a cup of coffee on a saucer, 600x400 colour photo (scikit-image)"),
    "astronaut": ("skimage", "scikit-image", "data/astronaut.png",
                  "astronaut Eileen Collins, 512x512 colour portrait (scikit-image)"),
    "rocket": ("skimage", "scikit-image", "data/rocket.jpg",
               "a rocket on its launch pad, 640x427 colour photo (scikit-image)"),
    "camera": ("skimage", "scikit-image", "data/camera.png",
               "the cameraman, 512x512 greyscale photo (scikit-image)"),
    "grace_hopper": ("matplotlib", "matplotlib", "mpl-data/sample_data/grace_hopper.jpg",
                     "Rear Admiral Grace Hopper, 512x600 colour portrait (matplotlib)"),
    "motorcycle": ("skimage", "scikit-image", "data/motorcycle_left.png",
                   "a motorcycle in a garage, 741x500 colour photo (scikit-image)"),
    "grass": ("skimage", "scikit-image", "data/grass.png",
              "a grass texture, 512x512 greyscale (scikit-image)"),
    "gravel": ("skimage", "scikit-image", "data/gravel.png",
               "a gravel texture, 512x512 greyscale (scikit-image)"),
    "brick": ("skimage", "scikit-image", "data/brick.png",
              "a brick wall texture, 512x512 greyscale (scikit-image)"),
}

SAMPLE_IMAGES: dict[str, str] = {name: entry[3] for name, entry in _SAMPLE_FILES.items()}
"""Names accepted by :func:`sample_image`, each with a short description."""

_ACCEPTED_TYPES = (
    "a file path (str or os.PathLike), a PIL.Image.Image, "
    "a numpy.ndarray or a torch.Tensor"
)
_ARRAY_SHAPES = "(H, W), (H, W, 1), (H, W, 3) or (H, W, 4)"
_ARRAY_DTYPES = "uint8 (0..255), uint16 (0..65535), bool, or float (in [0, 1])"
_TENSOR_SHAPES = "(3, H, W), (1, H, W) or (H, W), channels first"
_TENSOR_DTYPES = "a float dtype (values in [0, 1]), uint8 (0..255) or bool"
_RANGE_HINT = "floats in [0, 1] or uint8 0..255"
# Float inputs may overshoot [0, 1] by this much (rounding noise) and are then clamped.
_RANGE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class ImageCollection:
    """A normalised batch ``images`` (N, 3, H, W) to search (the top-9 view), with the
    ``sources`` each image comes from (one id per image: crops of one photo share theirs),
    so that a search can keep at most one image per source, and, where known, the
    ``objects`` in each image: per image a tuple of ``(class name, (top, left, bottom,
    right))``, empty for images whose content is not known (all empty: ``()``)."""
    images: torch.Tensor
    sources: tuple[int, ...]
    objects: tuple[tuple[tuple[str, tuple[int, int, int, int]], ...], ...] = ()

    def __post_init__(self) -> None:
        if len(self.sources) != self.images.shape[0]:
            raise ValueError(f"sources must give one id per image: {self.images.shape[0]} "
                             f"images, {len(self.sources)} sources")
        if self.objects and len(self.objects) != self.images.shape[0]:
            raise ValueError(f"objects must give one tuple per image: {self.images.shape[0]} "
                             f"images, {len(self.objects)} tuples")

    def __len__(self) -> int:
        return self.images.shape[0]


# --------------------------------------------------------------------------- #
# Loading
# --------------------------------------------------------------------------- #
def load_image(source: ImageLike, *, max_pixels: int = MAX_PIXELS) -> torch.Tensor:
    """Load one image as a ``(3, H, W)`` float32 RGB tensor in ``[0, 1]`` on the CPU.

    ``source`` may be a path to an image file, a PIL image, a NumPy array
    (``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)``) or a
    channels-first tensor (``(3, H, W)``, ``(1, H, W)`` or ``(H, W)``).
    Greyscale is copied into all three channels, transparency is composited
    over white, and a file's EXIF orientation is applied.  Files and PIL images
    larger than ``max_pixels`` (width * height) are refused before their pixels
    are decoded; pass a larger ``max_pixels`` for images you trust.  The result
    never shares memory with the input.
    """
    _check_max_pixels(max_pixels)
    if isinstance(source, (str, os.PathLike)):
        return _load_file(source, max_pixels)
    if isinstance(source, Image.Image):
        origin = _pil_origin(source)
        _check_size(source.size, max_pixels, origin)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                source.load()
            except _DECODE_ERRORS as exc:
                raise _damaged_error(origin, exc, getattr(source, "filename", "")) from None
            return _pil_to_tensor(source, origin)
    if isinstance(source, np.ndarray):
        return _array_to_tensor(source, "NumPy array")
    if isinstance(source, torch.Tensor):
        return _tensor_to_image(source)
    hint = ""
    if isinstance(source, (bytes, bytearray)):
        hint = " (for encoded image bytes, use PIL.Image.open(io.BytesIO(data)))"
    elif isinstance(source, (list, tuple)):
        hint = " (to load several images into a batch, use a Preprocessing object)"
    raise TypeError(
        f"cannot load an image from source={reprlib.repr(source)}, a "
        f"{type(source).__module__}.{type(source).__qualname__}; expected {_ACCEPTED_TYPES}{hint}"
    )


def sample_image(name: str) -> torch.Tensor:
    """Load one of the bundled sample images (see ``SAMPLE_IMAGES``) as a ``(3, H, W)`` tensor in ``[0, 1]``."""
    return load_image(_sample_path(name))


def _sample_path(name: str) -> Path:
    """Find a sample image's file on disk without importing the package that ships it."""
    if name not in _SAMPLE_FILES:
        listing = ", ".join(f"{n!r}" for n in SAMPLE_IMAGES)
        raise ValueError(f"unknown sample image {name!r}; available sample images: {listing}")
    module, pip_name, relative, _ = _SAMPLE_FILES[name]
    spec = importlib.util.find_spec(module)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise ModuleNotFoundError(
            f"sample image {name!r} is a file shipped with the {pip_name} package, "
            f"which is not installed; install it with `pip install {pip_name}`",
            name=module,
        )
    for location in locations:
        candidate = Path(location) / relative
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"sample image {name!r} should be the file {relative!r} inside the installed "
        f"{pip_name} package ({', '.join(locations)}), but it is not there; "
        f"this {pip_name} version may not ship it"
    )


def _check_max_pixels(max_pixels: int) -> None:
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels <= 0:
        raise ValueError(f"max_pixels must be a positive int, got {max_pixels!r}")


def _check_size(size: tuple[int, int], max_pixels: int, origin: str) -> None:
    width, height = size
    if width * height > max_pixels:
        raise ValueError(
            f"{origin} is {width}x{height} = {width * height:,} pixels, more than the limit of "
            f"{max_pixels:,} pixels (a guard against decompression bombs). If you trust it, "
            f"raise the limit with the max_pixels parameter, e.g. "
            f"load_image(..., max_pixels={width * height})"
        )


def _pil_origin(img: Image.Image) -> str:
    filename = getattr(img, "filename", "")
    return f"image file {filename!r}" if filename else "PIL image"


def _load_file(path: str | os.PathLike, max_pixels: int) -> torch.Tensor:
    path = os.path.expanduser(os.fspath(path))
    origin = f"image file {path!r}"
    if re.match(r"^[a-z][a-z0-9+.-]*://", str(path), flags=re.IGNORECASE):
        raise FileNotFoundError(
            f"{path!r} looks like a URL; load_image only reads local files, download it first"
        )
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such image file: {path!r}")
    if os.path.isdir(path):
        raise ValueError(f"{origin} is a folder; load_image needs one image file")
    # Pillow's own bomb check reads the module-wide PIL.Image.MAX_IMAGE_PIXELS; we leave
    # that untouched, silence its warning locally (our max_pixels check replaces it) and
    # turn its hard error into our own message.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img_ctx = Image.open(path)  # lazy: reads the header only
        except Image.DecompressionBombError as exc:
            raise _pil_bomb_error(origin, max_pixels, exc) from None
        except UnidentifiedImageError:
            raise _unreadable_error(path, origin) from None
        except _DECODE_ERRORS as exc:
            raise _damaged_error(origin, exc, path) from None
        with img_ctx as img:
            _check_size(img.size, max_pixels, origin)
            try:
                img.load()
            except Image.DecompressionBombError as exc:
                raise _pil_bomb_error(origin, max_pixels, exc) from None
            except _DECODE_ERRORS as exc:
                raise _damaged_error(origin, exc, path) from None
            return _pil_to_tensor(img, origin)


# What Pillow raises on a file it cannot decode: truncated downloads and damaged files raise
# OSError ("Truncated File Read", "image file is truncated"), SyntaxError (Pillow's "broken
# file"), EOFError, ValueError, zlib.error or struct.error, depending on the format and where
# the data stops.
_DECODE_ERRORS = (OSError, SyntaxError, EOFError, ValueError, zlib.error, struct.error,
                  IndexError)

# The first bytes of the formats a student is likely to hand over, to say what a file is.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"), (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"), (b"GIF89a", "GIF image"), (b"BM", "BMP image"),
    (b"II*\x00", "TIFF image"), (b"MM\x00*", "TIFF image"), (b"%PDF", "PDF document"),
    (b"PK\x03\x04", "ZIP archive"),
)


def _content_of(path: str) -> str:
    """What the first bytes of the file say it is (not what its name says)."""
    with open(path, "rb") as handle:
        head = handle.read(512)
    if not head:
        return "empty (0 bytes)"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP image"
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<?xml", b"<svg")):
        return "a web page or XML (HTML, SVG), as a failed download often leaves"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "binary data of an unknown kind"
    return "plain text"


def _damaged_error(origin: str, exc: BaseException, path: str = "") -> ValueError:
    """The kit's error for an image that starts like one but cannot be decoded."""
    found = ""
    if path and os.path.isfile(path):
        found = f"{_content_of(path)}, {os.path.getsize(path):,} bytes; "
    return ValueError(
        f"{origin} is a truncated or damaged image file ({found}Pillow says: "
        f"{type(exc).__name__}: {exc}). A download that stopped early leaves such a file: "
        f"download or copy it again, or open it in an image viewer to check it"
    )


def _unreadable_error(path: str, origin: str) -> ValueError:
    """The kit's error for a file that Pillow does not recognise as an image at all."""
    content = _content_of(path)
    if content.endswith("image"):  # a known signature, but too short for Pillow to parse
        return _damaged_error(origin, UnidentifiedImageError("cannot identify image file"), path)
    suffix = Path(path).suffix.lower()
    named = (f"; its name ends in {suffix!r}, but the name does not make it an image"
             if suffix in IMAGE_SUFFIXES else "")
    return ValueError(
        f"{origin} is not an image file that Pillow can read: its content is {content}{named}. "
        f"Give load_image a PNG, JPEG or other image file"
    )


def _pil_bomb_error(origin: str, max_pixels: int, exc: Exception) -> ValueError:
    found = re.search(r"\((\d+) pixels\)", str(exc))
    size = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
    pil_limit = Image.MAX_IMAGE_PIXELS
    if pil_limit is not None and max_pixels < 2 * pil_limit:
        return ValueError(
            f"{origin} has {size}, more than the limit of {max_pixels:,} pixels (a guard "
            f"against decompression bombs). If you trust it, raise the limit with the "
            f"max_pixels parameter"
        )
    return ValueError(
        f"{origin} has {size}; that is within max_pixels={max_pixels:,} but beyond Pillow's own "
        f"limit of 2 * PIL.Image.MAX_IMAGE_PIXELS = {2 * (pil_limit or 0):,} pixels, which "
        f"lecturekit does not change for you. If you trust the file, set "
        f"PIL.Image.MAX_IMAGE_PIXELS yourself"
    )


def _pil_to_tensor(img: Image.Image, origin: str) -> torch.Tensor:
    """Decode a PIL image (applying EXIF orientation) into a (3, H, W) float tensor."""
    img = ImageOps.exif_transpose(img)  # a new image; the caller's object is not changed
    mode = img.mode
    if mode in ("1", "L", "RGB", "RGBA") or mode.startswith("I;16"):
        pass
    elif mode in ("I", "F"):
        # 32-bit ints / floats: range is checked below (I as 16-bit data, F as [0, 1]).
        pass
    elif mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in img.info
        img = img.convert("RGBA" if has_alpha else "RGB")
    elif mode in ("LA", "La", "RGBa"):
        img = img.convert("RGBA")
    else:  # CMYK, YCbCr, LAB, HSV, RGBX, ...
        has_alpha = "A" in img.getbands() or "a" in img.getbands()
        try:
            img = img.convert("RGBA" if has_alpha else "RGB")
        except ValueError as exc:
            raise ValueError(f"{origin} has Pillow mode {mode!r}, which cannot be converted to RGB") from exc

    arr = np.asarray(img)
    if img.mode == "I":
        lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
        if lo < 0 or hi > 65535:
            raise ValueError(
                f"{origin} has 32-bit integer pixels in [{lo}, {hi}]; only 0..65535 "
                f"(16-bit) integer images are supported"
            )
        arr = arr.astype(np.uint16)
    elif arr.dtype.kind == "u" and arr.dtype.itemsize == 2:
        arr = arr.astype(np.uint16)  # I;16B etc. are big-endian; make them native
    return _array_to_tensor(arr, origin)


def _array_to_tensor(arr: np.ndarray, origin: str) -> torch.Tensor:
    """Convert an (H, W[, C]) array into a new (3, H, W) float32 tensor in [0, 1]."""
    if arr.ndim == 2:
        arr = arr[:, :, None]
    elif not (arr.ndim == 3 and arr.shape[-1] in (1, 3, 4)):
        hint = ""
        if arr.ndim == 3 and arr.shape[0] in (1, 3, 4):
            hint = " (this looks channels-first; use arr.transpose(1, 2, 0))"
        elif arr.ndim == 4:
            hint = " (pass images one at a time, or use a Preprocessing object for batches)"
        raise ValueError(
            f"{origin} has shape {tuple(arr.shape)}; accepted shapes are {_ARRAY_SHAPES}{hint}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{origin} has shape {tuple(arr.shape)}, which contains no pixels")

    kind = arr.dtype.kind
    if arr.dtype == np.uint8:
        data = arr.astype(np.float32) / np.float32(255)
    elif arr.dtype.kind == "u" and arr.dtype.itemsize == 2:
        data = arr.astype(np.float32) / np.float32(65535)
    elif kind == "b":
        data = arr.astype(np.float32)
    elif kind == "f":
        data = _checked_floats(arr, origin).astype(np.float32)
    else:
        raise ValueError(
            f"{origin} has dtype {arr.dtype}; accepted dtypes are {_ARRAY_DTYPES}"
            + (" (convert with arr.astype(np.uint8) if the values are 0..255)" if kind in "iu" else "")
        )

    if data.shape[-1] == 4:
        alpha = data[:, :, 3:4]
        data = data[:, :, :3] * alpha + (1.0 - alpha)  # composite over white
    elif data.shape[-1] == 1:
        data = np.repeat(data, 3, axis=2)
    data = np.clip(data, 0.0, 1.0)
    return torch.from_numpy(np.ascontiguousarray(data.transpose(2, 0, 1), dtype=np.float32))


def _checked_floats(arr: np.ndarray, origin: str) -> np.ndarray:
    if not np.isfinite(arr).all():
        raise ValueError(f"{origin} contains NaN or infinite values; expected {_RANGE_HINT}")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < -_RANGE_TOLERANCE or hi > 1.0 + _RANGE_TOLERANCE:
        raise ValueError(
            f"{origin} has float values in [{lo:g}, {hi:g}]; expected {_RANGE_HINT} "
            f"(divide by 255 if your floats are 0..255)"
        )
    return arr


def _tensor_to_image(t: torch.Tensor, origin: str = "tensor") -> torch.Tensor:
    """Convert a channels-first image tensor into a new (3, H, W) float32 CPU tensor in [0, 1]."""
    shape = tuple(t.shape)
    if t.ndim == 4:
        raise ValueError(
            f"{origin} has 4 dimensions {shape}, i.e. it looks like a batch; pass images one "
            f"at a time, or use a Preprocessing object for batches"
        )
    if t.ndim == 2:
        t = t.unsqueeze(0)
    elif t.ndim == 3:
        if t.shape[0] not in (1, 3):
            if t.shape[-1] in (1, 3, 4):
                hint = (" Channels-last tensors are ambiguous and not accepted; "
                        "use t.permute(2, 0, 1) to make it channels first.")
            elif t.shape[0] == 4:
                hint = " Four channels (RGBA) are not accepted for tensors; pass a NumPy (H, W, 4) array instead."
            else:
                hint = ""
            raise ValueError(f"{origin} has shape {shape}; accepted shapes are {_TENSOR_SHAPES}.{hint}")
    else:
        raise ValueError(f"{origin} has shape {shape}; accepted shapes are {_TENSOR_SHAPES}")
    if t.shape[1] == 0 or t.shape[2] == 0:
        raise ValueError(f"{origin} has shape {shape}, which contains no pixels")

    t = t.detach()
    if t.dtype == torch.uint8:
        out = t.to(device="cpu", dtype=torch.float32, copy=True) / 255.0
    elif t.dtype == torch.bool:
        out = t.to(device="cpu", dtype=torch.float32, copy=True)
    elif t.is_floating_point():
        out = t.to(device="cpu", dtype=torch.float32, copy=True)
        if not torch.isfinite(out).all():
            raise ValueError(f"{origin} contains NaN or infinite values; expected {_RANGE_HINT}")
        lo, hi = out.min().item(), out.max().item()
        if lo < -_RANGE_TOLERANCE or hi > 1.0 + _RANGE_TOLERANCE:
            raise ValueError(
                f"{origin} has float values in [{lo:g}, {hi:g}]; expected {_RANGE_HINT} "
                f"(if it is a normalised network input, undo that with Preprocessing.deprocess)"
            )
    else:
        raise ValueError(f"{origin} has dtype {t.dtype}; accepted dtypes are {_TENSOR_DTYPES}")
    out = out.clamp_(0.0, 1.0)
    if out.shape[0] == 1:
        out = out.expand(3, -1, -1)
    return out.contiguous()


# --------------------------------------------------------------------------- #
# Display
# --------------------------------------------------------------------------- #
def to_numpy_image(image: torch.Tensor) -> np.ndarray:
    """Turn a ``(3, H, W)`` or ``(1, 3, H, W)`` tensor in ``[0, 1]`` into an ``(H, W, 3)`` float32 array for ``imshow``.

    Values are clipped to ``[0, 1]``; the tensor may live on any device and may require grad.
    Undo normalisation first with :meth:`Preprocessing.deprocess`.
    """
    if not isinstance(image, torch.Tensor):
        raise TypeError(
            f"to_numpy_image expects a torch.Tensor of shape (3, H, W) or (1, 3, H, W), "
            f"got {type(image).__qualname__} (use load_image to convert other inputs)"
        )
    shape = tuple(image.shape)
    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    if not (image.ndim == 3 and image.shape[0] == 3):
        hint = " (pick one image, e.g. batch[i])" if len(shape) == 4 and shape[1] == 3 else ""
        raise ValueError(f"expected shape (3, H, W) or (1, 3, H, W), got {shape}{hint}")
    if not (image.is_floating_point() or image.dtype == torch.bool):
        raise ValueError(f"expected a float tensor in [0, 1], got dtype {image.dtype}")
    out = image.detach().to(device="cpu", dtype=torch.float32)
    if not torch.isfinite(out).all():
        raise ValueError("image contains NaN or infinite values")
    return out.clamp(0.0, 1.0).permute(1, 2, 0).contiguous().numpy()


# --------------------------------------------------------------------------- #
# Preprocessing
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Preprocessing:
    """How a model wants its input: resize shorter side, centre crop, normalise.

    Calling the object on an image (anything :func:`load_image` accepts) or on a
    list of images returns a normalised ``(N, 3, crop, crop)`` float32 batch.
    """

    resize: int
    """The image's shorter side is resized (bilinear, antialiased) to this many pixels."""
    crop: int
    """The resized image is then centre-cropped to ``crop x crop``; must not exceed ``resize``."""
    mean: tuple[float, float, float]
    """Per-channel mean subtracted by :meth:`normalise`."""
    std: tuple[float, float, float]
    """Per-channel standard deviation divided by in :meth:`normalise`."""

    def __post_init__(self) -> None:
        for field in ("resize", "crop"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{field} must be a positive int, got {value!r}")
        if self.crop > self.resize:
            raise ValueError(
                f"crop ({self.crop}) must not be larger than resize ({self.resize}); "
                f"the shorter side is resized to `resize` and then cropped"
            )
        for field in ("mean", "std"):
            value = getattr(self, field)
            try:
                values = tuple(float(v) for v in value)
            except (TypeError, ValueError):
                values = ()
            if len(values) != 3 or not all(np.isfinite(values)):
                raise ValueError(f"{field} must be three finite numbers (R, G, B), got {value!r}")
            object.__setattr__(self, field, values)
        if min(self.std) <= 0:
            raise ValueError(f"std values must be positive, got {self.std!r}")

    def __call__(
        self,
        source: ImageLike | Sequence[ImageLike],
        *,
        max_pixels: int = MAX_PIXELS,
    ) -> torch.Tensor:
        """Load, resize, centre-crop and normalise one image or a list of images into an ``(N, 3, crop, crop)`` batch.

        A single image gives ``N = 1``.  A 4-D tensor is taken as a batch
        ``(N, 3 or 1, H, W)`` already in ``[0, 1]``.  The result is on the CPU.
        """
        if isinstance(source, torch.Tensor) and source.ndim == 4:
            if source.shape[0] == 0:
                raise ValueError(f"the batch tensor is empty, shape {tuple(source.shape)}")
            images = [_tensor_to_image(img, f"batch tensor item {i}") for i, img in enumerate(source)]
        elif isinstance(source, Sequence) and not isinstance(source, (str, bytes, bytearray)):
            if len(source) == 0:
                raise ValueError("cannot make a batch from an empty sequence of images")
            images = [load_image(item, max_pixels=max_pixels) for item in source]
        else:
            images = [load_image(source, max_pixels=max_pixels)]
        return self.normalise(torch.stack([self._resize_and_crop(img) for img in images]))

    def _resize_and_crop(self, image: torch.Tensor) -> torch.Tensor:
        """Shorter side to ``resize`` (bilinear, antialiased; the longer side truncated as
        torchvision does), then the centre ``crop x crop`` (offsets rounded)."""
        height, width = image.shape[-2:]
        short, long = sorted((height, width))
        size = (self.resize, int(self.resize * long / short))
        size = size if height <= width else size[::-1]
        image = F.interpolate(image[None], size=size, mode="bilinear", antialias=True,
                              align_corners=False)[0]
        top = int(round((size[0] - self.crop) / 2.0))
        left = int(round((size[1] - self.crop) / 2.0))
        return image[:, top:top + self.crop, left:left + self.crop].clamp(0.0, 1.0)

    def _stats(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dtype = like.dtype if like.is_floating_point() else torch.float32
        mean = torch.tensor(self.mean, dtype=dtype, device=like.device).view(3, 1, 1)
        std = torch.tensor(self.std, dtype=dtype, device=like.device).view(3, 1, 1)
        return mean, std

    @staticmethod
    def _check_channels(images: torch.Tensor, what: str) -> None:
        if not isinstance(images, torch.Tensor):
            raise TypeError(f"{what} expects a torch.Tensor, got {type(images).__qualname__}")
        if images.ndim not in (3, 4) or images.shape[-3] != 3:
            raise ValueError(f"{what} expects shape (N, 3, H, W) or (3, H, W), got {tuple(images.shape)}")

    def normalise(self, images01: torch.Tensor) -> torch.Tensor:
        """Normalise ``(N, 3, H, W)`` (or ``(3, H, W)``) images in ``[0, 1]`` with ``mean`` and ``std``; no resizing.

        Differentiable, and keeps the input's device and float dtype.
        """
        self._check_channels(images01, "normalise")
        check_finite("images01", images01)
        mean, std = self._stats(images01)
        x = images01 if images01.is_floating_point() else images01.float()
        return (x - mean) / std

    def deprocess(self, batch: torch.Tensor) -> torch.Tensor:
        """Undo :meth:`normalise`: same shape, values clamped to ``[0, 1]``, detached and on the CPU."""
        self._check_channels(batch, "deprocess")
        x = batch.detach()
        if not x.is_floating_point():
            x = x.float()
        mean, std = self._stats(x)
        return (x * std + mean).clamp(0.0, 1.0).cpu()

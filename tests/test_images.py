"""Tests for lecturekit.images."""

from __future__ import annotations

import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
try:
    import lecturekit.images  # noqa: F401
except ImportError:  # running without the repo root on sys.path
    sys.path.insert(0, str(REPO_ROOT))

from lecturekit import images as li  # noqa: E402
from lecturekit.images import (  # noqa: E402
    IMAGENET_MEAN,
    IMAGENET_STD,
    MAX_PIXELS,
    SAMPLE_IMAGES,
    Preprocessing,
    load_image,
    sample_image,
    to_numpy_image,
)

IMAGENET = Preprocessing(resize=256, crop=224, mean=IMAGENET_MEAN, std=IMAGENET_STD)


def _header_only_png(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header claims width x height greyscale pixels (the data is a stub)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))
    path.write_bytes(data)
    return path


def _check_image(x: torch.Tensor) -> None:
    assert isinstance(x, torch.Tensor)
    assert x.dtype == torch.float32
    assert x.ndim == 3 and x.shape[0] == 3
    assert x.device.type == "cpu"
    assert 0.0 <= x.min().item() and x.max().item() <= 1.0


# --------------------------------------------------------------------------- samples
def test_sample_names_present():
    for name in ("chelsea", "coffee", "astronaut", "rocket", "grace_hopper"):
        assert name in SAMPLE_IMAGES
        assert isinstance(SAMPLE_IMAGES[name], str) and SAMPLE_IMAGES[name]


@pytest.mark.parametrize("name", sorted(SAMPLE_IMAGES))
def test_every_sample_loads(name):
    x = sample_image(name)
    _check_image(x)
    assert x.shape[1] > 100 and x.shape[2] > 100
    assert x.max() > x.min()  # not a blank image


def test_sample_sizes():
    assert tuple(sample_image("chelsea").shape) == (3, 300, 451)
    assert tuple(sample_image("grace_hopper").shape) == (3, 600, 512)


def test_unknown_sample_lists_names():
    with pytest.raises(ValueError, match=r"unknown sample image 'dog'.*'chelsea'.*'grace_hopper'"):
        sample_image("dog")


def test_missing_sample_package_names_it(monkeypatch):
    real = li.importlib.util.find_spec
    monkeypatch.setattr(li.importlib.util, "find_spec",
                        lambda name, *a: None if name == "skimage" else real(name, *a))
    with pytest.raises(ModuleNotFoundError, match=r"pip install scikit-image"):
        sample_image("chelsea")


def test_no_heavy_imports():
    code = (
        "import sys, importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('images', {str(REPO_ROOT / 'lecturekit' / 'images.py')!r})\n"
        "m = importlib.util.module_from_spec(spec); sys.modules['images'] = m\n"
        "spec.loader.exec_module(m)\n"
        "m.sample_image('chelsea'); m.sample_image('grace_hopper')\n"
        "bad = [k for k in sys.modules if k.split('.')[0] in ('matplotlib', 'skimage')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- files
def test_exif_orientation_is_applied(tmp_path):
    # stored 64 wide x 32 tall, red block in the top-left corner, blue elsewhere
    arr = np.zeros((32, 64, 3), np.uint8)
    arr[..., 2] = 255
    arr[:16, :16] = (255, 0, 0)
    img = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    img.save(path, quality=95, exif=exif.tobytes())
    plain = tmp_path / "plain.jpg"
    img.save(plain, quality=95)

    assert tuple(load_image(plain).shape) == (3, 32, 64)
    x = load_image(path)
    assert tuple(x.shape) == (3, 64, 32)
    # after a clockwise quarter turn the top-left corner ends up top-right
    r, g, b = x[:, 4, 28].tolist()
    assert r > 0.8 and b < 0.2
    r, g, b = x[:, 4, 4].tolist()
    assert b > 0.8 and r < 0.2


def test_greyscale_file(tmp_path):
    path = tmp_path / "grey.png"
    Image.fromarray(np.array([[0, 128, 255]], np.uint8), mode="L").save(path)
    x = load_image(path)
    _check_image(x)
    assert tuple(x.shape) == (3, 1, 3)
    assert torch.equal(x[0], x[1]) and torch.equal(x[1], x[2])
    torch.testing.assert_close(x[0, 0], torch.tensor([0.0, 128 / 255, 1.0]))


def test_16bit_greyscale_file(tmp_path):
    path = tmp_path / "grey16.png"
    Image.fromarray(np.array([[0, 32768, 65535]], np.uint16)).save(path)
    assert Image.open(path).mode.startswith("I")
    x = load_image(path)
    _check_image(x)
    torch.testing.assert_close(x[:, 0, :], torch.tensor([0.0, 32768 / 65535, 1.0]).expand(3, 3))


def test_rgba_composited_over_white(tmp_path):
    arr = np.array([[[255, 0, 0, 255], [0, 0, 0, 0], [0, 0, 0, 128]]], np.uint8)
    path = tmp_path / "rgba.png"
    Image.fromarray(arr, mode="RGBA").save(path)
    x = load_image(path)
    _check_image(x)
    torch.testing.assert_close(x[:, 0, 0], torch.tensor([1.0, 0.0, 0.0]))
    torch.testing.assert_close(x[:, 0, 1], torch.tensor([1.0, 1.0, 1.0]))  # fully transparent -> white
    torch.testing.assert_close(x[:, 0, 2], torch.full((3,), 1 - 128 / 255))


def test_other_modes(tmp_path):
    # LA with transparent pixel
    la = Image.fromarray(np.array([[[0, 255], [0, 0]]], np.uint8), mode="LA")
    x = load_image(la)
    torch.testing.assert_close(x[:, 0, 0], torch.zeros(3))
    torch.testing.assert_close(x[:, 0, 1], torch.ones(3))
    # palette image with a transparent index, via a GIF file
    p = Image.new("P", (2, 1))
    p.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    p.putpixel((0, 0), 0)
    p.putpixel((1, 0), 1)
    path = tmp_path / "pal.gif"
    p.save(path, transparency=1)
    x = load_image(path)
    torch.testing.assert_close(x[:, 0, 0], torch.tensor([1.0, 0.0, 0.0]))
    torch.testing.assert_close(x[:, 0, 1], torch.ones(3))
    # 1-bit and CMYK
    x = load_image(Image.fromarray(np.array([[True, False]])))
    torch.testing.assert_close(x[:, 0], torch.tensor([[1.0, 0.0]] * 3))
    cmyk = Image.new("CMYK", (1, 1), (0, 255, 255, 0))  # pure red
    torch.testing.assert_close(load_image(cmyk)[:, 0, 0], torch.tensor([1.0, 0.0, 0.0]))


def test_missing_file(tmp_path):
    path = tmp_path / "nope.png"
    with pytest.raises(FileNotFoundError, match="nope.png"):
        load_image(path)


def test_non_image_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello, not a picture")
    with pytest.raises(ValueError, match=r"notes\.txt.*not an image"):
        load_image(path)


def test_truncated_file(tmp_path):
    path = tmp_path / "cut.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match=r"cut\.png.*truncated or damaged.*Pillow says"):
        load_image(path)
    with Image.open(path) as opened:  # a PIL image whose pixels cannot be decoded
        with pytest.raises(ValueError, match=r"cut\.png.*truncated or damaged"):
            load_image(opened)


def test_content_counts_not_the_name(tmp_path):
    """A real PNG saved under a .jpg name loads as the PNG it is."""
    path = tmp_path / "really_a_png.jpg"
    Image.new("RGB", (5, 4), (255, 0, 0)).save(path, format="PNG")
    image = load_image(path)
    assert tuple(image.shape) == (3, 4, 5) and float(image[0].min()) == 1.0


# --------------------------------------------------------------------------- bomb guard
def test_bomb_guard_small_limit(tmp_path):
    path = tmp_path / "normal.png"
    Image.new("RGB", (20, 10)).save(path)
    with pytest.raises(ValueError, match=r"normal\.png.*20x10 = 200 pixels.*limit of 100 pixels.*max_pixels"):
        load_image(path, max_pixels=100)
    assert tuple(load_image(path, max_pixels=200).shape) == (3, 10, 20)
    with pytest.raises(ValueError, match="limit of 100"):
        load_image(Image.open(path), max_pixels=100)


def test_bomb_guard_default_limit_header_only(tmp_path):
    path = _header_only_png(tmp_path / "bomb.png", 10_000, 10_000)  # 1e8 px: Pillow would warn
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match=r"bomb\.png.*100,000,000 pixels.*50,000,000.*max_pixels"):
            load_image(path)
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]
    assert MAX_PIXELS == 50_000_000


def test_pillow_bomb_error_is_rewritten(tmp_path):
    path = _header_only_png(tmp_path / "huge.png", 20_000, 20_000)  # beyond Pillow's hard limit
    with pytest.raises(ValueError, match=r"huge\.png.*400,000,000 pixels.*max_pixels") as info:
        load_image(path)
    assert "DOS" not in str(info.value)
    with pytest.raises(ValueError, match=r"PIL\.Image\.MAX_IMAGE_PIXELS"):
        load_image(path, max_pixels=10**9)
    assert Image.MAX_IMAGE_PIXELS == 89_478_485  # global left untouched


def test_bad_max_pixels():
    with pytest.raises(ValueError, match="max_pixels must be a positive int"):
        load_image(np.zeros((2, 2)), max_pixels=0)


# --------------------------------------------------------------------------- arrays
def test_numpy_uint8_and_float_agree():
    rng = np.random.default_rng(1)
    u8 = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    a = load_image(u8)
    b = load_image(u8 / 255.0)
    c = load_image((u8 / 255.0).astype(np.float32))
    _check_image(a)
    assert tuple(a.shape) == (3, 5, 7)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-7)
    torch.testing.assert_close(a, c, rtol=0, atol=1e-7)
    torch.testing.assert_close(a[:, 2, 3], torch.from_numpy(u8[2, 3] / 255.0).float())


def test_numpy_other_layouts():
    grey = np.array([[0, 255]], np.uint8)
    for arr in (grey, grey[..., None]):
        x = load_image(arr)
        torch.testing.assert_close(x[:, 0], torch.tensor([[0.0, 1.0]] * 3))
    torch.testing.assert_close(load_image(np.array([[65535]], np.uint16)), torch.ones(3, 1, 1))
    torch.testing.assert_close(load_image(np.array([[True]])), torch.ones(3, 1, 1))
    rgba = np.array([[[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]])
    torch.testing.assert_close(load_image(rgba)[:, 0], torch.tensor([[1.0, 0.0]] * 3))


def test_result_does_not_share_memory():
    arr = np.full((2, 2, 3), 0.5, np.float32)
    x = load_image(arr)
    arr[:] = 0.0
    assert x.min().item() == 0.5
    t = torch.full((3, 2, 2), 0.5)
    y = load_image(t)
    t.zero_()
    assert y.min().item() == 0.5


@pytest.mark.parametrize(
    "arr, match",
    [
        (np.zeros((2, 3, 5)), r"shape \(2, 3, 5\).*\(H, W\), \(H, W, 1\), \(H, W, 3\) or \(H, W, 4\)"),
        (np.zeros((3, 8, 8)), r"shape \(3, 8, 8\).*channels-first"),
        (np.zeros(5), r"shape \(5,\).*accepted shapes"),
        (np.zeros((1, 4, 4, 3)), r"shape \(1, 4, 4, 3\).*one at a time"),
        (np.zeros((4, 4), np.int64), r"dtype int64.*uint8 \(0\.\.255\)"),
        (np.zeros((4, 4), np.complex64), r"dtype complex64.*accepted dtypes"),
        (np.full((4, 4), 255.0), r"float values in \[255, 255\].*floats in \[0, 1\] or uint8 0\.\.255"),
        (np.full((4, 4), -0.5), r"float values in \[-0\.5, -0\.5\].*floats in \[0, 1\]"),
        (np.array([[0.5, np.nan]]), r"NaN or infinite.*floats in \[0, 1\]"),
        (np.array([[0.5, np.inf]]), r"NaN or infinite"),
        (np.zeros((0, 4)), r"no pixels"),
    ],
)
def test_bad_arrays(arr, match):
    with pytest.raises(ValueError, match=match):
        load_image(arr)


# --------------------------------------------------------------------------- tensors
def test_tensor_inputs():
    t = torch.rand(3, 4, 5, requires_grad=True)
    x = load_image(t)
    assert not x.requires_grad
    torch.testing.assert_close(x, t.detach())
    g = load_image(torch.rand(1, 4, 5))
    assert tuple(g.shape) == (3, 4, 5) and torch.equal(g[0], g[2])
    assert tuple(load_image(torch.rand(4, 5)).shape) == (3, 4, 5)
    u8 = torch.tensor([[[0, 255]]], dtype=torch.uint8)
    torch.testing.assert_close(load_image(u8)[:, 0], torch.tensor([[0.0, 1.0]] * 3))
    torch.testing.assert_close(load_image(t.detach().double()), t.detach())


@pytest.mark.parametrize(
    "tensor, match",
    [
        (torch.rand(2, 3, 8, 8), r"4 dimensions \(2, 3, 8, 8\).*one at a time.*Preprocessing"),
        (torch.rand(8, 9, 3), r"shape \(8, 9, 3\).*channels first.*Channels-last.*permute"),
        (torch.rand(5, 8, 9), r"shape \(5, 8, 9\).*\(3, H, W\), \(1, H, W\) or \(H, W\)"),
        (torch.rand(4, 8, 9), r"shape \(4, 8, 9\).*RGBA"),
        (torch.rand(8), r"shape \(8,\).*accepted shapes"),
        (torch.full((3, 2, 2), 2.0), r"float values in \[2, 2\].*floats in \[0, 1\] or uint8 0\.\.255"),
        (torch.tensor([[float("nan")]]), r"NaN or infinite"),
        (torch.zeros(3, 2, 2, dtype=torch.int64), r"dtype torch\.int64.*uint8"),
    ],
)
def test_bad_tensors(tensor, match):
    with pytest.raises(ValueError, match=match):
        load_image(tensor)


@pytest.mark.parametrize("value, name", [(42, "int"), (b"\x89PNG", "bytes"), ([1, 2], "list"), (None, "NoneType")])
def test_bad_types(value, name):
    with pytest.raises(TypeError, match=rf"{name}.*file path \(str or os\.PathLike\), a PIL\.Image\.Image"):
        load_image(value)


# --------------------------------------------------------------------------- display
def test_to_numpy_image():
    x = torch.rand(3, 4, 5)
    x[0, 0, 0] = 1.5
    x[1, 0, 0] = -0.5
    for inp in (x, x[None], x.clone().requires_grad_()):
        a = to_numpy_image(inp)
        assert isinstance(a, np.ndarray) and a.dtype == np.float32 and a.shape == (4, 5, 3)
        assert a.min() >= 0 and a.max() <= 1
        assert a[0, 0, 0] == 1.0 and a[0, 0, 1] == 0.0
        np.testing.assert_array_equal(a[1, 2], x[:, 1, 2].numpy())
    with pytest.raises(ValueError, match=r"got \(2, 3, 4, 5\).*batch\[i\]"):
        to_numpy_image(torch.rand(2, 3, 4, 5))
    with pytest.raises(TypeError, match="ndarray"):
        to_numpy_image(np.zeros((4, 5, 3)))


# --------------------------------------------------------------------------- preprocessing
def test_preprocessing_non_square():
    batch = IMAGENET(sample_image("chelsea"))  # 451 x 300
    assert tuple(batch.shape) == (1, 3, 224, 224)
    assert batch.dtype == torch.float32
    # normalised: at least some values outside [0, 1]
    assert batch.min() < 0
    back = IMAGENET.deprocess(batch)
    assert back.min() >= 0 and back.max() <= 1


def test_preprocessing_small_image_is_upsampled():
    small = np.random.default_rng(2).random((10, 20, 3))
    batch = IMAGENET(small)
    assert tuple(batch.shape) == (1, 3, 224, 224)
    back = IMAGENET.deprocess(batch)
    assert back.std() > 0.05  # real content, not zero padding


def test_preprocessing_centre_crop_content():
    # left half black, right half white, 600 x 300: after resize to 512x256 and crop 256 we see both
    arr = np.zeros((300, 600), np.uint8)
    arr[:, 300:] = 255
    pre = Preprocessing(resize=256, crop=256, mean=(0, 0, 0), std=(1, 1, 1))
    out = pre(arr)[0]
    assert out[:, :, :100].max() < 1e-6 and out[:, :, -100:].min() > 1 - 1e-6


@pytest.mark.parametrize("shape", [(3, 300, 600), (3, 600, 300), (3, 225, 224), (3, 333, 500),
                                   (3, 37, 100)])
def test_preprocessing_matches_torchvisions_evaluation_transform(shape):
    """Our torch-only resize and centre crop give torchvision's Resize + CenterCrop exactly."""
    import torchvision.transforms.v2 as T

    image = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    for resize, crop in ((256, 224), (40, 31)):
        ours = Preprocessing(resize=resize, crop=crop, mean=(0, 0, 0), std=(1, 1, 1))(image)[0]
        theirs = T.Compose([T.Resize(resize, antialias=True), T.CenterCrop(crop)])(image)
        torch.testing.assert_close(ours, theirs.clamp(0, 1), atol=0, rtol=0)


def test_preprocessing_list_gives_batch(tmp_path):
    path = tmp_path / "a.png"
    Image.new("RGB", (50, 80), (255, 0, 0)).save(path)
    batch = IMAGENET([sample_image("coffee"), str(path), np.zeros((30, 40), np.uint8)])
    assert tuple(batch.shape) == (3, 3, 224, 224)
    back = IMAGENET.deprocess(batch)
    torch.testing.assert_close(back[1, :, 100, 100], torch.tensor([1.0, 0.0, 0.0]), atol=1e-5, rtol=0)
    torch.testing.assert_close(back[2], torch.zeros(3, 224, 224), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="empty"):
        IMAGENET([])


def test_preprocessing_4d_batch():
    batch01 = torch.rand(2, 3, 40, 60)
    out = IMAGENET(batch01)
    assert tuple(out.shape) == (2, 3, 224, 224)
    one = IMAGENET(batch01[1])
    torch.testing.assert_close(out[1:], one)
    with pytest.raises(ValueError, match=r"batch tensor item 0.*float values"):
        IMAGENET(batch01 * 255)


def test_deprocess_inverts_normalise():
    x = torch.rand(2, 3, 16, 16)
    y = IMAGENET.normalise(x)
    expected = (x - torch.tensor(IMAGENET_MEAN).view(3, 1, 1)) / torch.tensor(IMAGENET_STD).view(3, 1, 1)
    torch.testing.assert_close(y, expected)
    assert (IMAGENET.deprocess(y) - x).abs().max().item() <= 1e-6
    assert (IMAGENET.deprocess(y[0]) - x[0]).abs().max().item() <= 1e-6


def test_normalise_keeps_grad_and_deprocess_detaches():
    x = torch.rand(1, 3, 8, 8, requires_grad=True)
    y = IMAGENET.normalise(x)
    assert y.requires_grad
    y.sum().backward()
    torch.testing.assert_close(x.grad[0, :, 0, 0], 1 / torch.tensor(IMAGENET_STD))
    d = IMAGENET.deprocess(y)
    assert not d.requires_grad and d.device.type == "cpu"
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\).*got \(1, 4, 8, 8\)"):
        IMAGENET.normalise(torch.rand(1, 4, 8, 8))


def test_preprocessing_validation():
    with pytest.raises(ValueError, match=r"crop \(300\).*resize \(256\)"):
        Preprocessing(256, 300, IMAGENET_MEAN, IMAGENET_STD)
    with pytest.raises(ValueError, match="std values must be positive"):
        Preprocessing(256, 224, IMAGENET_MEAN, (0.2, 0.0, 0.2))
    with pytest.raises(ValueError, match="mean must be three"):
        Preprocessing(256, 224, (0.5, 0.5), IMAGENET_STD)
    p = Preprocessing(256, 224, [0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
    assert p.mean == (0.5, 0.5, 0.5) and hash(p) == hash(Preprocessing(256, 224, (0.5,) * 3, (0.5,) * 3))


def test_deterministic():
    a = IMAGENET(sample_image("rocket"))
    b = IMAGENET(sample_image("rocket"))
    assert torch.equal(a, b)

"""The two models: one layer naming, shapes, the ImageNet path up to the download, checksums."""

import json
import shutil
import socket
import urllib.error

import pytest
import torch

from lecturekit import models
from lecturekit.models import ALEXNET_LAYERS, load_model

# Activation shapes of torchvision AlexNet at 224 px (Krizhevsky's geometry, one weird trick).
ALEXNET_SHAPES = {
    "conv1": (64, 55, 55), "relu1": (64, 55, 55), "pool1": (64, 27, 27),
    "conv2": (192, 27, 27), "relu2": (192, 27, 27), "pool2": (192, 13, 13),
    "conv3": (384, 13, 13), "relu3": (384, 13, 13), "conv4": (256, 13, 13),
    "relu4": (256, 13, 13), "conv5": (256, 13, 13), "relu5": (256, 13, 13),
    "pool5": (256, 6, 6), "fc6": (4096,), "relu6": (4096,), "fc7": (4096,), "relu7": (4096,),
    "fc8": (1000,),
}


@pytest.fixture(scope="module")
def random_alexnet():
    return load_model("alexnet", random_weights=True, device="cpu")


def test_alexnet_layer_names_and_shapes(random_alexnet):
    x = torch.randn(2, 3, 224, 224)
    acts = random_alexnet.activations(x, ALEXNET_LAYERS)
    assert tuple(acts) == ALEXNET_LAYERS
    assert {name: tuple(a.shape[1:]) for name, a in acts.items()} == ALEXNET_SHAPES


def test_layered_alexnet_equals_torchvision(random_alexnet):
    """Renaming the layers must not change the function: same logits as torchvision's."""
    from torchvision.models import alexnet
    torch.manual_seed(0)
    reference = alexnet(weights=None).eval()
    x = torch.randn(2, 3, 224, 224)
    assert torch.allclose(random_alexnet(x), reference(x), atol=1e-5)
    assert random_alexnet.classes[:2] == ["tench", "goldfish"] and len(random_alexnet.classes) == 1000


def test_model_is_frozen_eval_and_has_no_inplace_relu(random_alexnet, toy_model):
    for model in (random_alexnet, toy_model):
        assert not model.training
        assert all(not p.requires_grad for p in model.parameters())
        relus = [m for m in model.modules() if isinstance(m, torch.nn.ReLU)]
        assert len(relus) == 7 and not any(m.inplace for m in relus)


def test_forward_to_stops_at_the_layer(random_alexnet, monkeypatch):
    called = []
    for name in ALEXNET_LAYERS:
        random_alexnet.layers[name].register_forward_hook(lambda m, i, o, n=name: called.append(n))
    try:
        out = random_alexnet.forward_to(torch.randn(1, 3, 224, 224), "conv3")
    finally:
        for name in ALEXNET_LAYERS:
            random_alexnet.layers[name]._forward_hooks.clear()
    assert called == list(ALEXNET_LAYERS[:ALEXNET_LAYERS.index("conv3") + 1])
    assert out.shape == (1, 384, 13, 13)


def test_activations_match_forward_to(toy_model):
    x = torch.randn(3, 3, 128, 128)
    acts = toy_model.activations(x, ["fc6", "conv2"])
    assert list(acts) == ["fc6", "conv2"]
    assert torch.equal(acts["conv2"], toy_model.forward_to(x, "conv2"))
    assert torch.equal(acts["fc6"], toy_model.forward_to(x, "fc6"))


def test_toy_model_layers(toy_model):
    assert toy_model.layer_names == ALEXNET_LAYERS
    acts = toy_model.activations(torch.randn(1, 3, 128, 128), ALEXNET_LAYERS)
    assert acts["fc8"].shape == (1, len(toy_model.classes))
    assert acts["pool5"].ndim == 4 and acts["fc6"].ndim == 2
    params = sum(p.numel() for p in toy_model.parameters())
    assert params < 2_500_000  # small enough for a 10 MB file


def test_unknown_names_are_explained(toy_model):
    with pytest.raises(ValueError, match="unknown model name 'vgg'.*alexnet.*toy"):
        load_model("vgg")
    with pytest.raises(ValueError, match="unknown layer 'conv6'.*conv1, relu1.*fc8"):
        toy_model.forward_to(torch.randn(1, 3, 128, 128), "conv6")
    with pytest.raises(ValueError, match="unknown layer 'norm1'"):
        toy_model.activations(torch.randn(1, 3, 128, 128), ["conv1", "norm1"])


@pytest.mark.parametrize("bad, message", [
    (torch.randn(3, 128, 128), r"shape \(N, 3, H, W\), got \(3, 128, 128\)"),
    (torch.randn(1, 1, 128, 128), r"got \(1, 1, 128, 128\)"),
    (torch.zeros(1, 3, 128, 128, dtype=torch.uint8), "float batch.*torch.uint8"),
    (torch.randn(1, 3, 32, 32), "at least 63 x 63"),
])
def test_bad_batches_are_explained(toy_model, bad, message):
    with pytest.raises(ValueError, match=message):
        toy_model(bad)


def test_bad_batch_type(toy_model):
    with pytest.raises(TypeError, match="torch.Tensor.*ndarray"):
        import numpy as np
        toy_model(np.zeros((1, 3, 128, 128), dtype=np.float32))


# --- the ImageNet path up to the download -------------------------------------

@pytest.fixture
def empty_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


@pytest.fixture
def offline(monkeypatch):
    """Make every download fail the way it does without a network."""
    def refuse(url, *args, **kwargs):
        raise urllib.error.URLError("no network in this test")
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)


def test_weights_path_is_in_torch_home(empty_torch_home):
    path = models.imagenet_weights_path()
    assert path == empty_torch_home / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
    assert not models.imagenet_weights_cached()


def test_alexnet_without_network_raises_naming_fetch_weights(empty_torch_home, offline):
    with pytest.raises(models.WeightsUnavailableError, match="fetch-weights"):
        load_model("alexnet")


def test_alexnet_random_needs_no_download_and_can_come_from_the_environment(
        empty_torch_home, offline, monkeypatch, capsys):
    monkeypatch.setenv(models.ENV_VARIABLE, "alexnet-random")
    model = load_model(device="cpu", seed=3)
    assert model.name == "alexnet-random" and "random weights (seed 3)" in model.description
    assert "alexnet-random" in capsys.readouterr().out
    same = load_model("alexnet", random_weights=True, seed=3, device="cpu")
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), same.parameters()))


def test_auto_falls_back_to_efficientnet_and_says_why(empty_torch_home, offline, capsys):
    model = load_model("auto", device="cpu")
    assert model.name == "efficientnet-lite0" and model.dataset == "imagenet"
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("lecturekit:")]
    assert len(lines) == 1
    line = lines[0]
    assert "efficientnet-lite0" in line and "fetch-weights" in line and "texts describe" in line


@pytest.fixture
def no_network(monkeypatch):
    """Every connection fails, as on a machine without a network; records what was tried."""
    tried = []

    def refuse(sock, address, *args, **kwargs):
        tried.append(address)
        raise OSError("no network in this test")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return tried


def test_auto_never_downloads_and_prints_one_line(empty_torch_home, no_network, monkeypatch,
                                                   capfd):
    downloads = []
    monkeypatch.setattr(torch.hub, "download_url_to_file",
                        lambda url, *args, **kwargs: downloads.append(url))
    monkeypatch.delenv("LECTUREKIT_MODEL", raising=False)  # scripts/test.sh sets it
    model = load_model(device="cpu")  # no name, no LECTUREKIT_MODEL: "auto"
    out, err = capfd.readouterr()
    assert model.name == "efficientnet-lite0"
    assert downloads == [] and no_network == []
    assert "Downloading" not in out + err and "download.pytorch.org" not in out + err
    assert out.count("\n") == 1 and out.startswith("lecturekit: using the efficientnet-lite0")
    assert "LECTUREKIT_MODEL" not in out  # the reader set no variable
    assert not empty_torch_home.exists() or not any(empty_torch_home.rglob("*.pth"))


def test_asking_for_alexnet_by_name_still_downloads(empty_torch_home, monkeypatch):
    downloads = []

    def fake_download(url, destination, *args, **kwargs):
        downloads.append(url)
        raise urllib.error.URLError("stopped by the test after the download began")
    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    with pytest.raises(models.WeightsUnavailableError, match="fetch-weights"):
        load_model("alexnet")
    assert downloads == [models.imagenet_weights_url()]


def test_alexnet_loads_a_cached_file(empty_torch_home, offline, capsys):
    """A file in torch's cache is used without any download (here: random weights)."""
    torch.manual_seed(1)
    from torchvision.models import alexnet
    reference = alexnet(weights=None).eval()
    path = models.imagenet_weights_path()
    path.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), path)
    model = load_model("auto", device="cpu")
    assert model.name == "alexnet" and "in torch's cache" in capsys.readouterr().out
    x = torch.randn(1, 3, 224, 224)
    assert torch.allclose(model(x), reference(x), atol=1e-5)


# --- the bundled toy weights ---------------------------------------------------

def test_toy_weights_are_small_and_checksummed():
    meta = json.loads(models.metadata_path(models.TOY_WEIGHTS).read_text())
    assert models.TOY_WEIGHTS.stat().st_size <= 10 * 1024 * 1024
    assert models.sha256_of(models.TOY_WEIGHTS) == meta["sha256"]


def test_damaged_toy_weights_are_refused(tmp_path):
    copy = tmp_path / "toy.pt"
    shutil.copy(models.TOY_WEIGHTS, copy)
    shutil.copy(models.metadata_path(models.TOY_WEIGHTS), models.metadata_path(copy))
    load_model("toy", toy_weights=copy, device="cpu")  # an intact copy loads
    data = bytearray(copy.read_bytes())
    data[-10] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(models.WeightsChecksumError, match=r"toy\.pt has SHA-256 .* expects"):
        load_model("toy", toy_weights=copy)


def test_missing_toy_weights_say_how_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-toy"):
        load_model("toy", toy_weights=tmp_path / "nothing.pt")


def test_unavailable_device_is_explained():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="device 'cuda' is not available here; available: cpu"):
        load_model("toy", device="cuda")

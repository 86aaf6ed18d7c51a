"""The two networks of the kit under one layer naming.

The lecture (FAU Deep Learning, "Visualization & Attention, Part 4") works on
AlexNet. The kit offers two AlexNets with the same eighteen named layers::

    conv1 relu1 pool1 conv2 relu2 pool2 conv3 relu3 conv4 relu4
    conv5 relu5 pool5 fc6 relu6 fc7 relu7 fc8

* ``"alexnet"``: torchvision's AlexNet with its ImageNet weights
  (``AlexNet_Weights.IMAGENET1K_V1``). It is the "one weird trick" variant of
  Krizhevsky's network: 64/192/384/256/256 channels and *no* local response
  normalisation layers, so there is no ``norm1``/``norm2`` (Mahendran & Vedaldi
  invert CaffeNet, which has them: their numbers do not transfer exactly).
* ``"toy"``: a small AlexNet with the same layer sequence, trained by the kit on
  its own procedurally generated scenes (:mod:`lecturekit.scenes`), shipped as
  a small weights file with its SHA-256. It needs no download.
* ``"auto"``: the ImageNet AlexNet when its weights are cached or can be
  downloaded, else the toy model; one printed line says which and why.

Both come in eval mode with frozen weights and out-of-place ReLUs, so hooks and
the backward rules of the later notebooks can never corrupt a stored activation.
Dropout is left out: it is the identity in eval mode.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from lecturekit.devices import resolve_device
from lecturekit.images import IMAGENET_MEAN, IMAGENET_STD, Preprocessing

LAYER_NAMES: tuple[str, ...] = (
    "conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "conv3", "relu3",
    "conv4", "relu4", "conv5", "relu5", "pool5", "fc6", "relu6", "fc7", "relu7", "fc8",
)
MODEL_NAMES: tuple[str, ...] = ("auto", "alexnet", "alexnet-random", "toy")
ENV_VARIABLE = "LECTUREKIT_MODEL"

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
TOY_WEIGHTS = WEIGHTS_DIR / "toy_alexnet.pt"

# Index of each named layer inside torchvision's ``features`` / ``classifier``
# (the classifier's dropouts at 0 and 3 are skipped).
_TORCHVISION_INDEX = {
    "conv1": ("features", 0), "relu1": ("features", 1), "pool1": ("features", 2),
    "conv2": ("features", 3), "relu2": ("features", 4), "pool2": ("features", 5),
    "conv3": ("features", 6), "relu3": ("features", 7), "conv4": ("features", 8),
    "relu4": ("features", 9), "conv5": ("features", 10), "relu5": ("features", 11),
    "pool5": ("features", 12), "fc6": ("classifier", 1), "relu6": ("classifier", 2),
    "fc7": ("classifier", 4), "relu7": ("classifier", 5), "fc8": ("classifier", 6),
}


class WeightsUnavailableError(RuntimeError):
    """The ImageNet weights are neither cached nor downloadable."""


class WeightsChecksumError(RuntimeError):
    """A weights file does not have the SHA-256 it should have."""


class LayeredAlexNet(nn.Module):
    """An AlexNet seen as one ordered sequence of named layers.

    ``model(x)`` gives the class scores (logits); ``model(x, until="conv3")``
    stops after ``conv3`` and computes nothing beyond it. Between ``pool5`` and
    ``fc6`` the maps are average-pooled to the size ``fc6`` expects (identity at
    the model's own input size) and flattened.
    """

    def __init__(self, layers: OrderedDict[str, nn.Module], *, pool_size: int,
                 classes: list[str], preprocess: Preprocessing, name: str,
                 description: str) -> None:
        super().__init__()
        if tuple(layers) != LAYER_NAMES:
            raise ValueError(f"layers must be named {LAYER_NAMES}, got {tuple(layers)}")
        self.layers = nn.ModuleDict(layers)
        self.avgpool = nn.AdaptiveAvgPool2d(pool_size)
        self.classes = list(classes)
        self.preprocess = preprocess
        self.name = name
        self.description = description
        self.reason = ""

    @property
    def layer_names(self) -> tuple[str, ...]:
        """The eighteen layer names, input to output."""
        return LAYER_NAMES

    @property
    def input_size(self) -> int:
        """Side length in pixels of the images the model was trained on."""
        return self.preprocess.crop

    @property
    def device(self) -> torch.device:
        """Where the model's weights live."""
        return next(self.parameters()).device

    def check_layer(self, layer: str) -> str:
        """Return ``layer`` if it is a layer name, else raise a ValueError listing them."""
        if layer not in self.layers:
            raise ValueError(f"unknown layer {layer!r}; valid layer names are: "
                             f"{', '.join(LAYER_NAMES)}")
        return layer

    def class_index(self, name: str) -> int:
        """Index of the class called ``name`` (for ImageNet, e.g. "dumbbell")."""
        if name in self.classes:
            return self.classes.index(name)
        close = [c for c in self.classes if name.lower() in c.lower()][:8]
        hint = f"; similar: {', '.join(close)}" if close else ""
        raise ValueError(f"model {self.name!r} has no class {name!r}{hint} "
                         f"({len(self.classes)} classes, e.g. {', '.join(self.classes[:4])})")

    def check_batch(self, x: torch.Tensor) -> None:
        """Raise a clear error unless ``x`` is a float batch of shape (N, 3, H, W)."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"model {self.name!r} expects a torch.Tensor batch of shape "
                            f"(N, 3, H, W), got {type(x).__name__}; use model.preprocess(image)")
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"model {self.name!r} expects a batch of shape (N, 3, H, W), got "
                             f"{tuple(x.shape)}; use model.preprocess(image) to make one")
        if not x.is_floating_point():
            raise ValueError(f"model {self.name!r} expects a float batch (normalised by "
                             f"model.preprocess), got dtype {x.dtype}")
        if min(x.shape[-2:]) < 63:
            raise ValueError(f"model {self.name!r} needs images of at least 63 x 63 pixels, got "
                             f"{tuple(x.shape[-2:])}; its own size is {self.input_size}")

    def forward(self, x: torch.Tensor, until: str | None = None) -> torch.Tensor:
        """Run the layers in order, stopping after ``until`` (default: ``fc8``)."""
        self.check_batch(x)
        stop = self.check_layer(until) if until is not None else LAYER_NAMES[-1]
        for name in LAYER_NAMES:
            x = self.apply_layer(name, x)
            if name == stop:
                break
        return x

    def apply_layer(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """One named layer on the previous layer's output (before ``fc6`` the maps are
        average-pooled to ``fc6``'s input size and flattened)."""
        if name == "fc6":
            x = torch.flatten(self.avgpool(x), 1)
        return self.layers[name](x)

    def forward_to(self, x: torch.Tensor, layer: str) -> torch.Tensor:
        """The activation of ``layer`` for batch ``x``; nothing after it is computed."""
        return self(x, until=layer)

    def activations(self, x: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        """Activations of several named layers in one forward pass to the deepest of them."""
        wanted = [self.check_layer(name) for name in layers]
        if not wanted:
            raise ValueError("layers is empty; name at least one of: " + ", ".join(LAYER_NAMES))
        deepest = max(wanted, key=LAYER_NAMES.index)
        self.check_batch(x)
        found: dict[str, torch.Tensor] = {}
        for name in LAYER_NAMES:
            x = self.apply_layer(name, x)
            if name in wanted:
                found[name] = x
            if name == deepest:
                break
        return {name: found[name] for name in wanted}

    def deprocess(self, batch: torch.Tensor) -> torch.Tensor:
        """Undo the normalisation of ``model.preprocess``: back to [0, 1] for display."""
        return self.preprocess.deprocess(batch)


@dataclass(frozen=True)
class Prediction:
    """One class with its softmax probability."""
    label: int
    name: str
    probability: float


@torch.no_grad()
def top_predictions(model: LayeredAlexNet, batch: torch.Tensor, k: int = 5) -> list[list[Prediction]]:
    """The ``k`` most probable classes of every image in ``batch``."""
    if not 1 <= k <= len(model.classes):
        raise ValueError(f"k must be between 1 and {len(model.classes)}, got {k}")
    probs = torch.softmax(model(batch.to(model.device)), dim=1)
    values, indices = probs.topk(k, dim=1)
    return [[Prediction(int(i), model.classes[int(i)], float(p)) for p, i in zip(row_p, row_i)]
            for row_p, row_i in zip(values, indices)]


def _freeze(model: LayeredAlexNet) -> LayeredAlexNet:
    model.eval()
    model.requires_grad_(False)
    return model


def _from_torchvision(net: nn.Module) -> OrderedDict[str, nn.Module]:
    """Name torchvision AlexNet's layers; in-place ReLUs become out-of-place ones."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for name in LAYER_NAMES:
        block, index = _TORCHVISION_INDEX[name]
        module = getattr(net, block)[index]
        layers[name] = nn.ReLU() if isinstance(module, nn.ReLU) else module
    return layers


# --- ImageNet AlexNet -------------------------------------------------------

def _imagenet_weights():
    from torchvision.models import AlexNet_Weights
    return AlexNet_Weights.IMAGENET1K_V1


def imagenet_weights_path() -> Path:
    """Where torchvision caches the ImageNet AlexNet weights ($TORCH_HOME/hub/checkpoints)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(_imagenet_weights().url).name


def imagenet_weights_cached() -> bool:
    """True when the ImageNet AlexNet weights file is in torch's cache."""
    return imagenet_weights_path().is_file()


def fetch_imagenet_weights(progress: bool = True) -> Path:
    """Download the ImageNet AlexNet weights into torch's cache (hash-checked); return the path.

    Does nothing but return the path when the file is already cached.
    """
    weights = _imagenet_weights()
    try:
        torch.hub.load_state_dict_from_url(weights.url, progress=progress, check_hash=True)
    except (urllib.error.URLError, OSError, RuntimeError) as error:
        raise WeightsUnavailableError(
            f"ImageNet AlexNet weights are not cached at {imagenet_weights_path()} and could "
            f"not be downloaded ({error}); run `python -m lecturekit fetch-weights` while "
            f"online, or use load_model('toy')") from error
    return imagenet_weights_path()


def _alexnet(random_weights: bool, seed: int) -> LayeredAlexNet:
    from torchvision.models import alexnet
    weights = _imagenet_weights()
    if random_weights:
        torch.manual_seed(seed)
        net = alexnet(weights=None)
        description = f"torchvision AlexNet with random weights (seed {seed})"
    else:
        fetch_imagenet_weights()
        net = alexnet(weights=None)
        net.load_state_dict(torch.load(imagenet_weights_path(), map_location="cpu",
                                       weights_only=True))
        description = "torchvision AlexNet, ImageNet weights (IMAGENET1K_V1)"
    preprocess = Preprocessing(resize=256, crop=224, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    return LayeredAlexNet(_from_torchvision(net), pool_size=6,
                          classes=list(weights.meta["categories"]), preprocess=preprocess,
                          name="alexnet", description=description)


# --- The bundled toy model --------------------------------------------------

def toy_architecture(channels: tuple[int, int, int, int, int], hidden: int, classes: list[str],
                     size: int) -> LayeredAlexNet:
    """An untrained AlexNet with AlexNet's kernel sizes and strides but fewer channels."""
    c1, c2, c3, c4, c5 = channels
    convs = {"conv1": nn.Conv2d(3, c1, 11, stride=4, padding=2),
             "conv2": nn.Conv2d(c1, c2, 5, padding=2),
             "conv3": nn.Conv2d(c2, c3, 3, padding=1),
             "conv4": nn.Conv2d(c3, c4, 3, padding=1),
             "conv5": nn.Conv2d(c4, c5, 3, padding=1)}
    pool_side = size
    for kernel, stride, pad in [(11, 4, 2), (3, 2, 0), (5, 1, 2), (3, 2, 0), (3, 2, 0)]:
        pool_side = (pool_side + 2 * pad - kernel) // stride + 1
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for name in LAYER_NAMES:
        if name.startswith("conv"):
            layers[name] = convs[name]
        elif name.startswith("relu"):
            layers[name] = nn.ReLU()
        elif name.startswith("pool"):
            layers[name] = nn.MaxPool2d(3, stride=2)
    layers["fc6"] = nn.Linear(c5 * pool_side * pool_side, hidden)
    layers["fc7"] = nn.Linear(hidden, hidden)
    layers["fc8"] = nn.Linear(hidden, len(classes))
    layers = OrderedDict((name, layers[name]) for name in LAYER_NAMES)
    preprocess = Preprocessing(resize=size, crop=size, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    return LayeredAlexNet(layers, pool_size=pool_side, classes=classes, preprocess=preprocess,
                          name="toy", description="the kit's toy AlexNet trained on its scenes")


def sha256_of(path: Path) -> str:
    """SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def metadata_path(weights: Path) -> Path:
    """The JSON file beside a toy weights file: architecture, classes, SHA-256."""
    return weights.with_suffix(".json")


def _toy(weights: Path | None) -> LayeredAlexNet:
    weights = Path(weights) if weights is not None else TOY_WEIGHTS
    meta_file = metadata_path(weights)
    if not weights.is_file() or not meta_file.is_file():
        raise FileNotFoundError(
            f"toy weights {weights} or their metadata {meta_file} are missing; restore them "
            f"(git checkout -- lecturekit/weights) or retrain: python -m lecturekit train-toy")
    meta = json.loads(meta_file.read_text())
    actual = sha256_of(weights)
    if actual != meta["sha256"]:
        raise WeightsChecksumError(
            f"{weights} has SHA-256 {actual}, but {meta_file.name} expects {meta['sha256']}: "
            f"the file is damaged or was replaced. Restore it (git checkout -- {weights.name}) "
            f"or retrain it with `python -m lecturekit train-toy --out DIR`.")
    model = toy_architecture(tuple(meta["channels"]), meta["hidden"], meta["classes"],
                             meta["size"])
    model.layers.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model


# --- The one entry point ----------------------------------------------------

def load_model(name: str | None = None, *, device: str | torch.device | None = None,
               random_weights: bool = False, seed: int = 0,
               toy_weights: str | Path | None = None, verbose: bool = True) -> LayeredAlexNet:
    """Load one of the kit's networks, frozen and in eval mode.

    ``name`` is ``"alexnet"`` (ImageNet weights through torchvision's cache;
    ``random_weights=True`` gives the architecture only, no download),
    ``"alexnet-random"`` (the same as ``"alexnet"`` with ``random_weights=True``:
    ImageNet AlexNet's size and speed offline, for timing; its pictures mean
    nothing), ``"toy"`` (the bundled offline model; ``toy_weights`` picks another file
    made by ``train-toy``) or ``"auto"`` (ImageNet AlexNet when possible, else
    the toy model, saying which and why). Without ``name``, the environment
    variable ``LECTUREKIT_MODEL`` decides, else ``"auto"``: the notebooks call
    ``load_model()`` so that a teacher or CI can pick the model without editing
    them. ``device`` defaults to CUDA, then MPS, then the CPU.
    """
    chosen_by_env = name is None and ENV_VARIABLE in os.environ
    if name is None:
        name = os.environ.get(ENV_VARIABLE, "auto")
    if name not in MODEL_NAMES:
        source = f" (from {ENV_VARIABLE})" if chosen_by_env else ""
        raise ValueError(f"unknown model name {name!r}{source}; valid names are: "
                         f"{', '.join(MODEL_NAMES)}")
    if name == "auto":
        cached = imagenet_weights_cached()
        try:
            model = _alexnet(False, seed)
            model.reason = (f"ImageNet weights {'found in' if cached else 'downloaded to'} "
                            f"torch's cache at {imagenet_weights_path()}")
        except WeightsUnavailableError:
            model = _toy(toy_weights)
            model.reason = ("ImageNet AlexNet weights are not cached and cannot be downloaded "
                            "here; `python -m lecturekit fetch-weights` gets them when online")
    else:
        model = (_toy(toy_weights) if name == "toy"
                 else _alexnet(random_weights or name == "alexnet-random", seed))
        model.reason = f"chosen by {ENV_VARIABLE}={name}" if chosen_by_env else "asked for by name"
    if verbose and (name == "auto" or chosen_by_env):
        print(f"lecturekit: using the {model.name} model ({model.description}): {model.reason}")
    return _freeze(model).to(resolve_device(device))


@torch.no_grad()
def layer_table(model: LayeredAlexNet) -> str:
    """A text table of the layers: name, kind, activation shape at the model's input size, weights."""
    x = torch.zeros(1, 3, model.input_size, model.input_size, device=model.device)
    acts = model.activations(x, LAYER_NAMES)
    rows = [f"{'layer':<7}{'kind':<11}{'activation shape':<20}{'weights':>10}"]
    for name in LAYER_NAMES:
        module = model.layers[name]
        count = sum(p.numel() for p in module.parameters())
        shape = " x ".join(str(n) for n in acts[name].shape[1:])
        rows.append(f"{name:<7}{type(module).__name__:<11}{shape:<20}{count:>10,}")
    return "\n".join(rows)

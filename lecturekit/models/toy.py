"""The kit's toy AlexNet: AlexNet's geometry, fewer channels, trained on the kit's scenes.

It has the same eighteen layers as AlexNet (:mod:`lecturekit.models.alexnet`) and
is trained by ``python -m lecturekit train-toy`` on the generated scenes of
:mod:`lecturekit.scenes`, whose objects come with ground-truth masks: it is
where the lecture's claims are measured (localisation, sparsity, depth versus
fidelity, anonymisation). It ships as a small weights file whose SHA-256 is
checked at every load.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from lecturekit.images import IMAGENET_MEAN, IMAGENET_STD, Preprocessing
from lecturekit.models.alexnet import ALEXNET_LAYERS, LayeredAlexNet

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
TOY_WEIGHTS = WEIGHTS_DIR / "toy_alexnet.pt"


class WeightsChecksumError(RuntimeError):
    """A weights file does not have the SHA-256 it should have."""


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
    for name in ALEXNET_LAYERS:
        if name.startswith("conv"):
            layers[name] = convs[name]
        elif name.startswith("relu"):
            layers[name] = nn.ReLU()
        elif name.startswith("pool"):
            layers[name] = nn.MaxPool2d(3, stride=2)
    layers["fc6"] = nn.Linear(c5 * pool_side * pool_side, hidden)
    layers["fc7"] = nn.Linear(hidden, hidden)
    layers["fc8"] = nn.Linear(hidden, len(classes))
    layers = OrderedDict((name, layers[name]) for name in ALEXNET_LAYERS)
    preprocess = Preprocessing(resize=size, crop=size, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    return LayeredAlexNet(layers, pool_size=pool_side, classes=classes, preprocess=preprocess,
                          name="toy", dataset="scenes",
                          description="the kit's toy AlexNet trained on its scenes")


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


def load_toy(weights: str | Path | None = None) -> LayeredAlexNet:
    """The toy model from ``weights`` (default: the shipped file), checksum checked."""
    weights = Path(weights) if weights is not None else TOY_WEIGHTS
    meta_file = metadata_path(weights)
    if not weights.is_file() or not meta_file.is_file():
        raise FileNotFoundError(
            f"toy weights {weights} or their metadata {meta_file} are missing; restore them "
            f"(git checkout -- lecturekit/weights) or retrain: python -m lecturekit train-toy")
    try:
        meta = json.loads(meta_file.read_text())
        expected = meta["sha256"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"toy_weights: {meta_file} is not the metadata that train-toy writes "
                         f"(a JSON object with sha256, channels, hidden, classes and size): "
                         f"{error!r}") from None
    actual = sha256_of(weights)
    if actual != expected:
        raise WeightsChecksumError(
            f"{weights} has SHA-256 {actual}, but {meta_file.name} expects {meta['sha256']}: "
            f"the file is damaged or was replaced. Restore it (git checkout -- {weights.name}) "
            f"or retrain it with `python -m lecturekit train-toy --out DIR`.")
    try:
        model = toy_architecture(tuple(meta["channels"]), meta["hidden"], meta["classes"],
                                 meta["size"])
        model.layers.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    except Exception as error:  # torch's unpickler raises many kinds; all mean a broken file
        raise ValueError(f"toy_weights: {weights} cannot be read as toy weights with the "
                         f"architecture in {meta_file.name}: {error}") from error
    return model

"""AlexNet, the lecture's network, as a :class:`~lecturekit.models.network.LayeredNetwork`.

torchvision's AlexNet with its ImageNet weights (``AlexNet_Weights.IMAGENET1K_V1``)
is the "one weird trick" variant of Krizhevsky's network: 64/192/384/256/256
channels and *no* local response normalisation, so there is no ``norm1``/``norm2``
(Mahendran & Vedaldi invert CaffeNet, which has them: their numbers do not
transfer exactly). Its eighteen layers, shared with the kit's toy AlexNet::

    conv1 relu1 pool1 conv2 relu2 pool2 conv3 relu3 conv4 relu4
    conv5 relu5 pool5 fc6 relu6 fc7 relu7 fc8

The weights come through torchvision's cache (``$TORCH_HOME/hub/checkpoints``);
offline, :func:`fetch_imagenet_weights` raises :class:`WeightsUnavailableError`
saying how to get them.
"""

from __future__ import annotations

import urllib.error
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from lecturekit.images import IMAGENET_MEAN, IMAGENET_STD, Preprocessing
from lecturekit.models.network import LayeredNetwork, LectureLayers

ALEXNET_LAYERS: tuple[str, ...] = (
    "conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "conv3", "relu3",
    "conv4", "relu4", "conv5", "relu5", "pool5", "fc6", "relu6", "fc7", "relu7", "fc8",
)

ALEXNET_GROUPS: tuple[tuple[str, ...], ...] = (
    ALEXNET_LAYERS[:ALEXNET_LAYERS.index("pool2")],                                # conv1 .. relu2
    ALEXNET_LAYERS[ALEXNET_LAYERS.index("pool2"):ALEXNET_LAYERS.index("conv5")],   # pool2 .. relu4
    ALEXNET_LAYERS[ALEXNET_LAYERS.index("conv5"):],                                # conv5 .. fc8
)
"""Mahendran & Vedaldi's three layer groups, each with its own prior weight."""

ALEXNET_LECTURE_LAYERS = LectureLayers(early="relu2", deep="conv5", prior_layer="conv4",
                                       last_conv="pool5")
"""The layers the lecture's figures use on the AlexNets (ImageNet and toy)."""

# Index of each named layer inside torchvision's ``features`` / ``classifier``
# (the classifier's dropouts at 0 and 3 are skipped: identities in eval mode).
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


class LayeredAlexNet(LayeredNetwork):
    """An AlexNet: the eighteen layers above. Between ``pool5`` and ``fc6`` the maps are
    average-pooled to the size ``fc6`` expects (identity at the model's own input size)
    and flattened. Deconvnet's reverse network and the top-9 receptive fields need
    this geometry (:mod:`lecturekit.gradient.deconvnet`)."""

    def __init__(self, layers: OrderedDict[str, nn.Module], *, pool_size: int,
                 **kwargs) -> None:
        if tuple(layers) != ALEXNET_LAYERS:
            raise ValueError(f"layers must be named {ALEXNET_LAYERS}, got {tuple(layers)}")
        super().__init__(layers, layer_groups=ALEXNET_GROUPS, min_input_size=63,
                         architecture="alexnet", lecture_layers=ALEXNET_LECTURE_LAYERS, **kwargs)
        self.avgpool = nn.AdaptiveAvgPool2d(pool_size)

    def apply_layer(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """One named layer; before ``fc6`` the maps are average-pooled and flattened."""
        if name == "fc6":
            x = torch.flatten(self.avgpool(x), 1)
        return self.layers[name](x)

    def rectified_layer(self, layer: str) -> str | None:
        """The ReLU whose output ``layer`` matches directly: ``relu_k`` itself, ``relu_k`` for
        the pooling right after it (max-pooling commutes with the ReLU); None otherwise."""
        index = self.depth(layer)
        if layer.startswith("relu"):
            return layer
        if layer.startswith("pool") and self.layer_names[index - 1].startswith("relu"):
            return self.layer_names[index - 1]
        return None


def require_alexnet(model: LayeredNetwork, method: str) -> LayeredAlexNet:
    """``model`` if it has AlexNet's layer geometry, else a ValueError saying that ``method``
    needs it."""
    if not isinstance(model, LayeredAlexNet):
        raise ValueError(f"{method} needs an AlexNet-shaped network (alexnet, alexnet-random "
                         f"or toy), got model {getattr(model, 'name', type(model).__name__)!r}")
    return model


def alexnet_preprocessing() -> Preprocessing:
    """torchvision's ImageNet evaluation transform: shorter side 256, centre crop 224."""
    return Preprocessing(resize=256, crop=224, mean=IMAGENET_MEAN, std=IMAGENET_STD)


def imagenet_classes() -> list[str]:
    """The 1000 ImageNet class names in the order of torchvision's classifiers (offline)."""
    return list(_imagenet_weights().meta["categories"])


def _imagenet_weights():
    from torchvision.models import AlexNet_Weights
    return AlexNet_Weights.IMAGENET1K_V1


def imagenet_weights_url() -> str:
    """Where torchvision downloads the ImageNet AlexNet weights from."""
    return _imagenet_weights().url


def imagenet_weights_path() -> Path:
    """Where torchvision caches the ImageNet AlexNet weights ($TORCH_HOME/hub/checkpoints)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(imagenet_weights_url()).name


def imagenet_weights_cached() -> bool:
    """True when the ImageNet AlexNet weights file is in torch's cache."""
    return imagenet_weights_path().is_file()


def imagenet_weights_megabytes() -> float:
    """The size of the ImageNet AlexNet weights file in MB, as torchvision's metadata gives it."""
    return float(_imagenet_weights().meta["_file_size"])


def fetch_imagenet_weights(progress: bool = True) -> Path:
    """Download the ImageNet AlexNet weights into torch's cache (hash-checked); return the path.

    Does nothing but return the path when the file is already cached.
    """
    try:
        torch.hub.load_state_dict_from_url(imagenet_weights_url(), progress=progress,
                                           check_hash=True)
    except (urllib.error.URLError, OSError, RuntimeError) as error:
        raise WeightsUnavailableError(
            f"ImageNet AlexNet weights are not cached at {imagenet_weights_path()} and could "
            f"not be downloaded ({error}); run `python -m lecturekit fetch-weights` while "
            f"online, or use load_model('efficientnet-lite0') or load_model('toy')") from error
    return imagenet_weights_path()


def _from_torchvision(net: nn.Module) -> OrderedDict[str, nn.Module]:
    """Name torchvision AlexNet's layers; in-place ReLUs become out-of-place ones."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for name in ALEXNET_LAYERS:
        block, index = _TORCHVISION_INDEX[name]
        module = getattr(net, block)[index]
        layers[name] = nn.ReLU() if isinstance(module, nn.ReLU) else module
    return layers


def load_alexnet(random_weights: bool = False, seed: int = 0) -> LayeredAlexNet:
    """torchvision's AlexNet with its ImageNet weights (downloaded once), or with random
    weights drawn from ``seed`` (``random_weights=True``: ImageNet AlexNet's size and
    speed offline, for timing; its pictures mean nothing)."""
    from torchvision.models import alexnet

    if random_weights:
        torch.manual_seed(seed)
        net = alexnet(weights=None)
        name, dataset = "alexnet-random", "none"
        description = f"torchvision AlexNet with random weights (seed {seed})"
    else:
        fetch_imagenet_weights()
        net = alexnet(weights=None)
        net.load_state_dict(torch.load(imagenet_weights_path(), map_location="cpu",
                                       weights_only=True))
        name, dataset = "alexnet", "imagenet"
        description = "torchvision AlexNet, ImageNet weights (IMAGENET1K_V1)"
    return LayeredAlexNet(_from_torchvision(net), pool_size=6, classes=imagenet_classes(),
                          preprocess=alexnet_preprocessing(), name=name, dataset=dataset,
                          description=description)

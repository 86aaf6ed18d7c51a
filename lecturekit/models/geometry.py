"""Where each layer stands: its resolution, stride and receptive field, and the lecture's names.

The lecture speaks of AlexNet's layers ("layer 5", "layers 6 and 7"); the kit also shows
EfficientNet-Lite0, whose layers are named by its building blocks. A name says little
about depth, so the kit places layers by their *role*: how many pixels apart two
neighbouring units are (the stride), how much of the image one unit sees (its
theoretical receptive field: every convolution and pooling window up to the layer), and
whether the layer still has positions at all or is a vector after the pooling.
:func:`lecture_correspondence` puts each layer of a network beside the AlexNet layers
of the same role.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lecturekit.models.network import LayeredNetwork

__all__ = ["LayerGeometry", "layer_geometry", "layer_roles", "lecture_correspondence"]


@dataclass(frozen=True)
class LayerGeometry:
    """One layer at the network's input size: ``resolution`` (side of its maps; 0 for a
    vector), ``stride`` (input pixels between neighbouring units; the input size for a
    vector) and ``receptive_field`` (side of the input a unit can see, clipped to the
    input size)."""
    layer: str
    resolution: int
    stride: int
    receptive_field: int

    @property
    def vector(self) -> bool:
        """Whether the layer has no positions left (fully connected or globally pooled)."""
        return self.resolution == 0


def _pair(value: int | tuple[int, int]) -> int:
    return value[0] if isinstance(value, tuple) else value


def _windows(module: nn.Module) -> list[tuple[int, int, int]]:
    """(kernel, stride, dilation) of every convolution and max-pooling inside ``module``,
    in the order of the forward pass."""
    found = []
    for inner in module.modules():
        if isinstance(inner, (nn.Conv2d, nn.MaxPool2d)):
            found.append((_pair(inner.kernel_size), _pair(inner.stride),
                          _pair(inner.dilation)))
    return found


@torch.no_grad()
def layer_geometry(model: LayeredNetwork) -> list[LayerGeometry]:
    """:class:`LayerGeometry` of every layer of ``model``, input to output. Resolutions come
    from one forward pass at the input size; strides and receptive fields from the windows
    of the convolutions and poolings up to each layer (a window of ``k`` grows the field by
    ``(k - 1)`` times the stride so far, its stride multiplies the stride)."""
    size = model.input_size
    x = torch.zeros(1, 3, size, size, device=model.device)
    shapes = {name: act.shape for name, act in model.activations(x, model.layer_names).items()}
    field, stride, rows = 1, 1, []
    for name in model.layer_names:
        for kernel, step, dilation in _windows(model.layers[name]):
            field += dilation * (kernel - 1) * stride
            stride *= step
        shape = shapes[name]
        if len(shape) == 4:
            rows.append(LayerGeometry(name, shape[-1], stride, min(field, size)))
        else:
            rows.append(LayerGeometry(name, 0, size, size))
    return rows


def lecture_correspondence(model: LayeredNetwork,
                           alexnet: LayeredNetwork) -> dict[str, list[str]]:
    """For each layer of ``model``, the layers of ``alexnet`` (any AlexNet-shaped network,
    e.g. ``load_model("alexnet-random")``: only its shape matters) with the same role:
    spatial layers with the same stride; the network's pooled vector beside AlexNet's
    hidden fully connected layers (fc6, relu6, fc7, relu7); the class scores beside fc8.
    Layers finer than any of AlexNet's get an empty list."""
    theirs = layer_geometry(alexnet)
    found = {}
    for row in layer_geometry(model):
        if row.layer == model.output_layer:
            found[row.layer] = [alexnet.output_layer]
        elif row.vector:
            found[row.layer] = [r.layer for r in theirs
                                if r.vector and r.layer != alexnet.output_layer]
        else:
            found[row.layer] = [r.layer for r in theirs
                                if not r.vector and r.stride == row.stride]
    return found


def layer_roles(model: LayeredNetwork, alexnet: LayeredNetwork) -> str:
    """A table, one row per layer of ``model``: its maps' side, stride and receptive field at
    the input size, and the layers of ``alexnet`` with the same role
    (:func:`lecture_correspondence`)."""
    names = lecture_correspondence(model, alexnet)
    rows = [f"{'layer':<8}{'maps':>6}{'stride':>8}{'field':>7}  AlexNet's layers of that role"]
    for row in layer_geometry(model):
        maps = "vector" if row.vector else f"{row.resolution}"
        rows.append(f"{row.layer:<8}{maps:>6}{row.stride:>8}{row.receptive_field:>7}  "
                    f"{', '.join(names[row.layer]) or '(none: finer than conv1)'}")
    return "\n".join(rows)

"""Zeiler & Fergus' Deconvnet as a real reverse network.

Zeiler & Fergus ("Visualizing and Understanding Convolutional Networks", ECCV
2014, section 2.1) project one feature map back to pixel space with a network
that mirrors the trained one, built from its own weights and trained no further:

* every convolution becomes a transposed convolution with the same filters
  (the bias is left out: it is not part of the reverse path);
* every max-pooling layer becomes *unpooling*: each value goes back to the
  input position that won the max in the forward pass (the "switches");
* every ReLU rectifies the reconstructed signal: ``r_in = max(r_out, 0)``,
  whatever the forward input was (the Deconvnet rule, Springenberg et al. 2015);
* (for this kit's fully connected head) every linear layer multiplies by its
  transposed weight, and the average pooling + flattening between ``pool5`` and
  ``fc6`` is replaced by its adjoint.

Nothing here uses autograd or hooks: :func:`record_forward` runs the model's
layers one by one and keeps the switches, :func:`deconv_backward` walks back.
The FAU lecture ("Visualization & Attention, Part 4") points out that this is
the backward pass apart from the ReLUs; the tests check that it equals
``layer_gradient(..., rule="deconvnet")`` to rounding error.

Unpooling adds, it does not overwrite. AlexNet pools with 3 x 3 windows at
stride 2, so neighbouring windows overlap and one input position can win
several of them. ``torch.nn.functional.max_unpool2d`` writes each value to its
switch, so when two windows share a winner one of the two values is lost (which
one is not even defined). :func:`unpool` sums them, which is what the exact
transpose of max-pooling does; for non-overlapping windows both agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from lecturekit.models import ALEXNET_LAYERS, LayeredAlexNet, require_alexnet
from lecturekit.validation import check_channel

Unpool = Callable[[torch.Tensor, torch.Tensor, torch.Size, nn.MaxPool2d], torch.Tensor]
"""An unpooling step: (signal, switches, forward input shape, pool module) -> signal below."""


@dataclass
class ForwardRecord:
    """What the reverse network needs from the forward pass up to ``layer``.

    ``inputs`` maps each layer name to the shape of its forward input,
    ``switches`` each max-pooling layer to the flat indices of its winners
    (per channel, into H * W), ``pool5_shape`` is the map shape before the
    average pooling + flattening (only for fc layers), ``activation`` is the
    output of ``layer``.
    """

    layer: str
    activation: torch.Tensor
    inputs: dict[str, torch.Size] = field(default_factory=dict)
    switches: dict[str, torch.Tensor] = field(default_factory=dict)
    pool5_shape: torch.Size | None = None


def _pool_args(pool: nn.MaxPool2d) -> dict:
    return {"kernel_size": pool.kernel_size, "stride": pool.stride, "padding": pool.padding,
            "dilation": pool.dilation, "ceil_mode": pool.ceil_mode}


def _check_module(name: str, module: nn.Module) -> None:
    """Refuse layers the reverse network does not know how to invert."""
    known = (nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.Linear)
    if not isinstance(module, known):
        raise TypeError(f"layer {name} is a {type(module).__name__}; the Deconvnet knows only "
                        f"Conv2d, ReLU, MaxPool2d and Linear layers")
    if isinstance(module, nn.Conv2d) and module.padding_mode != "zeros":
        raise ValueError(f"layer {name} pads with {module.padding_mode!r}; the Deconvnet needs "
                         f"zero padding (padding_mode='zeros')")
    if isinstance(module, nn.Conv2d) and isinstance(module.padding, str):
        raise ValueError(f"layer {name} has padding={module.padding!r}; the Deconvnet needs "
                         f"numeric padding")


def _model_dtype(model: LayeredAlexNet) -> torch.dtype:
    return next(model.parameters()).dtype


def record_forward(model: LayeredAlexNet, images: torch.Tensor, layer: str) -> ForwardRecord:
    """Run ``model`` up to ``layer`` on a normalised batch, keeping shapes and pooling switches.

    The images are moved to the model's device and dtype. Gradients are off.
    """
    require_alexnet(model, "Deconvnet's reverse network")
    model.check_layer(layer)
    model.check_batch(images, "images")
    x = images.detach().to(device=model.device, dtype=_model_dtype(model))
    record = ForwardRecord(layer=layer, activation=x)
    with torch.no_grad():
        for name in ALEXNET_LAYERS:
            module = model.layers[name]
            _check_module(name, module)
            if name == "fc6":
                record.pool5_shape = x.shape
                x = torch.flatten(model.avgpool(x), 1)
            record.inputs[name] = x.shape
            if isinstance(module, nn.MaxPool2d):
                x, record.switches[name] = F.max_pool2d(x, return_indices=True,
                                                        **_pool_args(module))
            else:
                x = module(x)
            if name == layer:
                break
    record.activation = x
    return record


def _pair(value: int | tuple[int, ...]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def reverse_conv(signal: torch.Tensor, conv: nn.Conv2d, input_shape: torch.Size) -> torch.Tensor:
    """Transposed convolution with ``conv``'s filters (no bias), shaped like the forward input.

    ``output_padding`` restores the rows/columns the forward stride dropped at
    the bottom/right edge.
    """
    stride, padding = _pair(conv.stride), _pair(conv.padding)
    dilation, kernel = _pair(conv.dilation), _pair(conv.kernel_size)
    extra = []
    for axis in range(2):
        made = ((signal.shape[2 + axis] - 1) * stride[axis] - 2 * padding[axis]
                + dilation[axis] * (kernel[axis] - 1) + 1)
        extra.append(input_shape[2 + axis] - made)
    return F.conv_transpose2d(signal, conv.weight, None, stride=stride, padding=padding,
                              output_padding=tuple(extra), groups=conv.groups, dilation=dilation)


def unpool(signal: torch.Tensor, switches: torch.Tensor, input_shape: torch.Size,
           pool: nn.MaxPool2d | None = None) -> torch.Tensor:
    """Send every value of ``signal`` back to the input position that won its pooling window.

    Values whose windows share a winner are added (see the module docstring on
    why this is not ``max_unpool2d``). ``pool`` is unused; it is accepted so
    that other unpooling rules with the same signature can be swapped in.
    """
    n, c, height, width = input_shape
    out = signal.new_zeros(n, c, height * width)
    out.scatter_add_(2, switches.flatten(2), signal.flatten(2))
    return out.view(n, c, height, width)


def _adaptive_matrix(size_in: int, size_out: int, like: torch.Tensor) -> torch.Tensor:
    """The (size_out, size_in) averaging matrix of adaptive average pooling along one axis."""
    matrix = like.new_zeros(size_out, size_in)
    for i in range(size_out):
        start = (i * size_in) // size_out
        end = -((-(i + 1) * size_in) // size_out)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


def reverse_avgpool(signal: torch.Tensor, pool5_shape: torch.Size,
                    pool_size: int | tuple[int, int]) -> torch.Tensor:
    """The exact adjoint of ``flatten(AdaptiveAvgPool2d(pool_size)(x))`` for x of ``pool5_shape``.

    Adaptive average pooling along an axis is a matrix A (rows: output cells,
    each averaging its window); its adjoint spreads each value evenly back over
    its window, A^T. At the model's own input size A is the identity.
    """
    n, c, height, width = pool5_shape
    out_h, out_w = _pair(pool_size)
    grid = signal.reshape(n, c, out_h, out_w)
    rows = _adaptive_matrix(height, out_h, signal)
    cols = _adaptive_matrix(width, out_w, signal)
    return rows.t() @ grid @ cols


def reverse_step(model: LayeredAlexNet, name: str, signal: torch.Tensor, record: ForwardRecord,
                 unpool_rule: Unpool = unpool) -> torch.Tensor:
    """Take ``signal`` from the output of layer ``name`` to its input (one reverse layer)."""
    module = model.layers[name]
    if isinstance(module, nn.Conv2d):
        signal = reverse_conv(signal, module, record.inputs[name])
    elif isinstance(module, nn.MaxPool2d):
        signal = unpool_rule(signal, record.switches[name], record.inputs[name], module)
    elif isinstance(module, nn.ReLU):
        signal = signal.clamp(min=0)
    else:
        signal = signal @ module.weight
    if name == "fc6":
        signal = reverse_avgpool(signal, record.pool5_shape, model.avgpool.output_size)
    return signal


def deconv_backward(model: LayeredAlexNet, record: ForwardRecord, signal: torch.Tensor,
                    unpool_rule: Unpool = unpool) -> torch.Tensor:
    """Run the reverse network from ``record.layer`` down to the pixels.

    ``signal`` must have the shape of the recorded activation. ``unpool_rule``
    replaces the switch unpooling (only to show what goes wrong without it).
    """
    if signal.shape != record.activation.shape:
        raise ValueError(f"signal must have the shape of layer {record.layer}'s activation "
                         f"{tuple(record.activation.shape)}, got {tuple(signal.shape)}")
    signal = signal.to(record.activation)
    stop = ALEXNET_LAYERS.index(record.layer)
    with torch.no_grad():
        for name in reversed(ALEXNET_LAYERS[:stop + 1]):
            signal = reverse_step(model, name, signal, record, unpool_rule)
    return signal


def _check_position(layer: str, position: tuple[int, int], activation: torch.Tensor) -> None:
    if activation.ndim == 2:
        raise ValueError(f"position must be None for the fully connected layer {layer} "
                         f"(it has no map), got {position!r}")
    height, width = activation.shape[-2:]
    valid = (isinstance(position, (tuple, list)) and len(position) == 2
             and all(isinstance(v, int) and not isinstance(v, bool) for v in position))
    if not valid or not (0 <= position[0] < height and 0 <= position[1] < width):
        raise ValueError(f"position must be (y, x) with 0 <= y < {height} and 0 <= x < {width} "
                         f"(layer {layer}'s map is {height} x {width}), got {position!r}")


def zero_all_but(activation: torch.Tensor, channel: int,
                 positions: torch.Tensor | None = None) -> torch.Tensor:
    """``activation`` with everything but ``channel`` set to zero.

    With ``positions`` (an (N, 2) integer tensor of (y, x), one per image)
    only that single activation of each image's map is kept.
    """
    signal = torch.zeros_like(activation)
    if positions is None:
        signal[:, channel] = activation[:, channel]
        return signal
    batch = torch.arange(activation.shape[0], device=activation.device)
    ys, xs = positions[:, 0].to(activation.device), positions[:, 1].to(activation.device)
    signal[batch, channel, ys, xs] = activation[batch, channel, ys, xs]
    return signal


def deconv_project(model: LayeredAlexNet, images: torch.Tensor, layer: str, channel: int,
                   position: tuple[int, int] | None = None) -> torch.Tensor:
    """Project one feature map of ``layer`` back to pixel space with the Deconvnet.

    ``images`` is a normalised batch (N, 3, H, W). The activation of ``layer``
    is kept in ``channel`` only (for fc layers: unit ``channel``); with
    ``position=(y, x)`` only that one activation of the map is kept, as in
    Zeiler & Fergus' top-9 figures. Returns a signed (N, 3, H, W) tensor in
    the units of the normalised input, on the model's device and dtype.
    """
    record = record_forward(model, images, layer)
    activation = record.activation
    check_channel(layer, channel, activation)
    positions = None
    if position is not None:
        _check_position(layer, position, activation)
        positions = torch.tensor([position] * activation.shape[0])
    return deconv_backward(model, record, zero_all_but(activation, channel, positions))

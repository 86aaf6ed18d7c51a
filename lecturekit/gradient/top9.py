"""The "top-9 activations" view of Zeiler & Fergus (ECCV 2014, figure 2).

For one feature map (a layer and a channel) Zeiler & Fergus search a large set
of images for the nine strongest single activations and show, for each, the
Deconvnet projection of that one activation (:mod:`lecturekit.gradient.deconvnet`) next
to the image patch it can see. The FAU lecture ("Visualization & Attention,
Part 4") uses such a grid to read off that a map responds to, e.g., grassy
background. Here each image contributes at most one activation (its strongest
position), so the nine come from nine different images.

Receptive fields. A unit of a convolution or pooling layer sees a square of
the input whose geometry follows from the kernel sizes, strides and paddings
of the layers below it; :func:`receptive_field` returns it as
``(size, stride, offset)``: activation ``(y, x)`` sees input rows
``offset + y * stride`` to ``offset + y * stride + size - 1`` (and the same for
columns). Padding makes ``offset`` negative, so near the border part of the
field lies in the zero padding, outside the image; :func:`patch_box` clips it,
and border patches are then smaller than ``size``. ReLUs do not change the
field; units of the fully connected layers see the whole image.

Networks without AlexNet's geometry (EfficientNet-Lite0: no max-pooling, so no
switches for a reverse network, and fields that outgrow the image from its
fifth stage on) get the same view from gradients: the projection is the
guided-backprop gradient of the single activation, and the patch is the box
that holds the central 90 % of its plain gradient's mass (:func:`gradient_box`),
the part of the field that really moves the unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lecturekit.gradient.deconvnet import deconv_backward, record_forward, zero_all_but
from lecturekit.gradient.gradients import layer_gradient
from lecturekit.images import ImageCollection
from lecturekit.models import ALEXNET_LAYERS, LayeredAlexNet, LayeredNetwork, require_alexnet
from lecturekit.result_cache import cached
from lecturekit.validation import check_at_least, check_channel


Box = tuple[int, int, int, int]


@dataclass
class TopActivation:
    """One of the strongest activations of a feature map, with what explains it.

    ``box`` is ``(top, left, bottom, right)``, half-open (rows ``top`` to
    ``bottom - 1``), already clipped to the image, so ``image[:, top:bottom,
    left:right]`` is the patch. ``patch`` is that region of the image in [0, 1];
    ``projection`` is the signed projection of this single activation (units of
    the normalised input) by ``method`` ("Deconvnet" on AlexNets, "guided
    backprop" elsewhere) and ``projection_patch`` its region in the box. For fc
    layers ``y = x = 0`` and the box is the whole image.
    """

    image_index: int
    value: float
    y: int
    x: int
    box: Box
    patch: torch.Tensor
    projection: torch.Tensor
    projection_patch: torch.Tensor
    method: str = "Deconvnet"


def _is_fc(layer: str) -> bool:
    """True for fc layers and the ReLUs after them (units without a map)."""
    return ALEXNET_LAYERS.index(layer) >= ALEXNET_LAYERS.index("fc6")


def _pair(value: int | tuple[int, ...]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def receptive_field(model: LayeredAlexNet, layer: str) -> tuple[int, int, int]:
    """``(size, stride, offset)`` of one unit of ``layer`` in input pixels.

    Walks the layers from the input: a window of ``k`` (dilated: ``d(k-1)+1``)
    grows the field by ``(k - 1) * stride`` so far, its padding ``p`` moves the
    offset by ``-p * stride``, and its stride multiplies the stride. For
    AlexNet: conv1 (11, 4, -2), pool1 (19, 8, -2), conv2 (51, 8, -18),
    conv5 (163, 16, -66), pool5 (195, 32, -66). The geometry is the same in
    both directions (square kernels are not required, but the result is given
    for rows; columns must match).
    """
    require_alexnet(model, "the receptive-field geometry")
    model.check_layer(layer)
    if _is_fc(layer):
        raise ValueError(f"layer {layer} is fully connected: each unit sees the whole image, "
                         f"so it has no receptive-field geometry; choose one of "
                         f"{', '.join(ALEXNET_LAYERS[:ALEXNET_LAYERS.index('fc6')])}")
    size, stride, offset = [1, 1], [1, 1], [0, 0]
    for name in ALEXNET_LAYERS[:ALEXNET_LAYERS.index(layer) + 1]:
        module = model.layers[name]
        if not isinstance(module, (nn.Conv2d, nn.MaxPool2d)):
            continue
        kernel, step = _pair(module.kernel_size), _pair(module.stride)
        pad, dilation = _pair(module.padding), _pair(module.dilation)
        for axis in range(2):
            size[axis] += dilation[axis] * (kernel[axis] - 1) * stride[axis]
            offset[axis] -= pad[axis] * stride[axis]
            stride[axis] *= step[axis]
    if size[0] != size[1] or stride[0] != stride[1] or offset[0] != offset[1]:
        raise ValueError(f"layer {layer} has a non-square receptive field (rows {size[0]}, "
                         f"{stride[0]}, {offset[0]}; columns {size[1]}, {stride[1]}, {offset[1]})")
    return size[0], stride[0], offset[0]


def _image_hw(image_size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(image_size, int) and not isinstance(image_size, bool) and image_size > 0:
        return image_size, image_size
    if (isinstance(image_size, (tuple, list)) and len(image_size) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                    for v in image_size)):
        return int(image_size[0]), int(image_size[1])
    raise ValueError(f"image_size must be a positive int or (height, width), got {image_size!r}")


def patch_box(model: LayeredAlexNet, layer: str, y: int, x: int,
              image_size: int | tuple[int, int]) -> Box:
    """The part of the image that activation ``(y, x)`` of ``layer`` sees, clipped to the image.

    Returns ``(top, left, bottom, right)``, half-open, so ``image[:, top:bottom,
    left:right]`` is the patch. Fully connected layers give the whole image.
    """
    height, width = _image_hw(image_size)
    check_at_least("y", y, 0)
    check_at_least("x", x, 0)
    model.check_layer(layer)
    if _is_fc(layer):
        return 0, 0, height, width
    size, stride, offset = receptive_field(model, layer)
    top, left = offset + y * stride, offset + x * stride
    box = (max(top, 0), max(left, 0), min(top + size, height), min(left + size, width))
    if box[0] >= box[2] or box[1] >= box[3]:
        raise ValueError(f"activation (y, x) = ({y}, {x}) of layer {layer} sees rows "
                         f"{top}..{top + size - 1}, columns {left}..{left + size - 1}, which lie "
                         f"outside a {height} x {width} image")
    return box


def gradient_box(gradient: torch.Tensor, mass: float = 0.9) -> Box:
    """The box of rows and columns that holds the central ``mass`` of ``|gradient|``
    (C, H, W): each side trims ``(1 - mass) / 2`` of the mass, along each axis separately.
    An all-zero gradient gives the whole image."""
    weight = gradient.detach().abs().sum(0).double()
    total = float(weight.sum())
    height, width = weight.shape
    if total == 0:
        return 0, 0, height, width
    cut = (1 - mass) / 2 * total

    def span(marginal: torch.Tensor) -> tuple[int, int]:
        cumulative = marginal.cumsum(0)
        first = int((cumulative <= cut).sum())
        last = int((cumulative < total - cut).sum()) + 1
        return first, max(last, first + 1)

    top, bottom = span(weight.sum(1))
    left, right = span(weight.sum(0))
    return top, left, min(bottom, height), min(right, width)


def _projections(model: LayeredNetwork, winners: torch.Tensor, layer: str, channel: int,
                 where: torch.Tensor) -> tuple[torch.Tensor, list[Box]]:
    """For each winner, the projection of its one strongest activation and the box it sees:
    Zeiler & Fergus' reverse network and the layer geometry on AlexNets, gradients
    (guided for the picture, plain for the box) on other networks."""
    if isinstance(model, LayeredAlexNet):
        record = record_forward(model, winners, layer)
        fc = record.activation.ndim == 2
        width = 1 if fc else record.activation.shape[-1]
        ys, xs = where // width, where % width
        positions = None if fc else torch.stack([ys, xs], dim=1)
        projections = deconv_backward(model, record,
                                      zero_all_but(record.activation, channel, positions))
        boxes = [patch_box(model, layer, int(y), int(x), tuple(winners.shape[-2:]))
                 for y, x in zip(ys, xs)]
        return projections, boxes
    with torch.no_grad():
        activation = model.forward_to(winners, layer)
    fc = activation.ndim == 2
    width = 1 if fc else activation.shape[-1]
    positions = None if fc else torch.stack([where // width, where % width], dim=1)
    signal = zero_all_but(activation, channel, positions)
    projections = layer_gradient(model, winners, layer, signal, rule="guided")
    plain = layer_gradient(model, winners, layer, signal, rule="backprop")
    return projections, [gradient_box(g) for g in plain]


def _strongest_per_image(model: LayeredNetwork, images: torch.Tensor, layer: str,
                         channel: int, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image: the largest activation of the map and its flat position (0 for fc layers)."""
    values, where = [], []
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            chunk = images[start:start + batch_size].to(model.device)
            activation = model.forward_to(chunk, layer)
            check_channel(layer, channel, activation)
            maps = activation[:, channel].reshape(chunk.shape[0], -1)
            best, index = maps.max(dim=1)
            values.append(best.cpu())
            where.append(index.cpu())
    return torch.cat(values), torch.cat(where)


def _images_and_sources(images: torch.Tensor | ImageCollection) -> tuple[torch.Tensor,
                                                                         tuple[int, ...]]:
    """The batch and one source id per image (every image its own without a collection)."""
    if isinstance(images, ImageCollection):
        return images.images, images.sources
    return images, tuple(range(images.shape[0])) if isinstance(images, torch.Tensor) else ()


def _one_per_source(values: torch.Tensor, sources: tuple[int, ...], k: int) -> torch.Tensor:
    """The indices of the ``k`` largest ``values``, strongest first (ties keep image order),
    at most one per source."""
    chosen, seen = [], set()
    for index in torch.argsort(values, descending=True, stable=True).tolist():
        if sources[index] not in seen:
            seen.add(sources[index])
            chosen.append(index)
            if len(chosen) == k:
                break
    return torch.tensor(chosen, dtype=torch.long)


@cached("top9")
def top9(model: LayeredNetwork, images: torch.Tensor | ImageCollection, layer: str,
         channel: int, k: int = 9, batch_size: int = 32) -> list[TopActivation]:
    """The ``k`` strongest activations of map ``channel`` of ``layer`` over ``images``.

    ``images`` is a normalised batch (N, 3, H, W), or an
    :class:`~lecturekit.images.ImageCollection` whose images know their source: then at
    most one image per source wins (crops of one photo do not fill the grid). Each image
    offers only its largest activation (max over the map's positions); the images are
    searched in chunks of ``batch_size`` without gradients, and only the winners are
    projected back to the pixels, each from its single activation (the
    Deconvnet on AlexNets, guided backprop elsewhere; see the module docstring).
    Returns ``min(k, number of sources)`` results, strongest first (ties keep image order).
    """
    images, sources = _images_and_sources(images)
    model.check_layer(layer)
    model.check_batch(images, "images")
    check_at_least("k", k, 1)
    check_at_least("batch_size", batch_size, 1)
    values, where = _strongest_per_image(model, images, layer, channel, batch_size)
    order = _one_per_source(values, sources, k)
    winners = images[order].to(model.device)
    projections, boxes = _projections(model, winners, layer, channel, where[order])
    with torch.no_grad():
        activation = model.forward_to(winners[:1], layer)
    width = 1 if activation.ndim == 2 else activation.shape[-1]
    pictures = model.deprocess(winners)
    results = []
    for rank, index in enumerate(order.tolist()):
        y, x = int(where[index] // width), int(where[index] % width)
        box = boxes[rank]
        projection = projections[rank].detach().float().cpu()
        top, left, bottom, right = box
        results.append(TopActivation(
            image_index=index, value=float(values[index]), y=y, x=x, box=box,
            patch=pictures[rank][:, top:bottom, left:right].clone(), projection=projection,
            projection_patch=projection[:, top:bottom, left:right].clone(),
            method="Deconvnet" if isinstance(model, LayeredAlexNet) else "guided backprop"))
    return results


def objects_seen(tops: list[TopActivation], collection: ImageCollection) -> list[str]:
    """For each of ``tops`` (found in ``collection``), the class of the object whose box holds
    the centre of the patch its unit sees, or ``""`` (no object there, or an image whose
    objects are not known): what a top-9 grid shows, counted."""
    seen = []
    for top in tops:
        objects = collection.objects[top.image_index] if collection.objects else ()
        y = (top.box[0] + top.box[2]) / 2
        x = (top.box[1] + top.box[3]) / 2
        names = [name for name, (t, l, b, r) in objects if t <= y < b and l <= x < r]
        seen.append(names[0] if names else "")
    return seen


DISPLAY_PERCENTILE = 99.0
"""A projection is shown scaled to this percentile of its own magnitudes: sparse
projections (a few strong pixels) stay visible instead of fading to grey."""


def to_display(projection: torch.Tensor, percentile: float = DISPLAY_PERCENTILE) -> torch.Tensor:
    """Map a signed projection to [0, 1] for showing, scaled to its own peak: zero becomes
    grey (0.5), the ``percentile``-th percentile of its magnitudes and beyond 0 or 1. An
    all-zero projection gives plain grey."""
    magnitude = projection.detach().abs().flatten().float()
    scale = torch.quantile(magnitude, percentile / 100) if magnitude.numel() else 0
    if scale == 0:
        scale = magnitude.max() if magnitude.numel() else 0
    if scale == 0:
        return torch.full_like(projection, 0.5)
    return (0.5 + 0.5 * projection.detach() / scale).clamp(0.0, 1.0)


def strongest_unit(activation: torch.Tensor) -> tuple[int, int, int]:
    """``(channel, y, x)`` of the strongest unit of one image's maps ``activation``
    (C, H, W): the single activation Zeiler & Fergus project back."""
    if not isinstance(activation, torch.Tensor) or activation.ndim != 3:
        raise ValueError(f"activation must be one image's maps, a tensor (C, H, W), got "
                         f"{getattr(activation, 'shape', type(activation).__name__)}")
    channel, y, x = (int(i) for i in torch.unravel_index(activation.argmax(), activation.shape))
    return channel, y, x


@torch.no_grad()
def _mean_peak(model: LayeredNetwork, images: torch.Tensor, layer: str,
               batch_size: int) -> torch.Tensor:
    """Per channel, the mean over ``images`` of each image's largest rectified activation."""
    total = 0
    for start in range(0, images.shape[0], batch_size):
        activation = model.forward_to(images[start:start + batch_size].to(model.device), layer)
        peaks = activation.clamp(min=0)
        peaks = peaks.flatten(2).amax(dim=2) if peaks.ndim == 4 else peaks
        total = total + peaks.sum(0)
    return torch.as_tensor(total).cpu() / images.shape[0]


@cached("most_selective_channel")
def most_selective_channel(model: LayeredNetwork, examples: torch.Tensor,
                           images: torch.Tensor | ImageCollection, layer: str,
                           batch_size: int = 50) -> int:
    """The channel of ``layer`` that responds to the ``examples`` (images of one object) most
    strongly compared with the whole collection ``images``: the ratio of its mean peak
    activation on the examples to that on the collection (a candidate detector of the
    object, whose top 9 in the collection can then be looked at)."""
    images, _ = _images_and_sources(images)
    for name, batch in (("examples", examples), ("images", images)):
        model.check_batch(batch, name)
    model.check_layer(layer)
    check_at_least("batch_size", batch_size, 1)
    on_examples = _mean_peak(model, examples, layer, batch_size)
    overall = _mean_peak(model, images, layer, batch_size)
    return int((on_examples / (overall + 1e-3 * overall.mean().clamp_min(1e-12))).argmax())


@cached("most_active_channel")
@torch.no_grad()
def most_active_channel(model: LayeredNetwork, images: torch.Tensor | ImageCollection,
                        layer: str, batch_size: int = 50) -> int:
    """The channel (the unit, for fully connected layers) of ``layer`` with the largest mean
    rectified activation over ``images`` (a batch or an image collection)."""
    images, _ = _images_and_sources(images)
    model.check_batch(images, "images")
    model.check_layer(layer)
    check_at_least("batch_size", batch_size, 1)
    total = 0
    for start in range(0, images.shape[0], batch_size):
        activation = model.forward_to(images[start:start + batch_size].to(model.device), layer)
        total = total + activation.clamp(min=0).transpose(0, 1).flatten(1).sum(1)
    return int(torch.as_tensor(total).argmax())

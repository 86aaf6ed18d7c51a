"""Saliency maps: which pixels would change a class score most (Simonyan et al. 2014).

Simonyan, Vedaldi & Zisserman ("Deep Inside Convolutional Networks", ICLR
workshop 2014) take the *unnormalised* score S_c of a class c (the logit, the
output of ``fc8``, not the softmax probability), differentiate it with respect
to the input image at that image, ``w = dS_c / dI``, and keep for every pixel
the largest absolute value over the three colour channels:
``M_ij = max_c |w_ijc|``. One backward pass per image gives the map.

Two points where implementations go wrong:

* the reduction over colour is a **maximum**, not a sum (a popular public
  repository, pytorch-cnn-visualizations by U. Ozbulak, sums ``|w|`` over the channels; that is a different map);
* the score is the logit: the softmax probability can also be raised by
  lowering the other classes' scores, so its gradient mixes in the other
  classes.

With ``rule="deconvnet"`` or ``rule="guided"`` the same reduction is applied to
the signal that Zeiler & Fergus' Deconvnet or Springenberg et al.'s guided
backprop send back to the pixels (:mod:`lecturekit.gradient.backward_rules`): the
"gradient maps" of each method, directly comparable with the saliency map.

The gradient is taken with respect to the *normalised* image (the tensor the
model actually sees); the per-channel scaling by ``1/std`` is the same for all
pixels of a channel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from lecturekit.gradient.backward_rules import check_rule
from lecturekit.gradient.gradients import input_gradient
from lecturekit.models import LayeredNetwork
from lecturekit.targets import Logit, per_image_index
from lecturekit.validation import check_finite

ClassIndex = int | Sequence[int] | torch.Tensor | None


def class_indices(model: LayeredNetwork, images: torch.Tensor,
                   class_index: ClassIndex) -> torch.Tensor:
    """One class index per image, checked; ``None`` gives each image's predicted class."""
    if class_index is None:
        with torch.no_grad():
            return model(images.to(model.device)).argmax(1).cpu()
    return per_image_index(class_index, images.shape[0], len(model.classes), "class_index").cpu()


def channel_max_abs(gradient: torch.Tensor) -> torch.Tensor:
    """Simonyan et al.'s reduction of a gradient (N, 3, H, W) to a map (N, H, W):
    the largest absolute value over the colour channels at each pixel."""
    if not isinstance(gradient, torch.Tensor) or gradient.ndim != 4:
        got = tuple(gradient.shape) if isinstance(gradient, torch.Tensor) else type(gradient).__name__
        raise ValueError(f"gradient must be a tensor of shape (N, C, H, W), got {got}")
    return check_finite("gradient", gradient).abs().amax(dim=1)


def saliency_map(model: LayeredNetwork, images: torch.Tensor, class_index: ClassIndex = None,
                 rule: str = "backprop") -> torch.Tensor:
    """Saliency maps (N, H, W) of a normalised batch (N, 3, H, W) for one class per image.

    ``M_ij = max_c |dS/dI_cij|`` with S the class logit (Simonyan et al. 2014).
    ``class_index``: ``None`` uses each image's predicted class; an int uses
    that class for every image; a sequence or tensor gives one class per image.
    ``rule`` ("backprop", "deconvnet" or "guided") picks how the ReLUs pass the
    signal back; the reduction is the same for all three. The maps are
    non-negative, detached and on the model's device.
    """
    check_rule(rule)
    model.check_batch(images, "images")
    indices = class_indices(model, images, class_index)
    gradient = input_gradient(model, images, Logit(indices), rule=rule)
    return channel_max_abs(gradient)


def gradient_to_rgb(gradient: torch.Tensor, percentile: float = 99.0,
                    common_scale: bool = False) -> torch.Tensor:
    """Show a signed gradient (N, 3, H, W) as colour images in [0, 1].

    Each image is divided by its own ``percentile``-th percentile of ``|g|``
    (over all channels and pixels; the value at rank ``ceil(p/100 * size)``),
    so that a few extreme pixels do not wash the rest out (when that percentile
    is zero, as for a very sparse gradient, the maximum of ``|g|`` is used
    instead), then mapped to
    ``0.5 + 0.5 * g`` and clipped: zero is mid-grey, positive values brighten
    a channel, negative ones darken it. A gradient that is zero everywhere
    gives a uniformly grey image. With ``common_scale`` every image is divided
    by the largest of these levels instead, so sizes can be compared: a
    gradient ten times shorter than the strongest one looks ten times fainter.
    The result is detached and on the CPU.
    """
    if not isinstance(gradient, torch.Tensor) or gradient.ndim != 4 or gradient.shape[1] != 3:
        got = tuple(gradient.shape) if isinstance(gradient, torch.Tensor) else type(gradient).__name__
        raise ValueError(f"gradient must be a tensor of shape (N, 3, H, W), got {got}")
    if (isinstance(percentile, bool) or not isinstance(percentile, (int, float))
            or not 0 < percentile <= 100):
        raise ValueError(f"percentile must be a number in (0, 100], got {percentile!r}")
    check_finite("gradient", gradient)
    g = gradient.detach().cpu().float()
    flat = g.abs().reshape(g.shape[0], -1)
    rank = min(max(math.ceil(float(percentile) / 100 * flat.shape[1]), 1), flat.shape[1])
    scale = flat.kthvalue(rank, dim=1).values
    scale = torch.where(scale > 0, scale, flat.amax(dim=1))
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    if common_scale:
        scale = scale.amax().expand_as(scale)
    return (0.5 + 0.5 * g / scale.view(-1, 1, 1, 1)).clamp(0.0, 1.0)

"""Input gradients: how much each pixel moves a chosen target.

The lecture's first method: take a target (a neuron, a map, a layer, a class
score; :mod:`lecturekit.targets`) as a pseudo-loss and backpropagate it to the
pixels (Zeiler & Fergus 2014; Simonyan et al. 2014). With ``rule`` set to
``"deconvnet"`` or ``"guided"``, the ReLUs pass the signal back by that rule
instead (:mod:`lecturekit.gradient.backward_rules`). The model's weights are never
touched and no gradient is stored on them.
"""

from __future__ import annotations

import torch

from lecturekit.gradient.backward_rules import backward_rule, check_rule
from lecturekit.models import LayeredNetwork
from lecturekit.targets import Target
from lecturekit.validation import check_finite


def _check_target(target: Target) -> None:
    if not isinstance(target, Target):
        raise TypeError(f"target must be a lecturekit.targets.Target (Neuron, Channel, Layer, "
                        f"Logit, Probability, ...), got {type(target).__name__}")


def input_gradient(model: LayeredNetwork, images: torch.Tensor, target: Target,
                   rule: str = "backprop") -> torch.Tensor:
    """d target / d images for a normalised batch (N, 3, H, W), one gradient per image.

    The forward pass stops at the deepest layer the target needs.
    """
    _check_target(target)
    check_rule(rule)
    model.check_batch(images, "images")
    for layer in target.layers:
        model.check_layer(layer)
    x = images.detach().to(model.device).requires_grad_(True)
    with backward_rule(model, rule):
        values = target(model.activations(x, target.layers))
        (gradient,) = torch.autograd.grad(values.sum(), x)
    return gradient.contiguous()  # a channels-last network (EfficientNet) gives channels-last


def layer_gradient(model: LayeredNetwork, images: torch.Tensor, layer: str,
                   signal: torch.Tensor, rule: str = "backprop") -> torch.Tensor:
    """Send ``signal`` (shaped like ``layer``'s activation) back to the pixels under ``rule``.

    This is the backward pass with an arbitrary signal from above; with the
    activation map itself as ``signal`` and the Deconvnet rule it is Zeiler &
    Fergus' projection of a feature map to pixel space.
    """
    check_rule(rule)
    model.check_batch(images, "images")
    model.check_layer(layer)
    if not isinstance(signal, torch.Tensor):
        raise TypeError(f"signal must be a torch.Tensor shaped like layer {layer}'s activation, "
                        f"got {type(signal).__name__}")
    check_finite("signal", signal)
    x = images.detach().to(model.device).requires_grad_(True)
    with backward_rule(model, rule):
        activation = model.forward_to(x, layer)
        if signal.shape != activation.shape:
            raise ValueError(f"signal must have the shape of layer {layer}'s activation "
                             f"{tuple(activation.shape)}, got {tuple(signal.shape)}")
        (gradient,) = torch.autograd.grad(activation, x, grad_outputs=signal.to(activation))
    return gradient.contiguous()

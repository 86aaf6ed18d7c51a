"""Targets: what to differentiate or to maximise (the lecture's "pseudo-loss").

The lecture takes "the activation of an arbitrary neuron or layer" as a loss to
backpropagate (Zeiler & Fergus 2014; Simonyan et al. 2014): a single neuron, a
whole activation map, a whole layer, a class logit or a class probability. A
target gives one number per image; gradients (:mod:`lecturekit.gradient.gradients`) take
its derivative with respect to the input, and the optimisation loop maximises
it. Targets add and scale, so ``Channel("conv5", 3) - 0.5 * Layer("conv2")`` is
a target too.

Every target names the layers it needs (``target.layers``) and is called on a
dictionary of their activations, as returned by ``model.activations``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from lecturekit.models.network import LOGITS
from lecturekit.validation import check_channel, check_finite, check_index, check_real

Index = int | Sequence[int] | torch.Tensor


class Target(ABC):
    """A scalar per image, computed from the activations of ``self.layers``."""

    layers: tuple[str, ...] = ()

    @abstractmethod
    def __call__(self, acts: dict[str, torch.Tensor]) -> torch.Tensor:
        """One value per image, shape (N,)."""

    def __add__(self, other: Target) -> Target:
        return Sum([(1.0, self), (1.0, other)])

    def __sub__(self, other: Target) -> Target:
        return Sum([(1.0, self), (-1.0, other)])

    def __mul__(self, weight: float) -> Target:
        return Sum([(check_real("weight", weight, "a finite number", lambda v: True), self)])

    __rmul__ = __mul__

    def __neg__(self) -> Target:
        return Sum([(-1.0, self)])


class Sum(Target):
    """A weighted sum of targets: ``sum(weight * target)``."""

    def __init__(self, terms: Sequence[tuple[float, Target]]) -> None:
        flat: list[tuple[float, Target]] = []
        for weight, target in terms:
            if not isinstance(target, Target):
                raise TypeError(f"targets add up only with targets (Neuron, Channel, Layer, "
                                f"Logit, ...), got {type(target).__name__} {target!r}")
            if isinstance(target, Sum):
                flat += [(weight * inner_weight, inner) for inner_weight, inner in target.terms]
            else:
                flat.append((weight, target))
        self.terms = flat
        self.layers = tuple(dict.fromkeys(layer for _, t in flat for layer in t.layers))

    def __call__(self, acts: dict[str, torch.Tensor]) -> torch.Tensor:
        return sum(weight * target(acts) for weight, target in self.terms)

    def __repr__(self) -> str:
        return " + ".join(f"{weight:g} * {target!r}" for weight, target in self.terms)


def per_image_index(index: Index, batch: int, count: int, what: str) -> torch.Tensor:
    """``index`` as one class index per image of a batch of ``batch``, each checked to lie
    in ``0..count-1``; a single index serves every image. Errors name ``what``."""
    if isinstance(index, bool) or (isinstance(index, torch.Tensor) and index.dtype == torch.bool):
        raise TypeError(f"{what} must be an int, a sequence of ints or an integer tensor, "
                        f"got a bool {index!r}")
    indices = torch.as_tensor(index).reshape(-1)
    if indices.is_floating_point() or indices.is_complex():
        raise TypeError(f"{what} must hold integers, got {index!r} (dtype {indices.dtype})")
    indices = indices.long()
    if indices.numel() == 1:
        indices = indices.expand(batch)
    if indices.numel() != batch:
        raise ValueError(f"{what} has {indices.numel()} entries for a batch of {batch} images; "
                         f"give one index for all images or exactly one per image")
    bad = indices[(indices < 0) | (indices >= count)]
    if bad.numel():
        raise ValueError(f"{what} {int(bad[0])} is out of range: the model has {count} classes "
                         f"(valid: 0..{count - 1})")
    return indices


class Neuron(Target):
    """One unit: channel ``channel`` at position (``y``, ``x``) of a conv layer's map
    (the centre when not given), or unit ``channel`` of a fully connected layer."""

    def __init__(self, layer: str, channel: int, y: int | None = None, x: int | None = None):
        self.layers = (layer,)
        self.layer, self.channel, self.y, self.x = layer, channel, y, x

    def __call__(self, acts: dict[str, torch.Tensor]) -> torch.Tensor:
        act = acts[self.layer]
        check_channel(self.layer, self.channel, act)
        if act.ndim == 2:
            if self.y is not None or self.x is not None:
                raise ValueError(f"y and x must be None for the fully connected layer "
                                 f"{self.layer} (it has no map), got y={self.y!r}, x={self.x!r}")
            return act[:, self.channel]
        height, width = act.shape[-2:]
        y = height // 2 if self.y is None else self.y
        x = width // 2 if self.x is None else self.x
        check_index("y", y, height, f"rows of the map of layer {self.layer}")
        check_index("x", x, width, f"columns of the map of layer {self.layer}")
        return act[:, self.channel, y, x]

    def __repr__(self) -> str:
        where = "" if self.y is None and self.x is None else f", y={self.y}, x={self.x}"
        return f"Neuron({self.layer!r}, {self.channel}{where})"


class Channel(Target):
    """A whole activation map: the mean of channel ``channel`` of a layer."""

    def __init__(self, layer: str, channel: int):
        self.layers = (layer,)
        self.layer, self.channel = layer, channel

    def __call__(self, acts: dict[str, torch.Tensor]) -> torch.Tensor:
        act = acts[self.layer]
        check_channel(self.layer, self.channel, act)
        return act[:, self.channel].reshape(act.shape[0], -1).mean(1)

    def __repr__(self) -> str:
        return f"Channel({self.layer!r}, {self.channel})"


class Layer(Target):
    """A whole layer: the mean of all its activations."""

    def __init__(self, layer: str):
        self.layers = (layer,)
        self.layer = layer

    def __call__(self, acts: dict[str, torch.Tensor]) -> torch.Tensor:
        act = acts[self.layer]
        return act.reshape(act.shape[0], -1).mean(1)

    def __repr__(self) -> str:
        return f"Layer({self.layer!r})"


class LayerL2(Target):
    """DeepDream's objective: half the squared L2 norm of a layer's activations
    (Mordvintsev et al. 2015)."""

    def __init__(self, layer: str):
        self.layers = (layer,)
        self.layer = layer

    def __call__(self, acts: dict[str, torch.Tensor]) -> torch.Tensor:
        act = acts[self.layer]
        return 0.5 * act.reshape(act.shape[0], -1).pow(2).sum(1)

    def __repr__(self) -> str:
        return f"LayerL2({self.layer!r})"


class _ClassScore(Target):
    """One class's score per image; ``index`` is one class, or one class per image."""

    def __init__(self, index: Index):
        self.layers = (LOGITS,)
        self.index = index

    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        """The scores of every class, from the logits (N, classes)."""
        return logits

    def __call__(self, acts: dict[str, torch.Tensor]) -> torch.Tensor:
        scores = self.scores(acts[LOGITS])
        rows = torch.arange(scores.shape[0], device=scores.device)
        index = per_image_index(self.index, scores.shape[0], scores.shape[1], "class index")
        return scores[rows, index.to(scores.device)]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.index!r})"


class Logit(_ClassScore):
    """The unnormalised class score S_c (the network's last layer, ``"logits"``), as
    Simonyan et al. (2014) use for saliency maps and class models. ``index``: one class,
    or one per image."""


class Probability(_ClassScore):
    """The softmax probability of a class. Simonyan et al. prefer the logit: the
    probability also rises when the other classes' scores fall."""

    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.softmax(logits, dim=1)


def _memory_order(act: torch.Tensor,
                  reference: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``act`` and ``reference`` as dense views in the order of ``act``'s memory: a
    channels-last map (EfficientNet-Lite0 runs channels-last) is viewed as (N, H, W, C),
    without a copy; anything else is returned as it is. Element-wise kernels and their
    backward run about four times faster on the dense view than on the strided one
    (measured on a 32 x 112 x 112 map, 2 CPU cores)."""
    if act.ndim == 4 and not act.is_contiguous() \
            and act.is_contiguous(memory_format=torch.channels_last):
        reference = reference.contiguous(memory_format=torch.channels_last)
        return act.permute(0, 2, 3, 1), reference.permute(0, 2, 3, 1)
    return act, reference


class FeatureMatching(Target):
    """Mahendran & Vedaldi's (2015) data term: ||Phi(x) - Phi0||^2 / ||Phi0||^2 per image,
    where ``reference`` holds Phi0, the stored activations of ``layer``. Minimise it."""

    def __init__(self, layer: str, reference: torch.Tensor):
        if not isinstance(reference, torch.Tensor):
            raise TypeError(f"reference must be a torch.Tensor of the activations of {layer}, "
                            f"got {type(reference).__name__}")
        self.layers = (layer,)
        self.layer = layer
        self.reference = check_finite("reference", reference.detach())
        flat = self.reference.reshape(self.reference.shape[0], -1)
        self.norm2 = flat.pow(2).sum(1).clamp_min(1e-12)

    def __call__(self, acts: dict[str, torch.Tensor]) -> torch.Tensor:
        act = acts[self.layer]
        if act.shape != self.reference.shape:
            raise ValueError(f"the activations of {self.layer} have shape {tuple(act.shape)} but "
                             f"the reference has {tuple(self.reference.shape)}; invert images of "
                             f"the size the reference was computed at")
        act, reference = _memory_order(act, self.reference.to(act))
        # mse_loss's fused kernel: the same squared differences, half the time of sub + pow
        squared = F.mse_loss(act, reference, reduction="none")
        return squared.sum(dim=tuple(range(1, act.ndim))) / self.norm2.to(act)

    def __repr__(self) -> str:
        return f"FeatureMatching({self.layer!r}, reference of shape {tuple(self.reference.shape)})"


class Blocks(Target):
    """Targets for consecutive blocks of the batch: the first block's images are scored by
    ``targets[0]``, the next block's by ``targets[1]``, and so on; one value per image.

    Each target reads its own layer's activations, which hold only its block's
    images, as :meth:`~lecturekit.models.network.LayeredNetwork.staggered_activations`
    gives them (a layer-wise inversion in one batch). The targets must name distinct
    layers.
    """

    def __init__(self, targets: Sequence[Target]) -> None:
        self.targets = list(targets)
        names = [layer for target in self.targets for layer in target.layers]
        if not self.targets or len(set(names)) != len(names):
            raise ValueError(f"Blocks needs at least one target and distinct layers, got the "
                             f"layers {names}")
        self.layers = tuple(names)

    def __call__(self, acts: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([target(acts) for target in self.targets])

    def __repr__(self) -> str:
        return f"Blocks({self.targets!r})"


class PerImage(Target):
    """One target per image of a batch: image ``i`` is scored by ``targets[i]``. Several
    objectives are then searched in one batch, each image for its own (notebook 4's five
    pseudo-losses), which on a CPU costs less than searching them one after the other."""

    def __init__(self, targets: Sequence[Target]) -> None:
        self.targets = list(targets)
        if not self.targets or not all(isinstance(t, Target) for t in self.targets):
            raise TypeError(f"PerImage needs a non-empty list of targets, got {targets!r}")
        self.layers = tuple(dict.fromkeys(layer for t in self.targets for layer in t.layers))

    def __call__(self, acts: dict[str, torch.Tensor]) -> torch.Tensor:
        batch = next(iter(acts.values())).shape[0]
        if batch != len(self.targets):
            raise ValueError(f"PerImage has {len(self.targets)} targets for a batch of "
                             f"{batch} images; give one target per image")
        return torch.stack([target(acts)[i] for i, target in enumerate(self.targets)])

    def __repr__(self) -> str:
        return f"PerImage({self.targets!r})"

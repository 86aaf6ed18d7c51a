"""A network seen as one ordered sequence of named layers: the interface every model shares.

The lecture's methods need to stop a forward pass at a layer, read several
layers at once and name a layer in an error message. :class:`LayeredNetwork`
gives that to every network of the kit (AlexNet, EfficientNet-Lite0, the toy),
so that every notebook and test runs unchanged on each. ``model(x)`` gives the
class scores; ``model(x, until="conv3")`` computes nothing beyond ``conv3``.
The last layer, whatever its name, can also be called ``"logits"``.
"""

from __future__ import annotations

import difflib
import reprlib
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from lecturekit.images import Preprocessing
from lecturekit.models.rectifiers import leaky_relu_gradient
from lecturekit.validation import check_at_least, check_finite

LOGITS = "logits"
"""The name every network accepts for its last layer (the unnormalised class scores)."""


@dataclass(frozen=True)
class LectureLayers:
    """The layers of one network that the lecture's figures use: an ``early`` and a ``deep``
    layer for gradients, DeepDream and the top-9 view, the layer whose channel statistics
    a learned prior matches (``prior_layer``), and the output of the last convolutional
    block (``last_conv``, the layer of the lecture's anonymisation warning). Set where the
    network is built (:mod:`lecturekit.models.alexnet`, :mod:`~lecturekit.models.efficientnet`)."""
    early: str
    deep: str
    prior_layer: str
    last_conv: str


class LayeredNetwork(nn.Module):
    """A network as named layers applied in order.

    ``layers`` maps names to modules, input to output; ``layer_groups`` splits the
    names into early, middle and deep groups (Mahendran & Vedaldi weigh their
    priors per group); ``dataset`` says what the weights were trained on
    (``"imagenet"``, ``"scenes"`` for the toy, ``"none"`` for random weights);
    ``architecture`` names the layer layout (``"alexnet"`` for AlexNet and the toy);
    ``lecture_layers`` names the layers the lecture's figures use (:class:`LectureLayers`).
    """

    def __init__(self, layers: OrderedDict[str, nn.Module], *, classes: list[str],
                 preprocess: Preprocessing, name: str, description: str, dataset: str,
                 architecture: str, layer_groups: tuple[tuple[str, ...], ...],
                 min_input_size: int, lecture_layers: LectureLayers) -> None:
        super().__init__()
        self.layers = nn.ModuleDict(layers)
        grouped = [layer for group in layer_groups for layer in group]
        if grouped != list(layers):
            raise ValueError(f"layer_groups must list every layer once, in order; got {grouped} "
                             f"for the layers {list(layers)}")
        self.layer_groups = layer_groups
        self.classes = list(classes)
        self.preprocess = preprocess
        self.name = name
        self.description = description
        self.dataset = dataset
        self.architecture = architecture
        self.min_input_size = min_input_size
        unknown = [name for name in vars(lecture_layers).values() if name not in layers]
        if unknown:
            raise ValueError(f"lecture_layers names layers the network does not have: {unknown}")
        self.lecture_layers = lecture_layers
        self.reason = ""

    @property
    def layer_names(self) -> tuple[str, ...]:
        """The layer names, input to output."""
        return tuple(self.layers)

    @property
    def output_layer(self) -> str:
        """The name of the last layer, the class scores (also reachable as ``"logits"``)."""
        return self.layer_names[-1]

    @property
    def input_size(self) -> int:
        """Side length in pixels of the images the model was trained on."""
        return self.preprocess.crop

    @property
    def device(self) -> torch.device:
        """Where the model's weights live."""
        return next(self.parameters()).device

    def check_layer(self, layer: str) -> str:
        """The layer's own name (``"logits"`` is the last layer), else a ValueError listing them."""
        if layer == LOGITS:
            return self.output_layer
        if not isinstance(layer, str) or layer not in self.layers:
            alias = "" if self.output_layer == LOGITS else f" (or {LOGITS!r})"
            raise ValueError(f"unknown layer {layer!r} for model {self.name!r}; valid layer names "
                             f"are: {', '.join(self.layer_names)}{alias}")
        return layer

    def depth(self, layer: str) -> int:
        """Position of ``layer`` in the network, 0 for the first."""
        return self.layer_names.index(self.check_layer(layer))

    def layer_group(self, layer: str) -> int:
        """0, 1 or 2: the early, middle or deep group of ``layer`` (:attr:`layer_groups`)."""
        layer = self.check_layer(layer)
        return next(i for i, group in enumerate(self.layer_groups) if layer in group)

    def class_index(self, item: int | str, argument: str = "class") -> int:
        """The index of a class given by name (for ImageNet, e.g. "dumbbell") or by index;
        errors name ``argument`` and suggest similar names."""
        count = len(self.classes)
        if isinstance(item, str):
            if item in self.classes:
                return self.classes.index(item)
            similar = [c for c in self.classes if item.lower() in c.lower()]
            similar += [c for c in difflib.get_close_matches(item, self.classes, n=5, cutoff=0.6)
                        if c not in similar]
            hint = f"similar names: {', '.join(similar[:8])}" if similar else "no similar name"
            listing = (f"its classes are: {', '.join(self.classes)}" if count <= 20 else
                       f"{count} classes, e.g. {', '.join(self.classes[:4])}")
            raise ValueError(f"{argument}: model {self.name!r} has no class {item!r} ({hint}); "
                             f"{listing}")
        if isinstance(item, bool) or not isinstance(item, int):
            raise TypeError(f"{argument} must be a class index (int) or a class name (str), "
                            f"got {type(item).__name__}")
        if not 0 <= item < count:
            raise ValueError(f"{argument}: class index {item} is out of range for model "
                             f"{self.name!r} with {count} classes (valid: 0..{count - 1})")
        return item

    def check_batch(self, x: torch.Tensor, argument: str = "x") -> None:
        """Raise a clear error unless ``x`` is a finite float batch of shape (N, 3, H, W);
        errors name ``argument``."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{argument} must be a torch.Tensor batch of shape (N, 3, H, W) for "
                            f"model {self.name!r}, got {type(x).__name__}; use "
                            f"model.preprocess(image)")
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"{argument} must be a batch of shape (N, 3, H, W), got "
                             f"{tuple(x.shape)}; use model.preprocess(image) to make one for "
                             f"model {self.name!r}")
        if x.shape[0] == 0:
            raise ValueError(f"{argument} must hold at least one image, got an empty batch "
                             f"{tuple(x.shape)}")
        if not x.is_floating_point():
            raise ValueError(f"{argument} must be a float batch (normalised by model.preprocess) "
                             f"for model {self.name!r}, got dtype {x.dtype}")
        if min(x.shape[-2:]) < self.min_input_size:
            raise ValueError(f"{argument} must have images of at least {self.min_input_size} x "
                             f"{self.min_input_size} pixels for model {self.name!r}, got "
                             f"{tuple(x.shape[-2:])}; its own size is {self.input_size}")
        check_finite(argument, x)

    def apply_layer(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """One named layer on the previous layer's output."""
        return self.layers[name](x)

    def forward(self, x: torch.Tensor, until: str | None = None) -> torch.Tensor:
        """Run the layers in order, stopping after ``until`` (default: the last)."""
        self.check_batch(x)
        stop = self.check_layer(until) if until is not None else self.output_layer
        for name in self.layer_names:
            x = self.apply_layer(name, x)
            if name == stop:
                break
        return x

    def forward_to(self, x: torch.Tensor, layer: str) -> torch.Tensor:
        """The activation of ``layer`` for batch ``x``; nothing after it is computed."""
        return self(x, until=layer)

    def activations(self, x: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        """Activations of several layers in one forward pass to the deepest of them, keyed by
        the names asked for."""
        if isinstance(layers, str):
            layers = [layers]
        wanted = {name: self.check_layer(name) for name in layers}
        if not wanted:
            raise ValueError("layers is empty; name at least one of: " + ", ".join(self.layer_names))
        ordered = sorted(set(wanted.values()), key=self.depth)
        return self.staggered_activations(x, [(layer, x.shape[0]) for layer in ordered],
                                          keep=True, names=wanted)

    def rectified_layer(self, layer: str) -> str | None:
        """The layer whose output ``layer`` matches through a plain ReLU (see
        :meth:`staggered_activations`); None where there is none."""
        return None

    def leaky_layer(self, name: str, x: torch.Tensor, slope: float) -> torch.Tensor:
        """The rectifying layer ``name`` (a :meth:`rectified_layer`) on ``x``, with exact
        values and :func:`~lecturekit.models.rectifiers.leaky_relu_gradient`'s
        gradient. Here ``name`` is a plain ReLU layer; networks whose rectifier sits
        inside a layer say how to reach it."""
        return leaky_relu_gradient(x, slope)

    def staggered_activations(self, x: torch.Tensor, blocks: list[tuple[str, int]],
                              slope: float = 0.0, *, keep: bool = False,
                              names: dict[str, str] | None = None) -> dict[str, torch.Tensor]:
        """The activations of consecutive blocks of the batch ``x``, each at its own layer.

        ``blocks`` lists ``(layer, count)`` in network order, each layer once: the
        first ``count`` images are wanted at the first layer, the next ones at the
        next, and so on. A block leaves the batch right after its layer, so one
        forward and one backward pass serve a whole layer-wise inversion (Mahendran
        & Vedaldi's figure) without carrying any image past the layer it is needed
        at. With ``keep=True`` every block is the whole batch and it stays in
        (several layers of the same images, as :meth:`activations` gives them).
        With ``slope > 0`` the blocks matched at a ReLU (:meth:`rectified_layer`)
        pass it with a leaky gradient (:meth:`leaky_layer`).
        ``names`` maps the keys of the result to layer names (default: the layers).
        """
        self.check_batch(x)
        depths = [self.depth(layer) for layer, _ in blocks]
        total = x.shape[0] if keep else sum(count for _, count in blocks)
        if depths != sorted(set(depths)) or total != x.shape[0] or \
                (keep and any(count != x.shape[0] for _, count in blocks)):
            raise ValueError(f"blocks must name distinct layers in network order whose counts add "
                             f"up to the batch size {x.shape[0]}, got {list(blocks)}")
        remaining = [(self.check_layer(layer), count) for layer, count in blocks]
        found: dict[str, torch.Tensor] = {}
        for name in self.layer_names:
            if not remaining:
                break
            leaking = 0 if keep or slope <= 0 else sum(
                count for layer, count in remaining if self.rectified_layer(layer) == name)
            if leaking:  # the leaking blocks come first: every earlier block has left
                parts = [self.leaky_layer(name, x[:leaking], slope)]
                if leaking < x.shape[0]:
                    parts.append(self.apply_layer(name, x[leaking:]))
                x = torch.cat(parts)
            else:
                x = self.apply_layer(name, x)
            if remaining[0][0] == name:
                count = remaining.pop(0)[1]
                found[name] = x[:count]
                if not keep:
                    x = x[count:]
        if names is None:
            return found
        return {key: found[layer] for key, layer in names.items()}

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
def top_predictions(model: LayeredNetwork, batch: torch.Tensor,
                    k: int = 5) -> list[list[Prediction]]:
    """The ``k`` most probable classes of every image in ``batch``."""
    check_at_least("k", k, 1)
    if k > len(model.classes):
        raise ValueError(f"k must be between 1 and {len(model.classes)}, got k={k}")
    probs = torch.softmax(model(batch.to(model.device)), dim=1)
    values, indices = probs.topk(k, dim=1)
    return [[Prediction(int(i), model.classes[int(i)], float(p)) for p, i in zip(row_p, row_i)]
            for row_p, row_i in zip(values, indices)]


@torch.no_grad()
def layer_table(model: LayeredNetwork) -> str:
    """A text table of the layers: name, kind, activation shape at the model's input size,
    weights."""
    if not isinstance(model, LayeredNetwork):
        raise TypeError(f"model must be a network from lk.load_model(), got "
                        f"{type(model).__name__} {reprlib.repr(model)}")
    x = torch.zeros(1, 3, model.input_size, model.input_size, device=model.device)
    acts = model.activations(x, model.layer_names)
    rows = [f"{'layer':<8}{'kind':<14}{'activation shape':<20}{'weights':>10}"]
    for name in model.layer_names:
        module = model.layers[name]
        count = sum(p.numel() for p in module.parameters())
        shape = " x ".join(str(n) for n in acts[name].shape[1:])
        rows.append(f"{name:<8}{type(module).__name__:<14}{shape:<20}{count:>10,}")
    return "\n".join(rows)


def freeze(model: LayeredNetwork) -> LayeredNetwork:
    """Eval mode and no weight gradients: the kit only ever differentiates the input."""
    model.eval()
    model.requires_grad_(False)
    return model

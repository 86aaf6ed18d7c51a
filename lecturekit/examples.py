"""The images and layers the lecture shows, chosen in one place for every network.

Networks trained on photographs (ImageNet AlexNet, EfficientNet-Lite0) explain
photographs: Chelsea the cat (scikit-image's sample photograph) by the class
"tabby", as in the lecture's saliency slides, and the other sample photos.
The toy network, trained on the kit's generated scenes, explains fresh scenes
it classifies correctly, each with its true class and its object's mask, so
that maps can be scored against where the object really is. Every notebook,
figure and widget asks this module which images and layers to show, so no
other module branches on the network.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from lecturekit import scenes
from lecturekit.images import sample_image
from lecturekit.models import LayeredNetwork
from lecturekit.validation import check_at_least, check_int, check_side

__all__ = ["CAT_CLASS", "CLASS_MODEL_CLASSES", "EXAMPLE_PHOTOS", "EXAMPLE_SCENES", "Example", "REFERENCE_PHOTOS",
           "SHOWCASE", "Showcase", "dream_inputs", "inversion_image", "lecture_example",
           "reference_images", "showcase", "top9_images"]

EXAMPLE_SCENES: tuple[int, ...] = (16, 11, 6, 19)
"""Offsets into :func:`lecturekit.scenes.test_seeds` of the toy examples: fresh scenes
(a star, a ring, a hexagon held by its arm, a crescent) that the toy model classifies
correctly."""

INVERSION_SCENE = 22
"""Offset into :func:`lecturekit.scenes.test_seeds` of the scene the toy figures invert
and dream on."""

CAT_CLASS = "tabby"
"""The ImageNet class of the cat photograph (Chelsea is a tabby)."""

EXAMPLE_PHOTOS: tuple[str, ...] = ("chelsea", "coffee", "camera", "rocket")
"""The sample photos the notebooks explain on photo networks, the cat first."""

CLASS_MODEL_CLASSES: tuple[str, ...] = ("dumbbell", "goose", "ostrich", "bell pepper", "lemon",
                                        "volcano", "goldfish", "flamingo")
"""ImageNet classes for class models: the lecture's dumbbell and classes of Simonyan et
al.'s (2014) figure that ImageNet has."""

REFERENCE_PHOTOS: tuple[str, ...] = ("coffee", "astronaut", "rocket", "grace_hopper")
"""Sample photos used as natural images for a learned prior (the cat is left out: it is
the image the notebooks invert)."""


@dataclass(frozen=True)
class Showcase:
    """Layers worth showing on one architecture: an ``early`` and a ``deep`` layer for
    gradients, DeepDream and the top-9 view, the layer whose channel statistics the learned
    prior matches (``prior_layer``), and the output of the last convolutional block
    (``last_conv``, the layer the lecture's anonymisation warning is about)."""
    early: str
    deep: str
    prior_layer: str
    last_conv: str


SHOWCASE: dict[str, Showcase] = {
    "alexnet": Showcase(early="relu2", deep="conv5", prior_layer="conv4", last_conv="pool5"),
    "efficientnet": Showcase(early="stage2", deep="stage5", prior_layer="stage3",
                             last_conv="head"),
}
"""The showcase layers per architecture (``model.architecture``)."""


def showcase(model: LayeredNetwork) -> Showcase:
    """The showcase layers of ``model``'s architecture."""
    return SHOWCASE[model.architecture]


def _on_scenes(model: LayeredNetwork) -> bool:
    return model.dataset == "scenes"


@dataclass
class Example:
    """Images to explain, with the class to explain them by.

    ``images01`` (N, 3, H, W) in [0, 1] at the model's input size, ``batch``
    the same normalised for the model, ``labels`` one class index per image,
    ``masks`` (N, H, W) the objects' pixels (toy scenes only, else None).
    """

    images01: torch.Tensor
    batch: torch.Tensor
    labels: torch.Tensor
    masks: torch.Tensor | None

    def class_names(self, model: LayeredNetwork) -> list[str]:
        """The name of each image's class."""
        return [model.classes[int(label)] for label in self.labels]


def _scene_batch(model: LayeredNetwork, offsets: tuple[int, ...],
                 size: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    seeds = [scenes.test_seeds(1, offset)[0] for offset in offsets]
    return scenes.make_batch(seeds, size=size or model.input_size)


def lecture_example(model: LayeredNetwork, n: int = 1) -> Example:
    """The image(s) the notebooks explain on ``model``.

    Photo networks: the first ``n`` (at most 4) of :data:`EXAMPLE_PHOTOS`, the
    cat photograph explained by the class "tabby", each other photo by the
    network's own first guess. Toy model: the first ``n`` (at most 4) of
    :data:`EXAMPLE_SCENES`, each with its true class and object mask.
    """
    check_int("n", n, "in 1..4", lambda v: 1 <= v <= 4)
    if _on_scenes(model):
        images01, masks, labels = _scene_batch(model, EXAMPLE_SCENES[:n])
        return Example(images01, model.preprocess.normalise(images01), labels, masks)
    batch = model.preprocess([sample_image(name) for name in EXAMPLE_PHOTOS[:n]])
    with torch.no_grad():
        guesses = model(batch.to(model.device)).argmax(1).cpu()
    labels = torch.cat([torch.tensor([model.class_index(CAT_CLASS)]), guesses[1:]])
    return Example(model.deprocess(batch), batch, labels, None)


def inversion_image(model: LayeredNetwork) -> torch.Tensor:
    """The image the notebook and the figures invert, as a normalised batch (1, 3, S, S)
    on the model's device: a fresh scene for the toy model, Chelsea the cat otherwise."""
    if _on_scenes(model):
        images01, _, _ = _scene_batch(model, (INVERSION_SCENE,))
        return model.preprocess.normalise(images01).to(model.device)
    return model.preprocess(sample_image("chelsea")).to(model.device)


def dream_inputs(model: LayeredNetwork) -> tuple[torch.Tensor, list[str]]:
    """Normalised inputs for DeepDream, with titles: a fresh scene and a photograph for the
    toy model, two sample photographs for photo networks."""
    if _on_scenes(model):
        images01, _, labels = _scene_batch(model, (INVERSION_SCENE,))
        photo = model.preprocess(sample_image("chelsea"))
        batch = torch.cat([model.preprocess.normalise(images01), photo])
        return batch, [f"scene ({model.classes[int(labels[0])]})", "photo (Chelsea)"]
    return model.preprocess([sample_image("chelsea"), sample_image("coffee")]), ["Chelsea",
                                                                                  "coffee"]


def reference_images(model: LayeredNetwork, size: int | None = None,
                     count: int = 16) -> torch.Tensor:
    """Natural images for a learned prior, normalised for ``model``: fresh scenes for the toy
    model (seeds far from any the notebooks invert), :data:`REFERENCE_PHOTOS` otherwise."""
    size = model.input_size if size is None else check_side("size", size, model.min_input_size)
    check_at_least("count", count, 1)
    if _on_scenes(model):
        images, _, _ = scenes.make_batch(scenes.test_seeds(count, offset=50_000), size=size)
        return model.preprocess.normalise(images)
    preprocess = replace(model.preprocess, resize=size, crop=size)
    return preprocess([sample_image(name) for name in REFERENCE_PHOTOS])


def top9_images(model: LayeredNetwork) -> torch.Tensor:
    """Images to search for the strongest activations (the top-9 view): 200 fresh scenes
    on the toy model, the sample photographs and crops of them otherwise."""
    from lecturekit.gradient.top9 import photo_collection, scene_collection

    return scene_collection(model, 200) if _on_scenes(model) else photo_collection(model)

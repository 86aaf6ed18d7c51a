"""The images the lecture shows, chosen in one place for every network.

Networks trained on photographs (ImageNet AlexNet, EfficientNet-Lite0) explain
photographs: Chelsea the cat (scikit-image's sample photograph) by the class
"tabby", as in the lecture's saliency slides, and the other sample photos.
The toy network, trained on the kit's generated scenes, explains fresh scenes
it classifies correctly, each with its true class and its object's mask, so
that maps can be scored against where the object really is. Every notebook,
figure and widget asks this module which images to show, and this module alone
branches on the network's training data for that. (Which *layers* to show is the
network's own business: ``model.lecture_layers``.) The collections searched by the
top-9 view and the natural images of a learned prior are chosen here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from lecturekit import scenes
from lecturekit.images import IMAGE_SUFFIXES, SAMPLE_IMAGES, load_image, sample_image
from lecturekit.models import LayeredNetwork, load_model
from lecturekit.validation import check_at_least, check_int, check_seed, check_side

__all__ = ["CAT_CLASS", "CLASS_MODEL_CLASSES", "EXAMPLE_PHOTOS", "EXAMPLE_SCENES", "Example",
           "REFERENCE_PHOTOS", "SEED_OFFSETS", "dream_inputs", "inversion_image", "lecture_example",
           "photo_collection", "reference_images", "scene_collection", "scene_example",
           "switch_network", "top9_images"]

SEED_OFFSETS: dict[str, int] = {
    "learned prior's reference scenes": 50_000,
    "check: whole network guided": 4000,
    "check: score gradient": 5000,
    "check: pointing game": 5200,
    "check: inversion": 6000,
    "check: inversion, other layer": 6100,
    "check: inversion, prior weights": 6300,
    "check: dream step": 7000,
    "check: cascading randomisation": 8000,
}
"""Every offset into :func:`lecturekit.scenes.test_seeds` that the package uses, in one
table, so that no two uses share scenes by accident (the notebooks' examples are
:data:`EXAMPLE_SCENES` and :data:`INVERSION_SCENE`; the measurements start at 0)."""

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


def scene_example(model: LayeredNetwork, n: int = 1, *, offset: int = 0,
                  seeds: Sequence[int] | None = None, companion: bool | None = None) -> Example:
    """Fresh toy scenes as an :class:`Example` for ``model``: the ``n`` evaluation scenes
    from ``offset`` on (:func:`lecturekit.scenes.test_seeds`), or the scenes of ``seeds``;
    drawn at the model's input size, with their classes and masks, the batch normalised.
    ``companion`` draws every scene's context object or none (None: as the seed says)."""
    if seeds is None:
        seeds = scenes.test_seeds(n, offset)
    images01, masks, labels = scenes.make_batch(list(seeds), size=model.input_size,
                                                companion=companion)
    return Example(images01, model.preprocess.normalise(images01), labels, masks)


def switch_network(model: LayeredNetwork) -> LayeredNetwork:
    """The network for Zeiler & Fergus' reverse network, which needs max-pooling switches:
    ``model`` itself when it has AlexNet's shape, else the toy AlexNet."""
    if model.architecture == "alexnet":
        return model
    return load_model("toy", device=model.device, verbose=False)


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
        seeds = scenes.test_seeds(count, offset=SEED_OFFSETS["learned prior's reference scenes"])
        images, _, _ = scenes.make_batch(seeds, size=size)
        return model.preprocess.normalise(images)
    preprocess = replace(model.preprocess, resize=size, crop=size)
    return preprocess([sample_image(name) for name in REFERENCE_PHOTOS])


def top9_images(model: LayeredNetwork) -> torch.Tensor:
    """Images to search for the strongest activations (the top-9 view): 200 fresh scenes
    on the toy model, the sample photographs and crops of them otherwise."""
    return scene_collection(model, 200) if _on_scenes(model) else photo_collection(model)


# --------------------------------------------------------------------------- collections

def scene_collection(model: LayeredNetwork, n: int = 200, offset: int = 0) -> torch.Tensor:
    """``n`` fresh toy scenes (evaluation seeds, never trained on) as a normalised batch.

    The scenes are drawn at the model's input size; ``offset`` skips that many
    evaluation seeds, for a different collection.
    """
    check_at_least("n", n, 1)
    images, _, _ = scenes.make_batch(scenes.test_seeds(n, offset), size=model.input_size)
    return model.preprocess.normalise(images)


def _folder_images(folder: str | Path) -> list[torch.Tensor]:
    """Every image file directly inside ``folder`` (sorted by name), loaded in [0, 1]."""
    path = Path(folder).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"folder {str(path)!r} does not exist")
    if not path.is_dir():
        raise ValueError(f"folder must be a directory, got the file {str(path)!r}")
    files = sorted(p for p in path.iterdir()
                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"folder {str(path)!r} holds no image file (looked for "
                         f"{', '.join(IMAGE_SUFFIXES)})")
    return [load_image(p) for p in files]


def _sample_images() -> list[torch.Tensor]:
    """The kit's sample photos that are installed here."""
    found, missing = [], []
    for name in SAMPLE_IMAGES:
        try:
            found.append(sample_image(name))
        except (ModuleNotFoundError, FileNotFoundError) as error:
            missing.append(f"{name} ({error})")
    if not found:
        raise FileNotFoundError("none of the sample images is installed: "
                                + "; ".join(missing) + "; or pass folder=")
    return found


def _random_crops(image: torch.Tensor, count: int, generator: torch.Generator) -> list[torch.Tensor]:
    """``count`` square crops of 35 % to 70 % of the image's shorter side, at random places."""
    height, width = image.shape[-2:]
    crops = []
    for _ in range(count):
        fraction = 0.35 + 0.35 * torch.rand((), generator=generator).item()
        side = max(1, int(fraction * min(height, width)))
        top = int(torch.randint(0, height - side + 1, (), generator=generator))
        left = int(torch.randint(0, width - side + 1, (), generator=generator))
        crops.append(image[:, top:top + side, left:left + side])
    return crops


def photo_collection(model: LayeredNetwork, crops_per_image: int = 8,
                     folder: str | Path | None = None, seed: int = 0) -> torch.Tensor:
    """A normalised batch of photos for the top-9 search.

    Takes the kit's sample photos (:data:`lecturekit.images.SAMPLE_IMAGES`),
    or every image file directly inside ``folder`` when one is named. Each
    photo gives its full view (the model's resize + centre crop) followed by
    ``crops_per_image`` random square crops (35-70 % of its shorter side,
    drawn from ``seed``), each scaled to the model's input size, so small
    photo collections still offer many different views.
    """
    check_at_least("crops_per_image", crops_per_image, 0)
    check_seed(seed)
    photos = _sample_images() if folder is None else _folder_images(folder)
    generator = torch.Generator().manual_seed(seed)
    views = []
    for photo in photos:
        views.append(photo)
        views.extend(_random_crops(photo, crops_per_image, generator))
    return model.preprocess(views)

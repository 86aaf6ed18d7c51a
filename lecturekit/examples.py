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

from lecturekit import photo_scenes, scenes
from lecturekit.images import (IMAGE_SUFFIXES, SAMPLE_IMAGES, ImageCollection, load_image,
                               sample_image)
from lecturekit.models import LayeredNetwork, load_model
from lecturekit.validation import check_at_least, check_int, check_seed, check_side

__all__ = ["CAT_CLASS", "CLASS_MODEL_CLASSES", "EXAMPLE_PHOTOS", "EXAMPLE_SCENES", "Example",
           "LECTURE_OBJECTS", "ONE_KIND", "REFERENCE_PHOTOS", "SEED_OFFSETS", "dream_inputs",
           "inversion_image", "lecture_example", "object_example", "one_kind_images",
           "photo_collection", "photo_example", "photo_scene_collection", "reference_images",
           "scene_collection", "scene_example",
           "switch_network", "top9_images"]

SEED_OFFSETS: dict[str, int] = {
    "learned prior's reference scenes": 50_000,
    "learned prior's one-kind scenes": 60_000,
    "two-object photo scenes (localisation)": 100_000,
    "photo galleries (anonymisation)": 200_000,
    "top-9 two-object photo scenes": 300_000,
    "one-object examples": 400_000,
    "check: whole network guided": 4000,
    "check: score gradient": 5000,
    "check: pointing game": 5200,
    "check: inversion": 6000,
    "check: inversion, other layer": 6100,
    "check: inversion, prior weights": 6300,
    "check: dream step": 7000,
    "check: cascading randomisation": 8000,
}
"""Every seed offset the package uses, into the toy's :func:`lecturekit.scenes.test_seeds`
or the photo world's :func:`lecturekit.photo_scenes.photo_seeds`, in one table, so that no
two uses share scenes by accident (the notebooks' toy examples are :data:`EXAMPLE_SCENES`
and :data:`INVERSION_SCENE`; the measurements start at 0)."""

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


ONE_KIND: dict[str, str] = {"photo object": "espresso", "photo background": "grass",
                            "toy class": "ring"}
"""The one kind of image :func:`one_kind_images` fits a learned prior to, to show what the
prior puts into an image of another kind: an espresso on grass (photo scenes) for photo
networks, rings for the toy."""


def _on_scenes(model: LayeredNetwork) -> bool:
    return model.dataset == "scenes"


@dataclass
class Example:
    """Images to explain, with the class to explain them by.

    ``images01`` (N, 3, H, W) in [0, 1] at the model's input size, ``batch``
    the same normalised for the model, ``labels`` one class index per image,
    ``masks`` (N, H, W) where the objects are (toy scenes: their pixels; photo scenes:
    their boxes; else None), ``objects`` the placed objects of each photo scene (else
    None).
    """

    images01: torch.Tensor
    batch: torch.Tensor
    labels: torch.Tensor
    masks: torch.Tensor | None
    objects: list[tuple[photo_scenes.PlacedObject, ...]] | None = None

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


def photo_example(model: LayeredNetwork, n: int = 1, *, n_objects: int = 1,
                  offset: int = 0, names: Sequence[str] | None = None,
                  size: int | None = None) -> Example:
    """Photo scenes (:mod:`lecturekit.photo_scenes`) as an :class:`Example` for an ImageNet
    network: the ``n`` scenes of ``n_objects`` objects from seed ``offset`` on (``names``
    picks the objects), at the model's input size, each explained by its first object's
    class, ``masks`` the union of its objects' boxes and ``objects`` the objects with
    their boxes and classes. ``size``: the scenes' side (default: the model's input size)."""
    size = model.input_size if size is None else check_side("size", size, model.min_input_size)
    images01, made = photo_scenes.make_photo_batch(photo_scenes.photo_seeds(n, offset), size,
                                                   n_objects, names)
    masks = torch.stack([torch.stack([photo_scenes.object_boxes_mask(o.box, size)
                                      for o in scene.objects]).any(dim=0) for scene in made])
    labels = torch.tensor([model.class_index(scene.objects[0].imagenet_class)
                           for scene in made])
    return Example(images01, model.preprocess.normalise(images01), labels, masks,
                   [scene.objects for scene in made])


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


def one_kind_images(model: LayeredNetwork, n: int = 8, size: int | None = None) -> torch.Tensor:
    """``n`` images of one kind (:data:`ONE_KIND`), normalised for ``model``, for a learned
    prior whose influence should be easy to tell apart from the image it helps to invert:
    photo scenes of an espresso cup on grass for photo networks (the cat, the image they
    invert, is neither green nor a cup), fresh scenes of rings for the toy."""
    size = model.input_size if size is None else check_side("size", size, model.min_input_size)
    check_at_least("n", n, 1)
    offset = SEED_OFFSETS["learned prior's one-kind scenes"]
    if _on_scenes(model):
        label = model.class_index(ONE_KIND["toy class"])
        images, _, _ = scenes.make_batch(scenes.class_gallery(label, n, offset), size=size)
    else:
        images, _ = photo_scenes.make_photo_batch(
            photo_scenes.photo_seeds(n, offset), size, names=[ONE_KIND["photo object"]],
            background=ONE_KIND["photo background"])
    return model.preprocess.normalise(images)


def top9_images(model: LayeredNetwork) -> ImageCollection:
    """Images to search for the strongest activations (the top-9 view), each with its
    source: 200 fresh scenes on the toy model; on photo networks 200 photo scenes and the
    sample photographs with 4 crops of each (the crops share their photo's source), 212
    sources in all."""
    if _on_scenes(model):
        return scene_collection(model, 200)
    composites = photo_scene_collection(model, 200)
    photos = photo_collection(model, crops_per_image=4)
    return ImageCollection(torch.cat([composites.images, photos.images]),
                           composites.sources + tuple(len(composites) + s
                                                      for s in photos.sources),
                           composites.objects + ((),) * len(photos))


# --------------------------------------------------------------------------- collections

def scene_collection(model: LayeredNetwork, n: int = 200, offset: int = 0) -> ImageCollection:
    """``n`` fresh toy scenes (evaluation seeds, never trained on), each its own source.

    The scenes are drawn at the model's input size; ``offset`` skips that many
    evaluation seeds, for a different collection.
    """
    check_at_least("n", n, 1)
    images, masks, labels = scenes.make_batch(scenes.test_seeds(n, offset),
                                              size=model.input_size)
    objects = tuple(((scenes.CLASSES[int(label)], _bounding_box(mask)),)
                    for mask, label in zip(masks, labels))
    return ImageCollection(model.preprocess.normalise(images), tuple(range(n)), objects)


def _bounding_box(mask: torch.Tensor) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of a mask's True pixels (bottom and right exclusive)."""
    rows, cols = torch.nonzero(mask, as_tuple=True)
    return int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1


LECTURE_OBJECTS: dict[str, str] = {"imagenet": "cat", "scenes": "star"}
"""The object the top-9 view looks for, by what the network was trained on: the cat of
the photo world on ImageNet networks, the star on the toy."""


def object_example(model: LayeredNetwork, n: int = 24) -> Example:
    """``n`` images of one object, :data:`LECTURE_OBJECTS`: photo scenes of the cat on an
    ImageNet network, fresh scenes of stars on the toy (seeds apart from the top-9
    collection's)."""
    check_at_least("n", n, 1)
    name = LECTURE_OBJECTS["scenes" if _on_scenes(model) else "imagenet"]
    if _on_scenes(model):
        seeds = scenes.class_gallery(model.class_index(name), n,
                                     offset=SEED_OFFSETS["one-object examples"])
        return scene_example(model, seeds=seeds)
    return photo_example(model, n, offset=SEED_OFFSETS["one-object examples"], names=[name])


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


def _sample_images() -> list[tuple[str, torch.Tensor]]:
    """The kit's sample photos that are installed here, with their names."""
    found, missing = [], []
    for name in SAMPLE_IMAGES:
        try:
            found.append((name, sample_image(name)))
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
                     folder: str | Path | None = None, seed: int = 0) -> ImageCollection:
    """Photos for the top-9 search, each with its source (its photo).

    Takes the kit's sample photos (:data:`lecturekit.images.SAMPLE_IMAGES`),
    or every image file directly inside ``folder`` when one is named. Each
    photo gives its full view (the model's resize + centre crop) followed by
    ``crops_per_image`` random square crops (35-70 % of its shorter side,
    drawn from ``seed``), each scaled to the model's input size; all of them share
    the photo's source id.
    """
    check_at_least("crops_per_image", crops_per_image, 0)
    check_seed(seed)
    named = _sample_images() if folder is None else [("", p) for p in _folder_images(folder)]
    generator = torch.Generator().manual_seed(seed)
    views, sources, objects = [], [], []
    whole = (0, 0, model.input_size, model.input_size)
    for source, (name, photo) in enumerate(named):
        views.append(photo)
        views.extend(_random_crops(photo, crops_per_image, generator))
        sources += [source] * (1 + crops_per_image)
        known = _PHOTO_CLASSES.get(name)
        objects += [((known, whole),) if known else ()] * (1 + crops_per_image)
    return ImageCollection(model.preprocess(views), tuple(sources), tuple(objects))


_PHOTO_CLASSES: dict[str, str] = {entry.source: entry.imagenet_class
                                  for entry in photo_scenes.PHOTO_OBJECTS.values()}
"""The sample photos whose object the photo world uses, with its class: every view of
them shows that object (a crop at least part of it)."""


def photo_scene_collection(model: LayeredNetwork, n: int = 200) -> ImageCollection:
    """``n`` photo scenes (:mod:`lecturekit.photo_scenes`; one object in the first half, two
    in the second) at the model's input size, each its own source."""
    check_at_least("n", n, 2)
    single, first = photo_scenes.make_photo_batch(photo_scenes.photo_seeds(n - n // 2),
                                                  model.input_size)
    double, second = photo_scenes.make_photo_batch(
        photo_scenes.photo_seeds(n // 2, SEED_OFFSETS["top-9 two-object photo scenes"]),
        model.input_size, n_objects=2)
    images = model.preprocess.normalise(torch.cat([single, double]))
    return ImageCollection(images, tuple(range(n)),
                           tuple(tuple((o.imagenet_class, o.box) for o in scene.objects)
                                 for scene in first + second))

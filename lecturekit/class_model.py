"""Class-model visualisation: the image a network finds most typical of a class.

Simonyan, Vedaldi & Zisserman (2014, "Deep Inside Convolutional Networks")
look for the image ``I`` that maximises

    S_c(I) - lam * ||I||_2^2

where ``S_c`` is the *unnormalised* score (logit) of class ``c``: maximising the
softmax probability instead could be done by pushing the other classes down.
They start from the zero image, which for a mean-subtracted network is the
mean image, and add the mean back for display. In the kit's normalised space
zero is the dataset mean colour as well. The lecture shows such images for
the ImageNet class "dumbbell": an arm holding the dumbbell appears, because
the two were always seen together in the training photos.

Choices of the kit, each a short departure from the paper:

* Adam instead of plain gradient ascent (plain SGD on these images is known to
  give grey images in a popular public re-implementation, whose images are
  also rounded to uint8 at every step; neither happens here);
* the start is the zero image plus a little seeded noise (``init_std``):
  at exactly zero every unit of the toy network's deeper ReLU layers is off,
  the gradient is exactly zero and the image would never move;
* pixels are clipped to the valid range, so the result is a displayable image;
* optional transform robustness (random pad, jitter, scale, rotation at every
  step; Olah et al. 2017), which gives cleaner, more object-like images.

Several classes run in one batch, one image per class, at the cost of about one.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from lecturekit.models import LayeredAlexNet
from lecturekit.optimisation import Term, optimise
from lecturekit.regularisers import alpha_norm
from lecturekit.targets import Logit
from lecturekit.validation import check_at_least, check_real
from lecturekit.transforms import (Compose, Jitter, Pad, RandomRotate, RandomScale,
                                   standard_robustness)

__all__ = ["ClassModelResult", "class_model", "class_model_claims", "light_robustness",
           "resolve_classes", "robustness_for", "transformed_probability"]

ClassLike = int | str
TransformFn = Callable[[torch.Tensor, torch.Generator], torch.Tensor]

DEFAULT_LAM = 1e-4
"""Weight of ``||I||_2^2`` (normalised units, summed over pixels). The paper gives no
value. On the toy network 1e-3 and more let the penalty win over the class score
near the grey start for some classes (the image shrinks back to the mean, where
the gradient is zero); with 1e-4, Adam at lr 0.1 and 150 steps every class reached
probability 1 for each of 8 seeds, plain and with transform robustness."""
DEFAULT_STEPS = 150
DEFAULT_LR = 0.1


@dataclass
class ClassModelResult:
    """Class-model images and how the network rates them.

    ``image``: the batch in the model's normalised space (N, 3, H, W), one image
    per requested class; ``image01``: the same in [0, 1] on the CPU for display;
    ``probability``: softmax probability of each image's own class; ``logit``:
    its unnormalised score S_c; ``classes`` / ``names``: the class of each
    image; ``history``: one record per step, averaged over the batch.
    """
    image: torch.Tensor
    image01: torch.Tensor
    probability: torch.Tensor
    logit: torch.Tensor
    classes: list[int]
    names: list[str]
    history: list[dict[str, float]] = field(default_factory=list)


# --------------------------------------------------------------------------- classes

def _class_of(model: LayeredAlexNet, item: ClassLike) -> int:
    count = len(model.classes)
    if isinstance(item, str):
        if item in model.classes:
            return model.classes.index(item)
        similar = [c for c in model.classes if item.lower() in c.lower()]
        similar += [c for c in difflib.get_close_matches(item, model.classes, n=5, cutoff=0.6)
                    if c not in similar]
        hint = f"similar names: {', '.join(similar[:8])}" if similar else "no similar name"
        listing = (f"its classes are: {', '.join(model.classes)}" if count <= 20 else
                   f"{count} classes, e.g. {', '.join(model.classes[:4])}")
        raise ValueError(f"class_index_or_name: model {model.name!r} has no class {item!r} "
                         f"({hint}); {listing}")
    if isinstance(item, bool) or not isinstance(item, int):
        raise TypeError(f"class_index_or_name must be a class index (int), a class name (str) "
                        f"or a list of them, got {type(item).__name__}")
    if not 0 <= item < count:
        raise ValueError(f"class_index_or_name: class index {item} is out of range for model "
                         f"{model.name!r} with {count} classes (valid: 0..{count - 1})")
    return item


def resolve_classes(model: LayeredAlexNet, classes: ClassLike | Sequence[ClassLike]) -> list[int]:
    """Class indices for one index or name, or a list of them (names via ``model.classes``)."""
    items = [classes] if isinstance(classes, (int, str)) else list(classes)
    if not items:
        raise ValueError("class_index_or_name is empty; name at least one class")
    return [_class_of(model, item) for item in items]


# --------------------------------------------------------------------------- robustness

def light_robustness() -> Compose:
    """Olah et al.'s (2017) transform recipe at about half strength, for small images:
    pad 6, jitter 4, scale 0.95-1.05, rotate -5..5 degrees, jitter 2.

    On the 128-pixel toy network the full recipe
    (:func:`lecturekit.transforms.standard_robustness`) sometimes lets another
    class win for the hexagon (its logit rises, the crescent's rises faster);
    this lighter one reached probability 1 for every class in our runs.
    """
    return Compose([Pad(6, mode="constant", value=0.0), Jitter(4), RandomScale(0.95, 1.05),
                    RandomRotate(5), Jitter(2)])


def robustness_for(model: LayeredAlexNet) -> Compose:
    """The transform robustness used by ``robust=True``: Olah et al.'s standard recipe
    for ImageNet-sized models (input 200 pixels or more), the light one below that."""
    return standard_robustness() if model.input_size >= 200 else light_robustness()


# --------------------------------------------------------------------------- checks

def _transform(model: LayeredAlexNet, robust: bool | TransformFn) -> TransformFn | None:
    if robust is True:
        return robustness_for(model)
    if robust is False or robust is None:
        return None
    if callable(robust):
        return robust
    raise ValueError(f"robust must be False, True or a transform t(x, generator), got "
                     f"robust={robust!r}")


# --------------------------------------------------------------------------- class model

def _l2(x: torch.Tensor) -> torch.Tensor:
    """``||I||_2^2`` per image (the alpha-norm with alpha = 2)."""
    return alpha_norm(x, 2.0)


def class_model(model: LayeredAlexNet, class_index_or_name: ClassLike | Sequence[ClassLike], *,
                lam: float = DEFAULT_LAM, steps: int = DEFAULT_STEPS, lr: float = DEFAULT_LR,
                robust: bool | TransformFn = False, seed: int = 0, progress: bool = True,
                size: int | None = None, init_std: float = 0.1) -> ClassModelResult:
    """Simonyan et al.'s (2014) class model: maximise ``S_c(I) - lam * ||I||_2^2``.

    ``class_index_or_name``: a class index, a class name (e.g. ``"dumbbell"``
    for ImageNet) or a list of them; each gets its own image, all optimised in
    one batch. Adam at ``lr`` for ``steps`` steps in the model's normalised
    space, from the zero image (the mean colour) plus seeded noise of std
    ``init_std``, pixels clipped to the valid range. ``robust=True`` adds
    random transforms at every step (:func:`robustness_for`); a transform
    ``t(x, generator)`` may be passed instead. ``size`` is the image side
    (default: the model's input size).
    """
    indices = resolve_classes(model, class_index_or_name)
    lam = check_real("lam", lam, "a number >= 0 (the weight of ||I||^2)", lambda v: v >= 0)
    check_at_least("steps", steps, 1)
    check_real("lr", lr, "a number > 0 (Adam's learning rate)", lambda v: v > 0)
    check_real("init_std", init_std, "a number >= 0", lambda v: v >= 0)
    size = model.input_size if size is None else check_at_least("size", size, 63)
    transform = _transform(model, robust)
    generator = torch.Generator().manual_seed(seed)
    init = init_std * torch.randn(len(indices), 3, size, size, generator=generator)
    target = Logit(indices)
    optimised = optimise(model, target, init.to(model.device), maximise=True,
                         terms=[Term("l2", lam, _l2)] if lam > 0 else [],
                         transform=transform, steps=steps, lr=lr, optimiser="adam",
                         progress=progress, seed=seed)
    with torch.no_grad():
        logits = model(optimised.image)
    rows = torch.arange(len(indices))
    index = torch.tensor(indices)
    return ClassModelResult(
        image=optimised.image, image01=model.deprocess(optimised.image),
        probability=torch.softmax(logits, dim=1)[rows, index].cpu(),
        logit=logits[rows, index].cpu(), classes=indices,
        names=[model.classes[i] for i in indices], history=optimised.history)


# --------------------------------------------------------------------------- claims

@torch.no_grad()
def transformed_probability(model: LayeredAlexNet, images: torch.Tensor, classes: Sequence[int],
                            *, n_trials: int = 8, seed: int = 0, max_shift: int = 8,
                            max_degrees: float = 15.0) -> torch.Tensor:
    """Mean softmax probability of each image's class over ``n_trials`` random draws of a
    roll by up to ``max_shift`` pixels and a rotation by up to ``max_degrees`` degrees.

    The draws come from ``seed`` alone, so two sets of images called with the
    same seed see the same transforms.
    """
    check_at_least("n_trials", n_trials, 1)
    generator = torch.Generator().manual_seed(seed)
    transform = Compose([Jitter(max_shift), RandomRotate(max_degrees)])
    rows = torch.arange(len(classes))
    index = torch.tensor(list(classes))
    total = torch.zeros(len(classes))
    for _ in range(n_trials):
        probs = torch.softmax(model(transform(images, generator)), dim=1).cpu()
        total += probs[rows, index]
    return total / n_trials


def class_model_claims(model: LayeredAlexNet, n_trials: int = 8, seed: int = 0,
                       classes: Sequence[ClassLike] | None = None,
                       steps: int = DEFAULT_STEPS, max_shift: int = 8,
                       max_degrees: float = 15.0) -> dict[str, dict]:
    """Measure the class-model claims for every class (or the given ``classes``).

    Per class: ``probability``, the softmax probability of its class-model
    image (optimised without transforms; the target is >= 0.99), and
    ``probability_transformed``: the mean probability over ``n_trials`` random
    rolls (up to 8 px) and rotations (up to 15 degrees) that the image was not
    optimised for, for the image optimised without (``"plain"``) and with
    (``"robust"``) transform robustness; ``max_shift`` and ``max_degrees`` set
    how far. Both images and all transform draws are seeded. Models with more
    than 32 classes need ``classes``.
    """
    if classes is None:
        if len(model.classes) > 32:
            raise ValueError(f"classes: model {model.name!r} has {len(model.classes)} classes; "
                             f"pass the few to measure, e.g. classes=['dumbbell', 'goose']")
        classes = list(range(len(model.classes)))
    indices = resolve_classes(model, classes)
    plain = class_model(model, indices, steps=steps, seed=seed, progress=False)
    robust = class_model(model, indices, steps=steps, seed=seed, robust=True, progress=False)
    moved = {name: transformed_probability(model, result.image, indices, n_trials=n_trials,
                                           seed=seed, max_shift=max_shift,
                                           max_degrees=max_degrees)
             for name, result in (("plain", plain), ("robust", robust))}
    return {model.classes[c]: {"probability": float(plain.probability[i]),
                               "probability_transformed": {name: float(values[i])
                                                           for name, values in moved.items()}}
            for i, c in enumerate(indices)}

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
  give grey images in a popular public re-implementation (pytorch-cnn-visualizations by
  U. Ozbulak), whose images are
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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from lecturekit.models import LayeredNetwork
from lecturekit.optimise.loop import optimise
from lecturekit.optimise.parameterisation import seeded_start
from lecturekit.optimise.priors import PriorKey, check_priors, prior_terms
from lecturekit.optimise.transforms import TransformFn, robust_transform
from lecturekit.result_cache import cached
from lecturekit.targets import Logit
from lecturekit.validation import check_at_least, check_choice, check_real, check_seed, check_side

__all__ = ["CLASS_MODEL_PRIORS", "CLASS_MODEL_RECIPES", "ClassModelRecipe", "ClassModelResult",
           "class_model", "resolve_classes"]

ClassLike = int | str

CLASS_MODEL_PRIORS: dict[str, float] = {"l2": 5.0}
"""The prior of :func:`class_model` unless told: L2, ``||I||_2^2`` per value (normalised
units; :mod:`lecturekit.optimise.priors`), so it means the same at every image size. The
paper gives no value.
On the toy network a weight ten times larger lets the penalty win over the class score
near the grey start for some classes (the image shrinks back to the mean, where the
gradient is zero); with 5 (1e-4 on the plain sum at 128 pixels), Adam at lr 0.1 and 150
steps every class reached probability 1 for each of 8 seeds, plain and with transform
robustness."""
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

def resolve_classes(model: LayeredNetwork, classes: ClassLike | Sequence[ClassLike],
                    argument: str = "class_index_or_name") -> list[int]:
    """Class indices for one index or name, or a list of them (``model.class_index``);
    errors name ``argument``."""
    items = [classes] if isinstance(classes, (int, str)) else list(classes)
    if not items:
        raise ValueError(f"{argument} is empty; name at least one class")
    return [model.class_index(item, argument) for item in items]


# --------------------------------------------------------------------------- recipes

@dataclass(frozen=True)
class ClassModelRecipe:
    """How a class model is searched: which image the optimiser changes
    (``"pixel"`` or ``"fourier"``, :mod:`lecturekit.optimise.parameterisation`),
    whether random transforms act at every step, and Adam's rate and steps."""
    name: str
    parameterisation: str
    robust: bool
    lr: float
    steps: int
    description: str


CLASS_MODEL_RECIPES: dict[str, ClassModelRecipe] = {recipe.name: recipe for recipe in (
    ClassModelRecipe("plain", "pixel", False, DEFAULT_LR, DEFAULT_STEPS,
                     "Simonyan et al. 2014: pixels, L2 prior, no transforms"),
    ClassModelRecipe("robust-pixel", "pixel", True, DEFAULT_LR, DEFAULT_STEPS,
                     "pixels with Olah et al.'s transforms (pad, jitter, scale, rotate)"),
    ClassModelRecipe("robust-fourier", "fourier", True, 0.05, 100,
                     "Olah et al. 2017: decorrelated Fourier image with the transforms"),
)}
"""The three recipes notebook 04 compares; ``"robust-fourier"`` is the kit's default."""


# --------------------------------------------------------------------------- class model

@cached("class_model")
def class_model(model: LayeredNetwork, class_index_or_name: ClassLike | Sequence[ClassLike], *,
                recipe: str = "robust-fourier",
                priors: Mapping[PriorKey, float | None] | None = None,
                robust: bool | TransformFn | None = None, steps: int | None = None,
                lr: float | None = None, seed: int = 0, progress: bool = True,
                size: int | None = None, init_std: float = 0.1,
                **prior_options: Any) -> ClassModelResult:
    """Simonyan et al.'s (2014) class model: maximise ``S_c(I) - lambda * ||I||_2^2 / n``
    (``n`` values per image), searched as ``recipe`` says (:data:`CLASS_MODEL_RECIPES`).
    ``priors`` (default :data:`CLASS_MODEL_PRIORS`, the paper's L2 penalty) may name
    others, as everywhere in the kit (:mod:`lecturekit.optimise.priors`).

    ``class_index_or_name``: a class index, a class name (e.g. ``"dumbbell"``
    for ImageNet) or a list of them; each gets its own image, all optimised in
    one batch with Adam at ``lr`` for ``steps`` steps (None: the recipe's). The
    pixel recipes search the model's normalised space from the zero image (the
    mean colour) plus seeded noise of std ``init_std``, pixels clipped to the
    valid range; ``"robust-fourier"`` searches a
    :class:`~lecturekit.optimise.parameterisation.FourierImage` from its seeded
    near-grey start. ``robust`` (None: the recipe's) adds random transforms at
    every step (:func:`~lecturekit.optimise.transforms.robustness_for`); a transform
    ``t(x, generator)`` may be passed instead. ``size`` is the image side (default: the
    model's input size).
    """
    chosen = CLASS_MODEL_RECIPES[check_choice("recipe", recipe, CLASS_MODEL_RECIPES)]
    indices = resolve_classes(model, class_index_or_name)
    priors = check_priors(CLASS_MODEL_PRIORS if priors is None else priors, prior_options)
    steps = check_at_least("steps", chosen.steps if steps is None else steps, 1)
    lr = check_real("lr", chosen.lr if lr is None else lr, "a number > 0 (Adam's learning rate)",
                    lambda v: v > 0)
    check_real("init_std", init_std, "a number >= 0", lambda v: v >= 0)
    check_seed(seed)
    size = model.input_size if size is None else check_side("size", size, model.min_input_size)
    transform = robust_transform(model, chosen.robust if robust is None else robust)
    init = seeded_start(len(indices), size, chosen.parameterisation, init_std, seed,
                        model.device)
    target = Logit(indices)
    optimised = optimise(model, target, init, maximise=True,
                         terms=prior_terms(priors, prior_options),
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

"""lecturekit: looking inside convolutional networks with gradients and optimisation.

One namespace for the notebooks: ``import lecturekit as lk``. It holds what the
notebooks, the homework and the presentation page use, in the lecture's order (FAU Deep
Learning, "Visualization & Attention, Part 4"); everything else stays importable from
its module (``lecturekit.optimise.inversion_recipes``, ``lecturekit.measure...``):

* the networks and images: ``lk.load_model``, ``lk.sample_image``,
  ``lk.lecture_example``, ``lk.scene_example``, ``lk.scenes`` (the toy world with
  ground-truth masks);
* targets, the pseudo-losses: ``lk.Neuron``, ``lk.Channel``, ``lk.Layer``,
  ``lk.Logit``, ``lk.Probability``, ``lk.FeatureMatching``, ``lk.PerImage`` (one per image);
* the gradient half (:mod:`lecturekit.gradient`): ``lk.input_gradient``,
  ``lk.relu_backward``, ``lk.saliency_map``, ``lk.deconv_project``, ``lk.top9``;
* the optimisation half (:mod:`lecturekit.optimise`): ``lk.optimise``,
  ``lk.deepdream``, ``lk.activation_maximisation``, ``lk.class_model``,
  ``lk.invert``, ``lk.invert_layers``, the priors (``priors={name: weight}`` in every
  method) and the learned prior;
* measuring (:mod:`lecturekit.measure`): ``lk.ssim``, ``lk.psnr``,
  ``lk.edge_concentration``, ``lk.localisation_table``, ``lk.reidentification_rate``, ...;
  the sanity checks: ``lk.cascading_randomisation``, ``lk.independent_randomisation``,
  ``lk.class_sensitivity``, ``lk.rank_correlation``;

``lk.plot`` (matplotlib) and ``lk.widgets`` (ipywidgets) are imported the
first time they are used, so ``import lecturekit`` needs neither.
"""

from __future__ import annotations

import importlib
from typing import Any

from lecturekit import scenes
from lecturekit.examples import (CLASS_MODEL_CLASSES, dream_inputs, inversion_image,
                                 lecture_example, object_example, one_kind_images,
                                 photo_example, reference_images, scene_example, switch_network,
                                 top9_images)
from lecturekit.gradient.backward_rules import RULES, relu_backward
from lecturekit.gradient.deconvnet import deconv_project, zero_all_but
from lecturekit.gradient.gradients import input_gradient, layer_gradient
from lecturekit.gradient.saliency import channel_max_abs, saliency_map
from lecturekit.gradient.top9 import (most_active_channel, most_selective_channel,
                                      objects_seen, receptive_field, strongest_unit, top9)
from lecturekit.images import load_image, sample_image
from lecturekit.measure.accuracy import scene_accuracy
from lecturekit.measure.anonymisation import (all_pairs, layout_correlation,
                                              reidentification_rate)
from lecturekit.measure.class_model_claims import transformed_probability
from lecturekit.measure.class_sensitivity import class_sensitivity
from lecturekit.measure.colour_baseline import colour_baseline_accuracy
from lecturekit.measure.context import context_claims, grow_class, new_skin_share, place_energy
from lecturekit.measure.edge_profile import edge_profile, strongest_edge
from lecturekit.measure.inversion_claims import spearman
from lecturekit.measure.orientation import rotation_caveat
from lecturekit.measure.prior_influence import learned_prior_influence
from lecturekit.measure.localisation import localisation_table
from lecturekit.measure.photo_localisation import photo_pointing, two_object_test
from lecturekit.measure.randomisation import cascading_randomisation, independent_randomisation
from lecturekit.models import layer_table, load_model, top_predictions
from lecturekit.models.geometry import layer_roles
from lecturekit.optimise.class_model import CLASS_MODEL_RECIPES, class_model
from lecturekit.optimise.deepdream import (activation_maximisation, deepdream, max_octaves,
                                           normalised_step_size)
from lecturekit.optimise.inversion import CHOICE_LABELS, invert, invert_layers
from lecturekit.optimise.inversion_recipes import default_recipe
from lecturekit.optimise.learned_prior import FeatureStatisticsPrior
from lecturekit.optimise.loop import Term, optimise, pixel_bounds
from lecturekit.scenes import class_gallery
from lecturekit.similarity import edge_concentration, psnr, rank_correlation, ssim
from lecturekit.targets import (Channel, FeatureMatching, Layer, Logit, Neuron, PerImage,
                                Probability)

__version__ = "0.1.0"

_LAZY = {"plot": "lecturekit.ui.plot", "widgets": "lecturekit.ui.widgets"}

__all__ = [
    "CHOICE_LABELS", "CLASS_MODEL_CLASSES", "CLASS_MODEL_RECIPES", "Channel",
    "FeatureMatching", "FeatureStatisticsPrior", "Layer", "Logit", "Neuron", "PerImage",
    "Probability", "RULES", "Term", "activation_maximisation", "all_pairs",
    "cascading_randomisation", "channel_max_abs", "class_gallery", "class_model",
    "class_sensitivity", "colour_baseline_accuracy", "context_claims", "deconv_project",
    "deepdream", "default_recipe", "dream_inputs", "edge_concentration", "edge_profile",
    "grow_class", "independent_randomisation", "input_gradient", "inversion_image", "invert",
    "invert_layers", "layer_gradient", "layer_roles", "layer_table", "layout_correlation",
    "learned_prior_influence", "lecture_example", "load_image", "load_model",
    "localisation_table", "max_octaves", "most_active_channel", "most_selective_channel",
    "new_skin_share", "normalised_step_size", "object_example", "objects_seen", "one_kind_images", "optimise",
    "photo_example", "photo_pointing", "pixel_bounds", "place_energy", "plot", "psnr",
    "rank_correlation", "receptive_field", "reference_images", "reidentification_rate",
    "relu_backward", "rotation_caveat", "saliency_map", "sample_image", "scene_accuracy",
    "scene_example", "scenes", "spearman", "ssim", "strongest_edge", "strongest_unit",
    "switch_network", "top9", "top9_images", "top_predictions", "transformed_probability",
    "two_object_test", "widgets", "zero_all_but",
]


def __getattr__(name: str) -> Any:
    """``lk.plot`` and ``lk.widgets``: imported on first use (matplotlib, ipywidgets)."""
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        globals()[name] = module
        return module
    raise AttributeError(f"module 'lecturekit' has no attribute {name!r}")

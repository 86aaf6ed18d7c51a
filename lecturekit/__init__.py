"""lecturekit: looking inside convolutional networks with gradients and optimisation.

One namespace for the notebooks: ``import lecturekit as lk``. It follows the
lecture (FAU Deep Learning, "Visualization & Attention, Part 4"):

* the networks and images: ``lk.load_model``, ``lk.sample_image``,
  ``lk.lecture_example``, ``lk.scenes`` (the toy world with ground-truth masks);
* targets, the pseudo-losses: ``lk.Neuron``, ``lk.Channel``, ``lk.Layer``,
  ``lk.Logit``, ``lk.Probability``, ...;
* the gradient half (:mod:`lecturekit.gradient`): ``lk.input_gradient``,
  ``lk.relu_backward``, ``lk.backward_rule``, ``lk.saliency_map``,
  ``lk.deconv_project``, ``lk.top9``;
* the optimisation half (:mod:`lecturekit.optimise`): ``lk.optimise``,
  ``lk.deepdream``, ``lk.activation_maximisation``, ``lk.class_model``,
  ``lk.invert``, ``lk.invert_layers``, the priors and transforms;
* measuring (:mod:`lecturekit.measure`): ``lk.ssim``, ``lk.psnr``, ``lk.edge_concentration``,
  ``lk.localisation_table``, ``lk.scene_accuracy``, ``lk.colour_baseline_accuracy``,
  ``lk.context_claims``, ``lk.reidentification_rate``.

``lk.plot`` (matplotlib) and ``lk.widgets`` (ipywidgets) are imported the
first time they are used, so ``import lecturekit`` needs neither.
"""

from __future__ import annotations

import importlib
from typing import Any

from lecturekit import scenes
from lecturekit.scenes import class_gallery
from lecturekit.examples import (CAT_CLASS, CLASS_MODEL_CLASSES, Example, dream_inputs,
                                 inversion_image, lecture_example, reference_images, showcase,
                                 top9_images)
from lecturekit.gradient.backward_rules import RULES, backward_rule, relu_backward
from lecturekit.gradient.deconvnet import deconv_project, isolate
from lecturekit.gradient.gradients import input_gradient, layer_gradient
from lecturekit.gradient.saliency import channel_max_abs, gradient_to_rgb, saliency_map
from lecturekit.gradient.top9 import most_active_channel, receptive_field, top9
from lecturekit.images import Preprocessing, load_image, sample_image
from lecturekit.measure.accuracy import scene_accuracy
from lecturekit.measure.anonymisation import (all_pairs, layout_correlation,
                                              reidentification_rate)
from lecturekit.measure.class_model_claims import transformed_probability
from lecturekit.measure.colour_baseline import colour_baseline_accuracy
from lecturekit.measure.context import context_claims, grow_class, place_energy
from lecturekit.measure.inversion_claims import spearman
from lecturekit.measure.localisation import localisation_table
from lecturekit.measure.similarity import edge_concentration, psnr, ssim
from lecturekit.models import (LayeredNetwork, layer_table, load_model, top_predictions)
from lecturekit.optimise.class_model import CLASS_MODEL_RECIPES, class_model
from lecturekit.optimise.deepdream import (activation_maximisation, deepdream, max_octaves,
                                           normalised_step_size)
from lecturekit.optimise.inversion import (RECIPES, REGULARISER_LABELS, REGULARISER_NAMES,
                                           default_lambda, default_recipe, invert,
                                           invert_layers)
from lecturekit.optimise.learned_prior import FeatureStatisticsPrior
from lecturekit.optimise.loop import Term, optimise, pixel_bounds
from lecturekit.optimise.parameterisation import FourierImage
from lecturekit.optimise.priors import PRIORS, prior_term
from lecturekit.optimise.regularisers import (alpha_norm, gaussian_blur, low_pass_penalty,
                                              total_variation, wavelet_sparsity)
from lecturekit.optimise.transforms import (Compose, Jitter, Pad, RandomRotate, RandomScale,
                                            robustness_for, standard_robustness)
from lecturekit.targets import (Channel, FeatureMatching, Layer, LayerL2, Logit, Neuron,
                                Probability, Target)

__version__ = "0.1.0"

_LAZY = {"plot": "lecturekit.ui.plot", "widgets": "lecturekit.ui.widgets"}

__all__ = [
    "CAT_CLASS", "CLASS_MODEL_CLASSES", "CLASS_MODEL_RECIPES", "Channel", "Compose",
    "Example", "FeatureMatching", "FeatureStatisticsPrior", "FourierImage", "Jitter", "Layer",
    "LayerL2", "LayeredNetwork", "Logit", "Neuron", "PRIORS", "Pad", "Preprocessing",
    "Probability", "RECIPES", "REGULARISER_LABELS", "REGULARISER_NAMES", "RULES",
    "RandomRotate", "RandomScale", "Target", "Term", "activation_maximisation", "all_pairs",
    "alpha_norm", "backward_rule", "channel_max_abs", "class_gallery", "class_model",
    "colour_baseline_accuracy", "context_claims", "deconv_project", "deepdream",
    "default_lambda", "default_recipe", "dream_inputs", "edge_concentration", "gaussian_blur",
    "gradient_to_rgb", "grow_class", "input_gradient", "inversion_image", "invert",
    "invert_layers", "isolate", "layer_gradient", "layer_table", "layout_correlation",
    "lecture_example", "load_image", "load_model", "localisation_table", "low_pass_penalty",
    "max_octaves", "most_active_channel", "normalised_step_size", "optimise", "pixel_bounds",
    "place_energy", "plot", "prior_term", "psnr", "receptive_field", "reference_images",
    "reidentification_rate", "relu_backward", "robustness_for", "saliency_map",
    "sample_image", "scene_accuracy", "scenes", "showcase", "spearman", "ssim",
    "standard_robustness", "top9", "top9_images", "top_predictions", "total_variation",
    "transformed_probability", "wavelet_sparsity", "widgets",
]


def __getattr__(name: str) -> Any:
    """``lk.plot`` and ``lk.widgets``: imported on first use (matplotlib, ipywidgets)."""
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        globals()[name] = module
        return module
    raise AttributeError(f"module 'lecturekit' has no attribute {name!r}")

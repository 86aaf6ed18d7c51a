"""The kit's figures (matplotlib), reached as ``lk.plot``: imported only when used.

Two kinds of function, named for what they do: ``show_<thing>(...)`` draws results that
were computed already (``show_images``, ``show_gradients``, ``show_rule_comparison``,
...); ``<thing>_figure(model)`` computes what it shows on ``model`` and draws it (the
figures of ``python -m lecturekit figures`` and the presentation page's gallery).
``save_figure`` writes any of them. The gradient half's figures live in :mod:`.gradient`,
DeepDream's and class models' in :mod:`.dream`, inversion's in :mod:`.inversion`, the sanity
checks' in :mod:`.sanity`.
"""

from lecturekit.ui.plot.common import save_figure, show_images
from lecturekit.ui.plot.dream import (class_model_figure, deepdream_figure, show_class_models,
                                      show_context, show_orientation)
from lecturekit.ui.plot.gradient import (RULE_TITLES, show_gradients, show_relu_rules,
                                         show_rule_comparison, show_saliency, show_top9)
from lecturekit.ui.plot.inversion import (inversion_grid_figure, lecture_priors,
                                          regulariser_figure, show_edge_zoom, show_inversion_grid,
                                          show_prior_influence, show_regularisers,
                                          show_similarity_matrices)
from lecturekit.ui.plot.sanity import show_class_sensitivity, show_randomisation

__all__ = ["RULE_TITLES", "class_model_figure", "deepdream_figure", "inversion_grid_figure",
           "lecture_priors", "regulariser_figure", "save_figure", "show_class_models",
           "show_class_sensitivity", "show_context", "show_edge_zoom", "show_gradients",
           "show_images", "show_inversion_grid", "show_orientation", "show_prior_influence",
           "show_randomisation", "show_regularisers", "show_relu_rules", "show_rule_comparison",
           "show_saliency", "show_similarity_matrices", "show_top9"]

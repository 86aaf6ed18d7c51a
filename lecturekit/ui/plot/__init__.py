"""The kit's figures (matplotlib), reached as ``lk.plot``: imported only when used.

``show_images`` and ``save_figure`` (:mod:`.common`) serve every figure; the
gradient half's figures live in :mod:`.gradient`, DeepDream's and class models'
in :mod:`.dream`, inversion's in :mod:`.inversion`.
"""

from lecturekit.ui.plot.common import save_figure, show_images
from lecturekit.ui.plot.dream import class_model_figure, context_figure, deepdream_figure
from lecturekit.ui.plot.gradient import (RULE_TITLES, relu_rules_example, rule_comparison,
                                         saliency_overlay, show_gradients, top9_figure)
from lecturekit.ui.plot.inversion import (COMPARED_REGULARISERS, inversion_grid_figure,
                                          plot_inversion_grid, plot_regularisers,
                                          regulariser_figure)

__all__ = ["COMPARED_REGULARISERS", "RULE_TITLES", "class_model_figure", "context_figure",
           "deepdream_figure", "inversion_grid_figure", "plot_inversion_grid",
           "plot_regularisers", "regulariser_figure", "relu_rules_example", "rule_comparison",
           "saliency_overlay", "save_figure", "show_gradients", "show_images", "top9_figure"]

"""Checks for the homework gaps: "correct", or what is most likely wrong, in plain words.

Each homework notebook in ``exercises/`` has gaps; the cell right after a gap calls one
function of this package with the student's function. The check runs it on fresh inputs
(random values, zeros, negative values and ties; several layers, batch sizes, image sizes
and classes) and compares the result with the kit's own implementation. It also watches
what the function does around its answer: a function that changes its inputs, leaves
``requires_grad`` or a ``.grad`` on the caller's tensors, changes the model, patches torch,
or answers differently the second time is not correct either (:mod:`.machinery`).

* ``correct: ...`` is printed when everything agrees;
* otherwise :class:`CheckFailed` says what is wrong. To name a mistake, the check computes
  what the known wrong versions return (plain backprop handed in as guided backprop, masks
  combined with OR, a sum over the colour channels instead of the maximum, a TV whose two
  differences sit at different pixels, a DeepDream step that descends, ...) and names the
  one whose results match the student's on every case; when none does, the message shows
  the first case that differs. The ``mistake`` attribute holds the mistake's short key.
  A notebook shows the message alone, not a traceback through the checks; when the
  student's function raised, that error's traceback follows from the student's own frame
  (``CheckFailed._render_traceback_``).

The checks use only torch, numpy and the kit; the models are fresh copies of the bundled
toy network on the CPU (and, for the cascading randomisation, a small seeded network with
batch norm), so a check never changes the notebook's own model and never needs a download. They do not depend on the toy's exact weights: every right answer is computed
by the kit at check time.
"""

from lecturekit.course.checks.machinery import CheckFailed
from lecturekit.course.checks.optimisation import (check_class_model_step, check_dream_step,
                                                   check_inversion)
from lecturekit.course.checks.regularisers import check_alpha_norm, check_total_variation
from lecturekit.course.checks.relu import (check_backprop_rule, check_deconvnet_rule,
                                           check_guided_rule, check_whole_network_guided)
from lecturekit.course.checks.saliency import (check_pointing_game, check_saliency,
                                               check_score_gradient)
from lecturekit.course.checks.sanity import check_cascading_randomisation

__all__ = ["CheckFailed", "check_alpha_norm", "check_backprop_rule",
           "check_cascading_randomisation", "check_class_model_step", "check_deconvnet_rule",
           "check_dream_step", "check_guided_rule", "check_inversion", "check_pointing_game",
           "check_saliency", "check_score_gradient", "check_total_variation",
           "check_whole_network_guided"]

"""The image priors by the names the lecture gives them, in one table.

Inversion, DeepDream from noise, class models and the inversion explorer all
add ``lambda * R(x)`` to their objective; :data:`PRIORS` is the one place that
says which ``R`` a name means, which options it takes and how it is scaled:

======== ======================= ===================================== =========
name     label                   R (:mod:`~lecturekit.optimise.regularisers`)  options
======== ======================= ===================================== =========
l2       L2 (alpha-norm, 2)      ``sum |x|^2`` (Simonyan et al. 2014)   alpha=2
alpha    alpha-norm (6)          ``sum |x|^alpha`` (Mahendran & Vedaldi) alpha=6
tv       total variation         ``TV_beta`` (Mahendran & Vedaldi 2015) beta=2
low_pass low-pass                energy a Gaussian blur removes         sigma=1
wavelet  wavelet sparsity        L1 of Haar details (Mallat 1989)        levels=2
======== ======================= ===================================== =========

Scaling: a prior's penalty is ``R(x / scale) / n`` per image, ``n`` the number
of values of one image, so a weight means the same at every image size.
Inversion passes ``scale = rho``, Mahendran & Vedaldi's typical pixel
(:func:`lecturekit.optimise.inversion.typical_magnitude`), which is their
division by ``B^2``; the other methods use ``scale = 1``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from lecturekit.optimise.loop import Term
from lecturekit.optimise.regularisers import (alpha_norm, low_pass_penalty, total_variation,
                                              wavelet_sparsity)
from lecturekit.validation import check_choice, check_real

__all__ = ["PRIORS", "Prior", "get_prior", "prior_term"]


@dataclass(frozen=True)
class Prior:
    """One image prior: its ``name``, a readable ``label``, the regulariser ``function``
    (batch -> one value per image) and its ``options`` with their defaults."""
    name: str
    label: str
    function: Callable[..., torch.Tensor]
    options: dict[str, float] = field(default_factory=dict)

    def penalty(self, scale: float = 1.0, **options: Any) -> Callable[[torch.Tensor],
                                                                      torch.Tensor]:
        """``x -> R(x / scale) / n`` with ``options`` (defaults for the ones not given)."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            valid = ", ".join(self.options) or "none"
            raise TypeError(f"the {self.name} prior takes no option {', '.join(unknown)}; "
                            f"valid options: {valid}")
        scale = check_real("scale", scale, "a number > 0", lambda v: v > 0)
        settings = {**self.options, **options}
        function = self.function

        def penalty(x: torch.Tensor) -> torch.Tensor:
            return function(x / scale if scale != 1.0 else x, **settings) / x[0].numel()

        return penalty


PRIORS: dict[str, Prior] = {prior.name: prior for prior in (
    Prior("l2", "L2 (alpha-norm, 2)", alpha_norm, {"alpha": 2.0}),
    Prior("alpha", "alpha-norm (6)", alpha_norm, {"alpha": 6.0}),
    Prior("tv", "total variation", total_variation, {"beta": 2.0}),
    Prior("low_pass", "low-pass", low_pass_penalty, {"sigma": 1.0}),
    Prior("wavelet", "wavelet sparsity", wavelet_sparsity, {"levels": 2}),
)}
"""The lecture's penalty priors, by name."""


def get_prior(name: str) -> Prior:
    """The prior called ``name`` in :data:`PRIORS`."""
    return PRIORS[check_choice("prior", name, PRIORS)]


def prior_term(name: str, weight: float | torch.Tensor, scale: float = 1.0,
               **options: Any) -> Term:
    """The prior ``name`` as a weighted term of the optimisation loop."""
    return Term(name, weight, get_prior(name).penalty(scale, **options))

"""The image priors by the names the lecture gives them, in one table, asked for one way.

Activation maximisation, class models and inversion all add ``lambda * R(x)`` to their
objective, and all three take the priors the same way: ``priors={name: weight}``, with
each prior's options (``alpha``, ``beta``, ``sigma``, ``levels``) as keywords beside it,
for example ``lk.invert(model, image, layer, priors={"tv": 1.0}, beta=1.0)``. A weight
of None asks for the prior's default weight; ``priors={}`` for no prior at all. A key may
also be a ready regulariser such as a
:class:`~lecturekit.optimise.learned_prior.FeatureStatisticsPrior` (the lecture's learned
prior), used as it is. :data:`PRIORS` is the one place that says what a name means:

======== ======================= ======================================== =============
name     label                   R (:mod:`~lecturekit.optimise.regularisers`) option
======== ======================= ======================================== =============
l2       L2 (alpha-norm, 2)      ``sum |x|^2`` (Simonyan et al. 2014)      none
alpha    alpha-norm              ``sum |x|^alpha`` (Mahendran & Vedaldi)   alpha = 6
tv       total variation         ``TV_beta`` (Mahendran & Vedaldi 2015)    beta = 2
low_pass low-pass                energy a Gaussian blur removes            sigma = 1
wavelet  wavelet sparsity        L1 of Haar details (Mallat 1989)          levels = 2
======== ======================= ======================================== =============

Each prior also carries the range of its option (the explorer's slider) and its default
weight for inversion per layer group (early, middle, deep), chosen on the toy network so
that each visibly acts without swamping the feature term.

Scaling: a prior's penalty is ``R(x / scale) / n`` per image, ``n`` the number of values of
one image, so a weight means the same at every image size. Inversion passes ``scale =
rho``, Mahendran & Vedaldi's typical pixel, which is their division by ``B^2``
(:func:`lecturekit.optimise.inversion.typical_magnitude`); the other methods use 1.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

import torch

from lecturekit.optimise.loop import Term
from lecturekit.optimise.regularisers import (alpha_norm, low_pass_penalty, total_variation,
                                              wavelet_sparsity)
from lecturekit.validation import check_choice, check_real

__all__ = ["Option", "PRIORS", "Prior", "PriorKey", "check_priors", "get_prior", "prior_term",
           "prior_terms"]

Regulariser = Callable[[torch.Tensor], torch.Tensor]
PriorKey = Union[str, Regulariser]
"""A key of ``priors=``: a name of :data:`PRIORS`, or a ready regulariser ``R(x)`` (one value
per image), such as a learned prior."""


@dataclass(frozen=True)
class Option:
    """One option of a prior: its default and the range the explorer's slider offers."""
    default: float
    low: float
    high: float
    step: float

    @property
    def whole(self) -> bool:
        """Whether the option takes whole numbers only (a step of 1 from a whole default)."""
        return self.step == 1 and float(self.default).is_integer()


@dataclass(frozen=True)
class Prior:
    """One image prior: its ``name``, a readable ``label``, the regulariser ``function``
    (batch -> one value per image), its ``options`` and its default inversion weights
    per layer group (``inversion_weights``: early, middle, deep)."""
    name: str
    label: str
    function: Callable[..., torch.Tensor]
    options: dict[str, Option] = field(default_factory=dict)
    inversion_weights: tuple[float, float, float] = (0.0, 0.0, 0.0)
    fixed: dict[str, float] = field(default_factory=dict)

    def penalty(self, scale: float = 1.0, **options: Any) -> Regulariser:
        """``x -> R(x / scale) / n`` with ``options`` (defaults for the ones not given)."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            valid = ", ".join(self.options) or "none"
            raise TypeError(f"the {self.name} prior takes no option {', '.join(unknown)}; "
                            f"valid options: {valid}")
        scale = check_real("scale", scale, "a number > 0", lambda v: v > 0)
        settings = {**self.fixed, **{k: o.default for k, o in self.options.items()}, **options}
        function = self.function

        def penalty(x: torch.Tensor) -> torch.Tensor:
            return function(x / scale if scale != 1.0 else x, **settings) / x[0].numel()

        return penalty


PRIORS: dict[str, Prior] = {prior.name: prior for prior in (
    Prior("l2", "L2 (alpha-norm, 2)", alpha_norm, fixed={"alpha": 2.0},
          inversion_weights=(0.02, 0.2, 0.3)),
    Prior("alpha", "alpha-norm", alpha_norm, {"alpha": Option(6.0, 1.0, 8.0, 0.5)},
          inversion_weights=(0.003, 0.03, 0.05)),
    Prior("tv", "total variation", total_variation, {"beta": Option(2.0, 1.0, 3.0, 0.25)},
          inversion_weights=(0.3, 3.0, 5.0)),
    Prior("low_pass", "low-pass", low_pass_penalty, {"sigma": Option(1.0, 0.5, 3.0, 0.25)},
          inversion_weights=(0.3, 3.0, 5.0)),
    Prior("wavelet", "wavelet sparsity", wavelet_sparsity, {"levels": Option(2, 1, 3, 1)},
          inversion_weights=(0.02, 0.2, 0.3)),
)}
"""The lecture's penalty priors, by name."""


def get_prior(name: str) -> Prior:
    """The prior called ``name`` in :data:`PRIORS`."""
    return PRIORS[check_choice("prior", name, PRIORS)]


def prior_term(name: str, weight: float | torch.Tensor, scale: float = 1.0,
               **options: Any) -> Term:
    """The prior ``name`` as a weighted term of the optimisation loop."""
    return Term(name, weight, get_prior(name).penalty(scale, **options))


def _key_name(key: PriorKey) -> str:
    return key if isinstance(key, str) else getattr(key, "name", type(key).__name__)


def check_priors(priors: Mapping[PriorKey, float | None],
                 options: Mapping[str, Any]) -> dict[PriorKey, float | None]:
    """``priors`` checked: names of :data:`PRIORS` or callables, weights >= 0 or None, and
    every option in ``options`` taken by one of the named priors."""
    if not isinstance(priors, Mapping):
        raise TypeError(f"priors must be a dict {{prior name: weight}}, e.g. {{'tv': 1.0}}, got "
                        f"{type(priors).__name__}; valid names: {', '.join(PRIORS)}")
    checked: dict[PriorKey, float | None] = {}
    for key, weight in priors.items():
        if isinstance(key, str):
            get_prior(key)
        elif not callable(key):
            raise TypeError(f"a key of priors must be a prior name ({', '.join(PRIORS)}) or a "
                            f"regulariser R(x), got {key!r}")
        if weight is not None:
            weight = check_real(f"the weight of prior {_key_name(key)!r}", weight,
                                "a number >= 0 or None (the default weight)", lambda v: v >= 0)
        checked[key] = weight
    taken = {option for key in checked if isinstance(key, str) for option in PRIORS[key].options}
    unknown = sorted(set(options) - taken)
    if unknown:
        named = [key for key in checked if isinstance(key, str)]
        raise TypeError(f"option(s) {', '.join(unknown)} belong to no prior asked for "
                        f"({', '.join(map(_key_name, checked)) or 'none'}); the priors' options: "
                        + "; ".join(f"{n}: {', '.join(PRIORS[n].options) or 'none'}"
                                    for n in (named or PRIORS)))
    return checked


def prior_terms(priors: Mapping[PriorKey, float | None], options: Mapping[str, Any], *,
                weight_of: Callable[[PriorKey], float | torch.Tensor] | None = None,
                scale: float = 1.0) -> list[Term]:
    """The loop's terms for ``priors`` (checked by :func:`check_priors`): a named prior with
    its ``options`` and ``scale``, a callable as it is; a weight of None becomes
    ``weight_of(key)`` (a method without default weights passes None and the weight must be
    given). Priors of weight 0 are left out."""
    terms = []
    for key, weight in priors.items():
        if weight is None and weight_of is None:
            raise ValueError(f"the prior {_key_name(key)!r} has no default weight here; give "
                             f"one, e.g. priors={{{_key_name(key)!r}: 1.0}}")
        weight = weight_of(key) if weight is None else weight
        if not torch.is_tensor(weight) and weight == 0:
            continue
        if isinstance(key, str):
            own = {k: v for k, v in options.items() if k in PRIORS[key].options}
            terms.append(prior_term(key, weight, scale, **own))
        else:
            terms.append(Term(_key_name(key), weight, key))
    return terms

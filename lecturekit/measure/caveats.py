"""The regularisers' caveats, measured: what transform robustness takes away (an early
map's orientation, :mod:`lecturekit.measure.orientation`) and what a learned prior puts in
(colours of its own images, :mod:`lecturekit.measure.prior_influence`). ``evaluate``
reports both under ``"caveats"``."""

from __future__ import annotations

from lecturekit.measure.orientation import orientation_claims
from lecturekit.measure.prior_influence import prior_influence_claims
from lecturekit.models import LayeredNetwork

__all__ = ["caveat_claims"]


def caveat_claims(model: LayeredNetwork) -> dict[str, dict[str, object]]:
    """The lecture's two warnings on ``model``: ``"orientation"``
    (:func:`~lecturekit.measure.orientation.orientation_claims`) and ``"learned_prior"``
    (:func:`~lecturekit.measure.prior_influence.prior_influence_claims`)."""
    return {"orientation": orientation_claims(model),
            "learned_prior": prior_influence_claims(model)}

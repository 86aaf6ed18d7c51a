"""A learned image prior: "I want a specific distribution in layer #4".

The lecture ends its list of regularisers for inversion with *learned priors*:
a trained network judges whether an image looks natural, for instance by
asking that the activations of one of its layers be distributed as they are
for real images. :class:`FeatureStatisticsPrior` is the simplest prior of that
kind: it measures, once, the mean and standard deviation of every channel of a
chosen layer on a set of natural reference images, and penalises an image
whose channels have other statistics. The same statistics drive style
transfer (Gatys, Ecker & Bethge 2016 match second-order statistics; Huang &
Belongie 2017 match exactly these per-channel means and standard deviations).

Why this prior and not a generative model (Nguyen et al. 2016 use a GAN as the
prior): it needs no training, nothing to download, and runs offline on the
kit's own network in a fraction of a second. It also shows the lecture's
caveat in plain sight: what the prior adds comes from its *reference images*,
not from the activations being inverted. Strong weights paint the references'
colours and textures into the reconstruction, which is information the
inverted layer never held.
"""

from __future__ import annotations

import torch

from lecturekit.models import LayeredNetwork

__all__ = ["FeatureStatisticsPrior"]


class FeatureStatisticsPrior:
    """Penalty for images whose layer-``layer`` channel statistics differ from natural ones.

    ``reference_images`` is a normalised batch (N, 3, H, W) of natural images.
    Their activations at ``layer`` give, per channel c, a mean ``M_c`` and a
    standard deviation ``S_c`` (pooled over images and positions). Called on a
    batch ``x``, the prior computes each image's own per-channel mean ``m_c``
    and standard deviation ``s_c`` (over positions) and returns, per image,

        mean_c [ ((m_c - M_c) / D_c)^2 + ((s_c - S_c) / D_c)^2 ],

    with ``D_c = S_c + 0.1 * mean(S)`` so that every channel counts about
    equally and near-silent channels do not explode the penalty. The result
    has shape (N,) and is differentiable in ``x``. With a single reference
    image, that image's own penalty is exactly zero.

    ``layer`` (default: the network's ``lecture_layers.prior_layer``, ``conv4`` on
    AlexNet) must have spatial maps: fully connected layers have no positions to
    take statistics over. What the prior learns comes from ``reference_images``
    alone; :func:`lecturekit.examples.reference_images` gives the kit's choice.
    """

    name = "learned"
    label = "learned prior"
    inversion_weights: tuple[float, float, float] = (0.1, 0.3, 0.5)
    """Default weights when it is a prior of inversion, per layer group (early, middle,
    deep), as :data:`lecturekit.optimise.priors.PRIORS` have theirs."""

    def __init__(self, model: LayeredNetwork, reference_images: torch.Tensor,
                 layer: str | None = None) -> None:
        layer = model.check_layer(model.lecture_layers.prior_layer if layer is None else layer)
        model.check_batch(reference_images, "reference_images")
        self.model = model
        self.layer = layer
        with torch.no_grad():
            acts = model.forward_to(reference_images.to(model.device), layer)
        if acts.ndim != 4:
            spatial = [name for name, a in model.activations(reference_images[:1].to(
                model.device), model.layer_names).items() if a.ndim == 4]
            raise ValueError(f"layer must have spatial maps for channel statistics, got "
                             f"{layer!r} with activations of shape {tuple(acts.shape)}; "
                             f"valid: {', '.join(spatial)}")
        channels = acts.transpose(0, 1).reshape(acts.shape[1], -1)
        self.mean = channels.mean(1)
        self.std = channels.std(1, unbiased=False)
        self.scale = self.std + 0.1 * self.std.mean().clamp_min(1e-6)

    def statistics(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-image, per-channel mean and standard deviation of ``layer``, each (N, C)."""
        acts = self.model.forward_to(x, self.layer)
        flat = acts.reshape(acts.shape[0], acts.shape[1], -1)
        mean = flat.mean(2)
        std = (flat - mean.unsqueeze(2)).square().mean(2).clamp_min(1e-12).sqrt()
        return mean, std

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The penalty of every image of the batch ``x``, shape (N,)."""
        mean, std = self.statistics(x)
        scale = self.scale.to(mean)
        return (((mean - self.mean.to(mean)) / scale).square().mean(1)
                + ((std - self.std.to(std)) / scale).square().mean(1))

    def __repr__(self) -> str:
        return f"FeatureStatisticsPrior(layer={self.layer!r}, channels={self.mean.numel()})"

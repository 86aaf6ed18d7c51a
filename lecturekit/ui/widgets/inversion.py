"""The inversion explorer (ipywidgets): Mahendran & Vedaldi's inversion behind sliders.

:class:`InversionExplorer` puts Mahendran & Vedaldi's (2015) inversion behind
three controls: which layer's activations to keep, which image prior to use
(the lecture's list: L2, alpha-norm, total variation, low-pass, wavelet,
transform robustness, a learned prior), and how strongly (lambda, on a log
scale). Sliders compute when released; every finished setting is cached, so
going back to it is instant.

Importing :mod:`lecturekit` does not import this module or ipywidgets.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import torch

from lecturekit.examples import showcase
from lecturekit.models import LayeredNetwork
from lecturekit.optimise.inversion import (REGULARISER_NAMES, InversionResult, default_lambda,
                                           invert)
from lecturekit.ui.widgets.common import plain_text, png_bytes

try:
    import ipywidgets as widgets
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("lecturekit.ui.widgets.inversion needs ipywidgets: pip install ipywidgets "
                      "(or pip install 'lecturekit[lab]')") from error

__all__ = ["InversionExplorer", "inversion_explorer"]

EXPLORER_REGULARISERS: tuple[str, ...] = ("default", "tv", "l2", "alpha", "low_pass", "wavelet",
                                          "robust", "learned", "none")


class InversionExplorer(widgets.VBox):
    """Sliders for layer, prior and lambda over :func:`lecturekit.optimise.inversion.invert`.

    The widgets are attributes, so code (and tests) can drive the explorer:
    ``layer`` (SelectionSlider), ``lam`` (FloatLogSlider), ``regulariser``
    (Dropdown), ``parameter`` (the chosen prior's own knob: alpha, beta, sigma,
    levels, shift or prior layer; hidden when it has none), ``follow_default``
    (Checkbox: lambda jumps to the layer's default whenever layer or prior
    change; moving the lambda slider unticks it), ``run_button`` (Button,
    recomputes the current setting), ``progress`` (IntProgress over the steps),
    ``caption`` (HTML). The explorer is itself a VBox widget: leave it as a
    cell's last expression to show it.

    ``result`` is the last :class:`~lecturekit.optimise.inversion.InversionResult`,
    ``cache`` maps settings to results, ``compute_count`` counts the
    optimisations actually run. Only the first image of ``image`` is inverted.
    """

    def __init__(self, model: LayeredNetwork, image: torch.Tensor,
                 layers: Sequence[str] | None = None,
                 regularisers: Sequence[str] = EXPLORER_REGULARISERS,
                 steps: int | None = None, *, seed: int = 0, auto: bool = True,
                 scale: int = 2) -> None:
        layers = [model.check_layer(name) for name in
                  (model.layer_names if layers is None else layers)]
        if not layers:
            raise ValueError("layers is empty; name at least one of: "
                             + ", ".join(model.layer_names))
        regularisers = list(regularisers)
        bad = [name for name in regularisers if name not in REGULARISER_NAMES]
        if bad or not regularisers:
            raise ValueError(f"unknown regulariser(s) {bad or regularisers}; valid regularisers "
                             f"are: {', '.join(REGULARISER_NAMES)}")
        model.check_batch(image, "image")
        super().__init__()
        self.model = model
        self.image = image[:1].detach()
        self.steps = steps
        self.seed = seed
        self.auto = auto
        self.scale = scale
        self.cache: dict[tuple, InversionResult] = {}
        self.compute_count = 0
        self.result: InversionResult | None = None
        self._priors: dict[str, Any] = {}
        self._quiet = False

        self.layer = widgets.SelectionSlider(options=layers, value=layers[0], description="layer",
                                             continuous_update=False)
        self.regulariser = widgets.Dropdown(options=regularisers, value=regularisers[0],
                                            description="prior")
        self.lam = widgets.FloatLogSlider(value=self._default_lam(), base=10, min=-4, max=2,
                                          step=0.1, description="λ", readout_format=".3g",
                                          continuous_update=False)
        self.follow_default = widgets.Checkbox(value=True, description="λ = layer default",
                                               indent=False)
        with torch.no_grad():
            spatial = [name for name, act in model.activations(
                self.image.to(model.device), model.layer_names).items() if act.ndim == 4]
        # each prior's own knob: (the option of invert() it sets, the widget)
        self.parameters: dict[str, tuple[str, widgets.Widget]] = {
            "alpha": ("alpha", widgets.FloatSlider(value=6.0, min=1.0, max=8.0, step=0.5,
                                                   description="alpha",
                                                   continuous_update=False)),
            "tv": ("beta", widgets.FloatSlider(value=2.0, min=1.0, max=3.0, step=0.25,
                                               description="beta", continuous_update=False)),
            "low_pass": ("sigma", widgets.FloatSlider(value=1.0, min=0.5, max=3.0, step=0.25,
                                                      description="sigma",
                                                      continuous_update=False)),
            "wavelet": ("levels", widgets.IntSlider(value=2, min=1, max=3, description="levels",
                                                    continuous_update=False)),
            "robust": ("max_shift", widgets.IntSlider(
                value=max(1, round(4 * self.image.shape[-1] / 128)), min=0, max=16,
                description="shift", continuous_update=False)),
            "learned": ("prior_layer", widgets.Dropdown(
                options=spatial, value=showcase(model).prior_layer, description="prior layer")),
        }
        self.parameter = widgets.Box()
        self.run_button = widgets.Button(description="Run", button_style="primary",
                                         tooltip="invert with these settings")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="steps")
        self.caption = widgets.HTML()
        self.original_view = widgets.Image(format="png")
        self.reconstruction_view = widgets.Image(format="png")
        self.original_view.value = png_bytes(self.model.deprocess(self.image)[0], scale)
        self.children = [
            widgets.HBox([self.layer, self.regulariser]),
            widgets.HBox([self.lam, self.follow_default, self.parameter]),
            widgets.HBox([self.run_button, self.progress]),
            widgets.HBox([widgets.VBox([widgets.HTML("<b>original</b>"), self.original_view]),
                          widgets.VBox([widgets.HTML("<b>reconstruction</b>"),
                                        self.reconstruction_view])]),
            self.caption,
        ]
        self.add_class("lecturekit-inversion-explorer")  # stable hooks for browser tests
        self.caption.add_class("lecturekit-caption")
        self.reconstruction_view.add_class("lecturekit-reconstruction")
        self._show_parameter()
        self.layer.observe(self._on_setting, names="value")
        self.regulariser.observe(self._on_setting, names="value")
        self.lam.observe(self._on_lam, names="value")
        for _, knob in self.parameters.values():
            knob.observe(self._on_change, names="value")
        self.run_button.on_click(lambda _: self.update(force=True))
        if auto:
            self.update()

    # ------------------------------------------------------------------ settings

    def _default_lam(self) -> float:
        return default_lambda(self.model, self.regulariser.value, self.layer.value)

    def _cache_key(self) -> tuple:
        """Layer, prior, lambda, the prior's parameter, steps and seed."""
        option = self._options()
        return (self.layer.value, self.regulariser.value, round(float(self.lam.value), 10),
                tuple(option.values()), self.steps, self.seed)

    def _options(self) -> dict[str, Any]:
        """The current prior's option for :func:`invert`, read off its knob."""
        if self.regulariser.value not in self.parameters:
            return {}
        option, knob = self.parameters[self.regulariser.value]
        return {option: knob.value}

    def _invert_options(self) -> dict[str, Any]:
        """:meth:`_options`, with the learned prior built once per prior layer."""
        options = self._options()
        if "prior_layer" in options:
            layer = options.pop("prior_layer")
            if layer not in self._priors:
                from lecturekit.optimise.learned_prior import FeatureStatisticsPrior
                self._priors[layer] = FeatureStatisticsPrior(self.model, layer)
            options["prior"] = self._priors[layer]
        return options

    def _show_parameter(self) -> None:
        entry = self.parameters.get(self.regulariser.value)
        self.parameter.children = () if entry is None else (entry[1],)
        self.lam.disabled = self.regulariser.value in ("none", "robust")

    # ------------------------------------------------------------------ events

    def _on_setting(self, change: dict) -> None:
        self._show_parameter()
        if self.follow_default.value:
            self._quiet = True
            try:
                self.lam.value = self._default_lam()
            finally:
                self._quiet = False
        self._on_change(change)

    def _on_lam(self, change: dict) -> None:
        if self._quiet:
            return
        self.follow_default.value = False
        self._on_change(change)

    def _on_change(self, change: dict) -> None:
        if self.auto:
            self.update()

    # ------------------------------------------------------------------ computing

    def update(self, force: bool = False) -> InversionResult:
        """Show the result for the current settings: from the cache, else computed now
        (``force=True`` recomputes even a cached setting)."""
        key = self._cache_key()
        if force or key not in self.cache:
            self.cache[key] = self._compute()
        self.result = self.cache[key]
        self._show(self.result)
        return self.result

    def _compute(self) -> InversionResult:
        steps = self.steps
        self.progress.max = steps if steps is not None else 150
        self.progress.value = 0
        self.progress.bar_style = ""
        self.caption.value = (f"<i>inverting {html.escape(self.layer.value)} with "
                              f"{html.escape(self.regulariser.value)} …</i>")

        def tick(step: int, image: torch.Tensor, record: dict[str, float]) -> None:
            self.progress.value = min(step + 1, self.progress.max)

        result = invert(self.model, self.image, self.layer.value,
                        regulariser=self.regulariser.value, lam=float(self.lam.value),
                        steps=steps, seed=self.seed, progress=False, callback=tick,
                        **self._invert_options())
        self.progress.max = max(1, result.settings["steps"])
        self.progress.value = self.progress.max
        self.progress.bar_style = "success"
        self.compute_count += 1
        return result

    def _show(self, result: InversionResult) -> None:
        self.reconstruction_view.value = png_bytes(result.image01[0], self.scale)
        s = result.settings
        extra = {k: s[k] for k in ("alpha", "beta", "sigma", "levels", "max_shift") if k in s}
        extra_text = "".join(f", {k} {v:g}" for k, v in extra.items())
        if self.regulariser.value == "learned":
            extra_text += f", prior layer {self.parameters['learned'][1].value}"
        lam = "n/a" if s["regulariser"] in ("none", "robust") else f"{s['lam']:.3g}"
        self.caption.value = (
            f"<b>{html.escape(result.layer)}</b> (group {self.model.layer_group(result.layer) + 1}) · "
            f"prior <b>{html.escape(s['regulariser'])}</b> (λ {lam}{html.escape(extra_text)}) · "
            f"feature error <b>{float(result.feature_error[0]):.3f}</b> · "
            f"SSIM <b>{float(result.ssim[0]):.3f}</b> · PSNR {float(result.psnr[0]):.1f} dB")

    @property
    def text(self) -> str:
        """The caption without its HTML tags."""
        return plain_text(self.caption)


def inversion_explorer(model: LayeredNetwork, image: torch.Tensor,
                       layers: Sequence[str] | None = None,
                       regularisers: Sequence[str] = EXPLORER_REGULARISERS,
                       steps: int | None = None, **kwargs: Any) -> InversionExplorer:
    """An :class:`InversionExplorer` (an ipywidgets VBox) for ``image``, a normalised batch
    whose first image is used; show it by leaving it as a cell's last expression."""
    return InversionExplorer(model, image, layers, regularisers, steps, **kwargs)

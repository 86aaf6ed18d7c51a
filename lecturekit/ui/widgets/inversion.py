"""The inversion explorer (ipywidgets): Mahendran & Vedaldi's inversion behind sliders.

:class:`InversionExplorer` puts Mahendran & Vedaldi's (2015) inversion behind
three controls: which layer's activations to keep, which image prior to use
(the lecture's list: L2, alpha-norm, total variation, low-pass, wavelet,
transform robustness, a learned prior), and how strongly (lambda, on a log
scale). Sliders compute when released; every finished setting is cached, so
going back to it is instant. While the lecturer talks, the explorer inverts the
layers next to the one shown in a background thread (*prefetch*), so that the
next move of the layer slider finds its result ready: on a laptop CPU one
inversion of a real network at 224 px takes seconds, a cached one is shown at
once (``python benchmarks/bench.py --only explorer`` measures both). A setting that
has to be computed shows its search as it goes, coarse to fine: the image after
:data:`FIRST_PREVIEW` steps (the broad shapes and colours are in place by then, since the
photo recipe moves a pyramid of pixels), then every :data:`PREVIEW_EVERY` steps, until
the finished result and its numbers replace it.

Importing :mod:`lecturekit` does not import this module or ipywidgets.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Sequence
from typing import Any

import torch

from lecturekit.examples import reference_images
from lecturekit.models import LayeredNetwork
from lecturekit.optimise.inversion import (PRIOR_CHOICES, InversionResult, choice_weight, invert,
                                           prior_choice)
from lecturekit.optimise.learned_prior import FeatureStatisticsPrior
from lecturekit.optimise.priors import PRIORS, Option
from lecturekit.optimise.transforms import inversion_robustness, inversion_shift
from lecturekit.ui.widgets.common import plain_text, png_bytes

try:
    import ipywidgets as widgets
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("lecturekit.ui.widgets.inversion needs ipywidgets: pip install ipywidgets "
                      "(or pip install 'lecturekit[lab]')") from error

__all__ = ["InversionExplorer", "inversion_explorer"]

EXPLORER_CHOICES: tuple[str, ...] = ("default", "tv", "l2", "alpha", "low_pass", "wavelet",
                                     "robust", "learned", "none")
"""The explorer's menu: :data:`~lecturekit.optimise.inversion.PRIOR_CHOICES`, the recipe's
own priors first and total variation next."""
FIRST_PREVIEW = 10
"""Steps after which a computed setting first shows its image (on EfficientNet-Lite0 at
224 px and 2 cores, 0.41 s after the explorer was built and 0.50 s after a slider move in
run F of benchmarks/RESULTS.md)."""
PREVIEW_EVERY = 20
"""Steps between the later previews of a setting being computed."""
GROUP_NAMES = ("early", "middle", "deep")
"""Mahendran & Vedaldi's three layer groups, each with its own default weight."""


def _slider(name: str, option: Option) -> widgets.Widget:
    """The slider of one prior option, from its range in the priors' table."""
    kind = widgets.IntSlider if option.whole else widgets.FloatSlider
    return kind(value=option.default, min=option.low, max=option.high, step=option.step,
                description=name, continuous_update=False)


class _Cancelled(Exception):
    """Raised from a prefetch's progress callback to stop it (the shown setting changed)."""


class InversionExplorer(widgets.VBox):
    """Sliders for layer, prior and lambda over :func:`lecturekit.optimise.inversion.invert`.

    The widgets are attributes, so code (and tests) can drive the explorer:
    ``layer`` (SelectionSlider), ``lam`` (FloatLogSlider, the prior's weight), ``regulariser``
    (Dropdown over :data:`EXPLORER_CHOICES`), ``parameter`` (the chosen prior's own knob,
    built from its option in :data:`~lecturekit.optimise.priors.PRIORS`: alpha, beta,
    sigma, levels; or the shift of transform robustness, or the learned prior's layer;
    hidden when it has none), ``follow_default``
    (Checkbox: lambda jumps to the layer's default whenever layer or prior
    change; moving the lambda slider unticks it), ``run_button`` (Button,
    recomputes the current setting), ``progress`` (IntProgress over the steps),
    ``caption`` (HTML). The explorer is itself a VBox widget: leave it as a
    cell's last expression to show it.

    ``result`` is the last :class:`~lecturekit.optimise.inversion.InversionResult`,
    ``cache`` maps settings to results, ``compute_count`` counts the
    optimisations run for a shown setting, ``prefetch_count`` those run ahead.
    Only the first image of ``image`` is inverted.

    With ``prefetch=True`` (the default), after each shown result a background
    thread inverts the next and the previous layer of the slider with the same
    prior (lambda: the layer's default while ``follow_default`` is ticked, else
    the slider's), into the cache. A move to a setting being prefetched waits
    for it; any other move stops the prefetch first, so the shown setting never
    shares the CPU with a guess. :meth:`wait_for_prefetch` blocks until the
    background work is done. Prefetched results are the ones the foreground
    would compute (same seed, same steps).
    """

    def __init__(self, model: LayeredNetwork, image: torch.Tensor,
                 layers: Sequence[str] | None = None,
                 regularisers: Sequence[str] = EXPLORER_CHOICES,
                 steps: int | None = None, *, seed: int = 0, auto: bool = True,
                 scale: int = 2, prefetch: bool = True) -> None:
        layers = [model.check_layer(name) for name in
                  (model.layer_names if layers is None else layers)]
        if not layers:
            raise ValueError("layers is empty; name at least one of: "
                             + ", ".join(model.layer_names))
        regularisers = list(regularisers)
        bad = [name for name in regularisers if name not in PRIOR_CHOICES]
        if bad or not regularisers:
            raise ValueError(f"unknown regulariser(s) {bad or regularisers}; valid regularisers "
                             f"are: {', '.join(PRIOR_CHOICES)}")
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
        self.prefetch = prefetch
        self.prefetch_count = 0
        self._worker: threading.Thread | None = None
        self._cancel = threading.Event()
        self._running: tuple | None = None  # the setting the worker inverts now
        self._priors_lock = threading.Lock()
        self.result: InversionResult | None = None
        self._priors: dict[str, FeatureStatisticsPrior] = {}
        self._quiet = False

        self.layer = widgets.SelectionSlider(options=layers, value=layers[0], description="layer",
                                             continuous_update=False)
        self.regulariser = widgets.Dropdown(options=regularisers, value=regularisers[0],
                                            description="prior")
        self.lam = widgets.FloatLogSlider(value=self._default_lam() or 1.0, base=10, min=-4, max=2,
                                          step=0.1, description="λ", readout_format=".3g",
                                          continuous_update=False)
        self.follow_default = widgets.Checkbox(value=True, description="λ = layer default",
                                               indent=False)
        with torch.no_grad():
            spatial = [name for name, act in model.activations(
                self.image.to(model.device), model.layer_names).items() if act.ndim == 4]
        # each prior's own knob: (the option it sets, the widget)
        self.parameters: dict[str, tuple[str, widgets.Widget]] = {
            name: (option, _slider(option, spec)) for name, prior in PRIORS.items()
            for option, spec in prior.options.items()}
        self.parameters["robust"] = ("max_shift", widgets.IntSlider(
            value=inversion_shift(self.image.shape[-1]), min=0, max=16, description="shift",
            continuous_update=False))
        self.parameters["learned"] = ("prior_layer", widgets.Dropdown(
            options=spatial, value=model.lecture_layers.prior_layer, description="prior layer"))
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

    def _default_lam(self) -> float | None:
        return choice_weight(self.model, self.regulariser.value, self.layer.value)

    def _setting(self, layer: str | None = None) -> tuple[tuple, dict[str, Any]]:
        """The cache key (layer, prior, lambda, the prior's knob, steps, seed) and the
        setting for ``layer`` (default: the slider's) with the current prior; another layer
        gets its default lambda while ``follow_default`` is ticked."""
        choice = self.regulariser.value
        if layer is None or layer == self.layer.value:
            layer, lam = self.layer.value, float(self.lam.value)
        elif self.follow_default.value:
            lam = choice_weight(self.model, choice, layer)
        else:
            lam = float(self.lam.value)
        if choice_weight(self.model, choice, layer) is None:
            lam = None  # the recipe's own priors, none or robustness: no weight to set
        option = self._options()
        key = (layer, choice, None if lam is None else round(lam, 10), tuple(option.values()),
               self.steps, self.seed)
        return key, {"layer": layer, "choice": choice, "lam": lam, "option": option}

    def _options(self) -> dict[str, Any]:
        """The current prior's option, read off its knob."""
        if self.regulariser.value not in self.parameters:
            return {}
        option, knob = self.parameters[self.regulariser.value]
        return {option: knob.value}

    def _learned(self, layer: str) -> FeatureStatisticsPrior:
        """The learned prior at ``layer``, built once (by whichever thread needs it first)."""
        with self._priors_lock:
            if layer not in self._priors:
                self._priors[layer] = FeatureStatisticsPrior(
                    self.model, reference_images(self.model, size=self.image.shape[-1]), layer)
            return self._priors[layer]

    def _arguments(self, setting: dict[str, Any]) -> dict[str, Any]:
        """:func:`invert`'s priors, robustness and prior options for a setting."""
        option = dict(setting["option"])
        if setting["choice"] == "robust":
            return {"priors": {}, "robust": inversion_robustness(self.image.shape[-1],
                                                                option["max_shift"])}
        learned = self._learned(option.pop("prior_layer")) \
            if setting["choice"] == "learned" else None
        return {**prior_choice(setting["choice"], setting["lam"], learned=learned), **option}

    def _show_parameter(self) -> None:
        entry = self.parameters.get(self.regulariser.value)
        self.parameter.children = () if entry is None else (entry[1],)
        self.lam.disabled = self._default_lam() is None

    # ------------------------------------------------------------------ events

    def _on_setting(self, change: dict) -> None:
        self._show_parameter()
        if self.follow_default.value:
            self._quiet = True
            try:
                self.lam.value = self._default_lam() or self.lam.value
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
        """Show the result for the current settings: from the cache (waiting for the
        prefetch if it is inverting this setting), else computed now (``force=True``
        recomputes even a cached setting); then prefetch the neighbouring layers."""
        key, setting = self._setting()
        self._stop_prefetch(unless_running=None if force else key)
        if force or key not in self.cache:
            self.cache[key] = self._compute(setting)
        self.result = self.cache[key]
        self._show(self.result)
        if self.prefetch:
            self._start_prefetch()
        return self.result

    def wait_for_prefetch(self) -> None:
        """Block until the background inversions of the neighbouring layers are done."""
        if self._worker is not None:
            self._worker.join()

    def _invert(self, setting: dict[str, Any], callback) -> InversionResult:
        return invert(self.model, self.image, setting["layer"], steps=self.steps,
                      seed=self.seed, progress=False, callback=callback,
                      **self._arguments(setting))

    def _neighbours(self) -> list[tuple[tuple, dict[str, Any]]]:
        """The settings of the next and the previous layer on the slider, not yet cached."""
        layers = list(self.layer.options)
        index = layers.index(self.layer.value)
        near = [layers[i] for i in (index + 1, index - 1) if 0 <= i < len(layers)]
        return [(key, setting) for key, setting in map(self._setting, near)
                if key not in self.cache]

    def _start_prefetch(self) -> None:
        todo = self._neighbours()
        if not todo:
            return
        self._cancel = cancel = threading.Event()
        self._worker = threading.Thread(target=self._prefetch, args=(todo, cancel),
                                        name="lecturekit-prefetch", daemon=True)
        self._worker.start()

    def _prefetch(self, todo: list[tuple[tuple, dict[str, Any]]],
                  cancel: threading.Event) -> None:
        """The background thread: invert each setting into the cache until cancelled."""
        def stop_if_cancelled(step: int, image: torch.Tensor, record: dict[str, float]) -> None:
            if cancel.is_set():
                raise _Cancelled

        for key, setting in todo:
            if cancel.is_set():
                return
            self._running = key
            try:
                self.cache[key] = self._invert(setting, stop_if_cancelled)
            except _Cancelled:
                return
            finally:
                self._running = None
            self.prefetch_count += 1

    def _stop_prefetch(self, unless_running: tuple | None) -> None:
        """Stop the background thread before the foreground computes; if it is inverting
        ``unless_running`` let it finish that (then stop) rather than start again."""
        worker = self._worker
        if worker is None or not worker.is_alive():
            return
        if unless_running is not None and self._running == unless_running:
            self.caption.value = (f"<i>inverting {html.escape(unless_running[0])} (started "
                                  f"ahead) …</i>")
            while worker.is_alive() and self._running == unless_running:
                worker.join(timeout=0.01)
        self._cancel.set()
        worker.join()

    def _compute(self, setting: dict[str, Any]) -> InversionResult:
        steps = self.steps
        self.progress.max = steps if steps is not None else 150
        self.progress.value = 0
        self.progress.bar_style = ""
        self.caption.value = (f"<i>inverting {html.escape(setting['layer'])} with "
                              f"{html.escape(setting['choice'])} …</i>")

        def tick(step: int, image: torch.Tensor, record: dict[str, float]) -> None:
            done = step + 1
            self.progress.value = min(done, self.progress.max)
            if (FIRST_PREVIEW <= done < self.progress.max
                    and (done - FIRST_PREVIEW) % PREVIEW_EVERY == 0):
                self._preview(setting["layer"], image, done)

        result = self._invert(setting, tick)
        self.progress.max = max(1, result.settings["steps"])
        self.progress.value = self.progress.max
        self.progress.bar_style = "success"
        self.compute_count += 1
        return result

    def _preview(self, layer: str, image: torch.Tensor, done: int) -> None:
        """Show the search's current image while it is still running (coarse to fine)."""
        self.reconstruction_view.value = png_bytes(self.model.deprocess(image[:1])[0],
                                                   self.scale)
        self.caption.value = (f"<i>inverting {html.escape(layer)}: step {done} of "
                              f"{self.progress.max}, refining …</i>")

    def _show(self, result: InversionResult) -> None:
        self.reconstruction_view.value = png_bytes(result.image01[0], self.scale)
        knob = "".join(f", {name.replace('_', ' ')} {value}"
                       for name, value in self._options().items())
        group = GROUP_NAMES[self.model.layer_group(result.layer)]
        self.caption.value = (
            f"<b>{html.escape(result.layer)}</b> ({group} layer) · "
            f"prior <b>{html.escape(self.regulariser.value)}</b> "
            f"({html.escape(result.prior_text + knob)}) · "
            f"feature error <b>{float(result.feature_error[0]):.3f}</b> · "
            f"SSIM <b>{float(result.ssim[0]):.3f}</b> · PSNR {float(result.psnr[0]):.1f} dB")

    @property
    def text(self) -> str:
        """The caption without its HTML tags."""
        return plain_text(self.caption)


def inversion_explorer(model: LayeredNetwork, image: torch.Tensor,
                       layers: Sequence[str] | None = None,
                       regularisers: Sequence[str] = EXPLORER_CHOICES,
                       steps: int | None = None, **kwargs: Any) -> InversionExplorer:
    """An :class:`InversionExplorer` (an ipywidgets VBox) for ``image``, a normalised batch
    whose first image is used; show it by leaving it as a cell's last expression."""
    return InversionExplorer(model, image, layers, regularisers, steps, **kwargs)

"""The inversion explorer, driven headless from Python (no browser, no kernel)."""

import subprocess
import sys
import time

import pytest
import torch

from lecturekit import scenes

widgets = pytest.importorskip("ipywidgets")


def test_importing_the_core_imports_neither_widgets_nor_matplotlib():
    code = ("import sys, lecturekit, lecturekit.optimise.inversion, lecturekit.optimise.learned_prior, "
            "lecturekit.similarity; print('ipywidgets' in sys.modules, "
            "'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.fixture(scope="module")
def explorer(toy_model):
    from lecturekit.ui.widgets.inversion import inversion_explorer
    images, _, _ = scenes.make_batch(scenes.test_seeds(1, offset=7), size=128)
    return inversion_explorer(toy_model, toy_model.preprocess.normalise(images),
                              layers=("conv1", "relu3", "fc8"), steps=4, prefetch=False)


def test_is_a_widget_with_the_promised_parts(explorer):
    assert isinstance(explorer, widgets.VBox)
    assert isinstance(explorer.layer, widgets.SelectionSlider)
    assert isinstance(explorer.lam, widgets.FloatLogSlider)
    assert isinstance(explorer.regulariser, widgets.Dropdown)
    assert isinstance(explorer.progress, widgets.IntProgress)
    assert not explorer.layer.continuous_update and not explorer.lam.continuous_update
    assert explorer.compute_count == 1 and explorer.result is not None
    assert "conv1" in explorer.text and "SSIM" in explorer.text
    assert explorer.progress.value == explorer.progress.max == 4


def test_other_layer_other_result_and_cache_on_return(explorer):
    first = explorer.result
    count = explorer.compute_count
    explorer.layer.value = "fc8"
    second = explorer.result
    assert explorer.compute_count == count + 1
    assert second.layer == "fc8" and "fc8" in explorer.text
    assert not torch.equal(first.image, second.image)
    assert float(first.feature_error[0]) != float(second.feature_error[0])
    explorer.layer.value = "conv1"  # back to a setting seen before: no new optimisation
    assert explorer.compute_count == count + 1
    assert explorer.result is first
    assert len(explorer.cache) == count + 1


def test_regulariser_lambda_and_parameter(explorer):
    explorer.follow_default.value = True
    explorer.regulariser.value = "alpha"
    assert "alpha" in explorer.text and explorer.parameter.children[0].description == "alpha"
    assert list(explorer.result.priors) == ["alpha"]
    count = explorer.compute_count
    explorer.lam.value = 0.5
    assert explorer.follow_default.value is False  # moving lambda by hand stops following
    assert explorer.compute_count == count + 1
    assert explorer.result.priors == {"alpha": pytest.approx(0.5)}
    explorer.parameter.children[0].value = 4.0
    assert explorer.result.settings["alpha"] == 4.0 and "alpha 4" in explorer.text
    explorer.regulariser.value = "robust"
    assert explorer.lam.disabled and explorer.parameter.children[0].description == "shift"
    assert explorer.result.robust and explorer.result.priors == {}
    explorer.regulariser.value = "learned"
    assert explorer.parameter.children[0].description == "prior layer"
    assert list(explorer.result.priors) == ["learned"] and "prior layer" in explorer.text
    explorer.regulariser.value = "none"
    assert explorer.parameter.children == () and explorer.lam.disabled


def test_run_button_recomputes(explorer):
    count = explorer.compute_count
    explorer.run_button.click()
    assert explorer.compute_count == count + 1


def test_bad_arguments(toy_model):
    from lecturekit.ui.widgets.inversion import InversionExplorer
    image = torch.zeros(1, 3, 128, 128)
    with pytest.raises(ValueError, match="unknown regulariser.*valid regularisers"):
        InversionExplorer(toy_model, image, regularisers=("tv", "sparkle"), auto=False)
    with pytest.raises(ValueError, match="unknown layer"):
        InversionExplorer(toy_model, image, layers=("conv1", "conv9"), auto=False)


# --- prefetch: the neighbouring layers inverted in the background ----------------

def _scene(toy_model):
    images, _, _ = scenes.make_batch(scenes.test_seeds(1, offset=7), size=128)
    return toy_model.preprocess.normalise(images)


def test_prefetch_has_the_neighbours_ready_and_equal_to_a_direct_inversion(toy_model):
    from lecturekit.optimise.inversion import invert
    from lecturekit.ui.widgets.inversion import InversionExplorer

    image = _scene(toy_model)
    explorer = InversionExplorer(toy_model, image, layers=("conv1", "relu3", "fc8"), steps=4)
    explorer.wait_for_prefetch()
    assert (explorer.compute_count, explorer.prefetch_count) == (1, 1)  # relu3, its neighbour
    explorer.layer.value = "relu3"
    assert explorer.compute_count == 1  # shown from the cache, no foreground inversion
    direct = invert(toy_model, image, "relu3", steps=4, progress=False)  # the recipe's priors
    assert torch.allclose(explorer.result.image, direct.image, atol=1e-5, rtol=0)
    explorer.wait_for_prefetch()  # now fc8 (conv1 is cached)
    assert explorer.prefetch_count == 2
    explorer.layer.value = "fc8"
    assert explorer.compute_count == 1 and explorer.result.layer == "fc8"
    assert "fc8" in explorer.text


def test_a_move_to_the_setting_being_prefetched_waits_for_it(toy_model):
    from lecturekit.ui.widgets.inversion import InversionExplorer

    explorer = InversionExplorer(toy_model, _scene(toy_model), layers=("conv1", "conv5"),
                                 steps=60)
    deadline = time.monotonic() + 60
    while explorer._running is None and explorer.prefetch_count == 0:  # the worker started
        assert time.monotonic() < deadline
        time.sleep(0.001)
    explorer.layer.value = "conv5"
    assert (explorer.compute_count, explorer.prefetch_count) == (1, 1)
    assert explorer.result.layer == "conv5" and explorer.result.settings["steps"] == 60


def test_any_other_move_cancels_the_prefetch(toy_model):
    from lecturekit.ui.widgets.inversion import InversionExplorer

    explorer = InversionExplorer(toy_model, _scene(toy_model), layers=("conv1", "conv5"),
                                 steps=400)
    assert explorer._worker.is_alive()  # conv5's 400 steps take seconds
    explorer.prefetch = False
    explorer.regulariser.value = "l2"  # not the setting being prefetched
    assert not explorer._worker.is_alive()
    assert explorer.prefetch_count == 0 and explorer.compute_count == 2
    assert [key[:2] for key in explorer.cache] == [("conv1", "default"), ("conv1", "l2")]


def test_a_computed_setting_shows_its_search_coarse_to_fine(toy_model):
    from lecturekit.ui.widgets.inversion import FIRST_PREVIEW, PREVIEW_EVERY, InversionExplorer

    steps = FIRST_PREVIEW + 2 * PREVIEW_EVERY  # previews after FIRST_PREVIEW, +20, +40 steps
    explorer = InversionExplorer(toy_model, _scene(toy_model), layers=("conv1", "conv5"),
                                 steps=steps, auto=False, prefetch=False)
    shown = []
    explorer.reconstruction_view.observe(
        lambda change: shown.append((explorer.progress.value, change["new"])), names="value")
    explorer.update()
    # two previews, then the finished result (the last step shows the result, not a preview)
    assert [done for done, _ in shown] == [FIRST_PREVIEW, FIRST_PREVIEW + PREVIEW_EVERY, steps]
    assert shown[0][1] != shown[-1][1] and "SSIM" in explorer.text
    explorer.auto = True  # from now on the slider computes, as in a notebook
    explorer.layer.value = "conv5"  # computed: two previews and its result
    explorer.layer.value = "conv1"  # cached: its result at once, no preview
    assert len(shown) == 3 + 3 + 1 and shown[-1][1] == shown[2][1]

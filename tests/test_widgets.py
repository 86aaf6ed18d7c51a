"""The inversion explorer, driven headless from Python (no browser, no kernel)."""

import subprocess
import sys

import pytest
import torch

from lecturekit import scenes

widgets = pytest.importorskip("ipywidgets")


def test_importing_the_core_imports_neither_widgets_nor_matplotlib():
    code = ("import sys, lecturekit, lecturekit.optimise.inversion, lecturekit.optimise.learned_prior, "
            "lecturekit.measure.similarity; print('ipywidgets' in sys.modules, "
            "'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.fixture(scope="module")
def explorer(toy_model):
    from lecturekit.ui.widgets.inversion import inversion_explorer
    images, _, _ = scenes.make_batch(scenes.test_seeds(1, offset=7), size=128)
    return inversion_explorer(toy_model, toy_model.preprocess.normalise(images),
                              layers=("conv1", "relu3", "fc8"), steps=4)


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
    assert explorer.result.settings["regulariser"] == "alpha"
    count = explorer.compute_count
    explorer.lam.value = 0.5
    assert explorer.follow_default.value is False  # moving lambda by hand stops following
    assert explorer.compute_count == count + 1
    assert explorer.result.settings["lam"] == pytest.approx(0.5)
    explorer.parameter.children[0].value = 4.0
    assert explorer.result.settings["alpha"] == 4.0
    explorer.regulariser.value = "robust"
    assert explorer.lam.disabled and explorer.parameter.children[0].description == "shift"
    explorer.regulariser.value = "none"
    assert explorer.parameter.children == ()


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

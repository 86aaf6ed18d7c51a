"""The benchmark script: it runs end to end on a tiny setting, and its bookkeeping is right."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch

from lecturekit.examples import inversion_image
from lecturekit.optimise.inversion import invert
from lecturekit.optimise.inversion_recipes import RECIPES
from lecturekit.targets import FeatureMatching

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench.py"
sys.path.insert(0, str(BENCH.parent))
import bench  # noqa: E402  (benchmarks/ is beside the package, not in it)


def _notebook(path: Path, source: str) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source)]
    nbformat.write(notebook, path)
    return path


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg", "LECTUREKIT_MODEL": "auto"}
    return subprocess.run([sys.executable, str(BENCH), *args],
                          capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
    """``bench --quick --json`` on two tiny notebooks, one of which fails."""
    folder = tmp_path_factory.mktemp("notebooks")
    good = _notebook(folder / "good.ipynb",  # the kernel gets the model the bench names
                     "import os\nassert os.environ['LECTUREKIT_MODEL'] == 'toy'")
    bad = _notebook(folder / "bad.ipynb", "raise RuntimeError('broken on purpose')")
    done = _cli("--quick", "--json", "--notebooks", str(good), str(bad))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_quick_run_reports_every_key(quick_results):
    overhead = quick_results["overhead"]
    assert {label: list(rows) for label, rows in overhead.items()} == {
        "toy": ["conv1"], "alexnet": ["conv1"], "efficientnet-lite0": ["stem"]}
    for rows in overhead.values():
        for row in rows.values():
            # loop_ms is the difference of two timings (2n and n steps): with the quick
            # setting's three steps, noise on a busy machine can make it negative
            assert row["floor_ms"] > 0 and math.isfinite(row["loop_ms"])
            assert row["ratio"] == pytest.approx(row["loop_ms"] / row["floor_ms"])
    assert {label: list(rows) for label, rows in quick_results["recipes"].items()} == {
        "toy": ["conv3"], "efficientnet-lite0": ["stem"]}
    for label, by_layer in quick_results["recipes"].items():
        for layer, recipes in by_layer.items():
            assert set(recipes) == set(RECIPES)
            for row in recipes.values():
                assert set(row["error_at"]) == {"4", "8"} and set(row["ssim_at"]) == {"4", "8"}
                assert all(math.isfinite(e) and e >= 0 for e in row["error_at"].values())
                assert "steps_to_0.2" in row
            assert quick_results["recipes_kit_speedup"][label][layer]["of_steps"] == 8
    grids = quick_results["inversion_grid"]
    assert set(grids) == {"alexnet", "efficientnet-lite0"}
    for grid in grids.values():
        assert grid["seconds"] > 0 and grid["floor_seconds"] > 0
        assert grid["layers"] == 2 and grid["size"] == 224
        assert grid["memory"]["rss_peak_mib"] >= grid["memory"]["rss_before_mib"] > 0
    explorer = quick_results["explorer_seconds"]
    assert set(explorer) == {"toy", "efficientnet-lite0"}
    assert [row["layer"] for row in explorer["efficientnet-lite0"].values()] == ["stem", "stage1",
                                                                                "stage1"]
    for rows in explorer.values():
        assert list(rows) == ["first", "move", "prefetched"]
        for row in rows.values():
            assert row["seconds"] > 0 and math.isfinite(row["feature_error"])
            assert -1 <= row["ssim"] <= 1
        assert rows["prefetched"]["ready_seconds"] >= 0
        # the prefetched result is the one the cold move computed, only sooner
        assert rows["prefetched"]["feature_error"] == pytest.approx(
            rows["move"]["feature_error"], rel=1e-3, abs=1e-6)
    assert quick_results["machine"]["device"] == "cpu"
    assert quick_results["scene_ms"] > 0


def test_notebooks_are_timed_and_failures_named(quick_results):
    table = quick_results["notebooks_seconds"]["toy"]
    assert isinstance(table["good.ipynb"], float)
    assert table["bad.ipynb"].startswith("failed:") and "broken on purpose" in table["bad.ipynb"]
    assert table["total"] == table["good.ipynb"]


def test_markdown_table_shows_the_numbers(quick_results):
    text = bench.format_table(quick_results)
    ratio = quick_results["overhead"]["toy"]["conv1"]["ratio"]
    assert "| toy | conv1 |" in text and f"{ratio:.2f} |" in text
    assert "| efficientnet-lite0 | stem |" in text
    assert "Inversion recipes on efficientnet-lite0" in text and "| stem | kit |" in text
    assert "| conv3 | kit |" in text and "good.ipynb" in text
    assert "Inversion grid: 2 alexnet layers at 224 px" in text
    assert "Inversion grid: 2 efficientnet-lite0 layers at 224 px" in text
    assert "| efficientnet-lite0 | move | stage1 |" in text


def test_bad_arguments_are_named():
    done = _cli("--quick", "--only", "everything")
    assert done.returncode == 2
    assert "unknown part(s) everything" in done.stderr and "overhead" in done.stderr
    assert "present_memory" in done.stderr
    done = _cli("--quick", "--only", "notebooks", "--notebooks", "no/such.ipynb")
    assert done.returncode == 2 and "no such notebook(s): no/such.ipynb" in done.stderr


def test_steps_to_counts_steps_taken():
    assert bench.steps_to([0.9, 0.5, 0.2, 0.1], 0.2) == 2
    assert bench.steps_to([0.1], 0.2) == 0
    assert bench.steps_to([0.9, 0.5], 0.2) is None


@pytest.mark.parametrize("recipe", ["kit", "baseline"])
def test_trajectory_is_the_error_after_each_step(toy_model, recipe):
    """history[k] / data_weight is the relative feature error after k steps: checked
    against the error of the image the loop hands to the callback after each step."""
    image = inversion_image(toy_model)
    with torch.no_grad():
        data = FeatureMatching("conv3", toy_model.forward_to(image, "conv3"))
    after: list[float] = []

    def measure(step, current, record):
        with torch.no_grad():
            after.append(float(data(toy_model.activations(current, ["conv3"]))))

    result = invert(toy_model, image, "conv3", recipe=recipe, steps=6, progress=False,
                    callback=measure)
    path = bench._trajectory(result.history, RECIPES[recipe].data_weight)
    assert path[1:] == pytest.approx(after[:-1], rel=1e-4)
    assert after[-1] == pytest.approx(float(result.feature_error), rel=1e-4)


def test_kit_speedup_picks_the_best_other_recipe():
    table = {"conv3": {
        "kit": {"error_at": {"50": 0.3, "100": 0.05, "200": 0.02, "400": 0.01}},
        "mahendran2015": {"error_at": {"50": 0.5, "100": 0.2, "200": 0.1, "400": 0.06}},
        "baseline": {"error_at": {"50": 0.9, "100": 0.5, "200": 0.3, "400": 0.2}},
        "kit-pyramid": {"error_at": {"50": 0.1, "100": 0.01, "200": 0.001, "400": 0.0001}}}}
    for name, ssim in (("kit", 0.3), ("mahendran2015", 0.25), ("baseline", 0.1),
                       ("kit-pyramid", 0.5)):
        table["conv3"][name]["ssim_at"] = {n: ssim + int(n) / 1e4 for n in ("50", "100", "200",
                                                                              "400")}
    summary = bench.kit_speedup(table)["conv3"]
    # the kit's other recipe is not a rival
    assert summary == {"kit_recipe": "kit", "best_other": "mahendran2015",
                       "best_other_error": 0.06, "best_other_ssim": 0.29, "kit_steps_to_match": 100,
                       "kit_ssim_at_match": 0.31, "kit_monotone": True, "of_steps": 400}
    table["conv3"]["kit"]["error_at"] = {"50": 0.3, "100": 0.2, "200": 0.1, "400": 0.07}
    assert bench.kit_speedup(table)["conv3"]["kit_steps_to_match"] is None
    table["conv3"]["kit"]["error_at"] = {"50": 0.3, "100": 0.02, "200": 0.1, "400": 0.05}
    summary = bench.kit_speedup(table)["conv3"]
    assert summary["kit_steps_to_match"] == 100 and summary["kit_monotone"] is False


def test_the_race_averages_over_images_and_starts(monkeypatch):
    """Each image and seed is inverted alone; the table holds their means, and one
    diverging run takes its budget out of the race."""
    from types import SimpleNamespace
    calls = []

    def fake_invert(model, image, layer, *, recipe, steps, seed, progress):
        calls.append((recipe, steps, float(image[0, 0, 0, 0]), seed))
        if recipe == "baseline" and seed == 1 and steps == 8:
            raise FloatingPointError("the optimisation diverged at step 3")
        error = (1 + float(image[0, 0, 0, 0])) * (1 + seed) / steps
        return SimpleNamespace(feature_error=torch.tensor([error]),
                               ssim=torch.tensor([0.1 * (1 + seed)]),
                               history=[{"objective": error}] * steps)

    monkeypatch.setattr(bench, "invert", fake_invert)
    images = torch.zeros(2, 3, 4, 4)
    images[1] = 1.0
    table = bench.recipe_comparison(None, images, ["conv3"], (4, 8), seeds=(0, 1))
    assert len(calls) == 4 * 2 * 2 * 2  # recipes x budgets x images x seeds
    kit = table["conv3"]["kit"]
    # errors (1 + pixel)(1 + seed) / steps over pixels 0, 1 and seeds 0, 1: mean 9/4 / steps
    assert kit["error_at"] == pytest.approx({"4": 9 / 16, "8": 9 / 32})
    assert kit["ssim_at"] == pytest.approx({"4": 0.15, "8": 0.15})
    baseline = table["conv3"]["baseline"]
    assert baseline["error_at"]["8"] is None and baseline["error_at"]["4"] is not None
    assert baseline["diverged"] == {"8": "the optimisation diverged at step 3"}


def test_a_diverging_recipe_is_recorded_not_fatal(monkeypatch):
    """The public baseline's rate (1e4 scaled per pixel) can blow up on a real network; the
    race then records where, and the best other recipe is chosen among the rest."""
    from types import SimpleNamespace

    def fake_invert(model, image, layer, *, recipe, steps, seed, progress):
        if recipe == "baseline":
            raise FloatingPointError(f"the optimisation diverged at step {steps // 2}")
        error = {"kit": 0.1, "kit-pyramid": 0.1, "mahendran2015": 0.2}[recipe] * 8 / steps
        return SimpleNamespace(feature_error=torch.tensor([error]), ssim=torch.tensor([0.5]),
                               history=[{"objective": 1.0}] * steps)

    monkeypatch.setattr(bench, "invert", fake_invert)
    table = bench.recipe_comparison(None, torch.zeros(1, 3, 4, 4), ["stage2"], (4, 8))
    baseline = table["stage2"]["baseline"]
    assert baseline["error_at"] == {"4": None, "8": None} and baseline["steps_to_0.2"] is None
    assert baseline["diverged"]["8"] == "the optimisation diverged at step 4"
    assert table["stage2"]["kit"]["diverged"] == {}
    summary = bench.kit_speedup(table)["stage2"]
    assert summary["best_other"] == "mahendran2015" and summary["kit_steps_to_match"] == 4
    text = bench.format_table({"machine": bench.machine() | {"device": "cpu"},
                               "recipes": {"efficientnet-lite0": table},
                               "recipes_kit_speedup": {"efficientnet-lite0": {"stage2": summary}}})
    assert "| stage2 | baseline | diverged | diverged | never |" in text


def test_present_memory_is_measured_only_on_request(monkeypatch):
    """The presentation page's memory needs Chromium and minutes: not in a plain run, but
    with --only present_memory, reported in words with its numbers."""
    assert "present_memory" not in bench.PARTS and "present_memory" in bench.ON_REQUEST
    calls = []

    def fake(model, visits):
        calls.append((model, visits))
        return {"model": model, "visits": visits, "seconds_to_first_picture": [9.5, 8.3],
                "rss_mib_page_open": 801.0, "rss_mib_after": 97.4, "kernels_after": 0}

    monkeypatch.setattr(bench, "present_memory", fake)
    results = bench.run_bench(bench.QUICK, parts=["present_memory"])
    assert calls == [("toy", 2)] and bench.FULL.present_visits == 5
    text = bench.format_table(results)
    assert "after 2 visits, each closed, the Voilà server and its kernels hold 97 MiB with 0 " \
           "kernel(s) left (801 MiB at most while a page was open; seconds to the first " \
           "picture: 9.5, 8.3)" in text


def test_the_memory_of_a_process_tree_counts_its_kernels():
    rss, kernels = bench._tree_rss_mib(os.getpid())
    assert rss > 10 and kernels == 0

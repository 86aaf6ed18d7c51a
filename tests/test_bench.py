"""The benchmark script: it runs end to end on a tiny setting, and its bookkeeping is right."""

import json
import math
import os
import statistics
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


def _notebook(path: Path, *cells) -> Path:
    """A notebook of ``cells``: nbformat cells, or sources of code cells."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(cell) if isinstance(cell, str) else cell
                      for cell in cells]
    nbformat.write(notebook, path)
    return path


def _timed(cell: dict, start: str | None, end: str | None) -> dict:
    """``cell`` with the execution timestamps nbclient records (None: left out)."""
    stamps = {"iopub.execute_input": start, "shell.execute_reply": end}
    cell["metadata"] = {"execution": {k: v for k, v in stamps.items() if v is not None}}
    return cell


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg", "LECTUREKIT_MODEL": "auto"}
    return subprocess.run([sys.executable, str(BENCH), *args],
                          capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
    """``bench --quick --json`` on two tiny notebooks, one of which fails. The good one's
    empty cell (which nbclient skips) carries a timing saved in the file: not reported."""
    folder = tmp_path_factory.mktemp("notebooks")
    stale = _timed(nbformat.v4.new_code_cell(""), "2020-01-01T00:00:00.000000Z",
                   "2020-01-01T00:10:00.000000Z")
    good = _notebook(folder / "good.ipynb", nbformat.v4.new_markdown_cell("# Good"),
                     # the kernel gets the model the bench names, a first run's settings
                     "import os\nassert os.environ['LECTUREKIT_MODEL'] == 'toy'\n"
                     "assert os.environ['LECTUREKIT_CACHE'] == 'off'\n"
                     "assert os.environ['LECTUREKIT_PROGRESS'] == '0'", stale, "x = 1")
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
            # setting's two steps, noise on a busy machine can make it negative
            assert row["floor_ms"] > 0 and math.isfinite(row["loop_ms"])
            assert row["ratio"] == pytest.approx(row["loop_ms"] / row["floor_ms"])
            assert row["repeats"] == bench.QUICK.repeats == 3
            assert len(row["floor_samples_ms"]) == len(row["loop_samples_ms"]) == 3
            # the medians and quartiles are those of the recorded repeats
            floor, f1, f3 = bench.median_and_iqr(row["floor_samples_ms"])
            loop, l1, l3 = bench.median_and_iqr(row["loop_samples_ms"])
            assert (row["floor_ms"], row["floor_iqr_ms"]) == (floor, [f1, f3])
            assert (row["loop_ms"], row["loop_iqr_ms"]) == (loop, [l1, l3])
            assert row["within_noise"] is (abs(loop - floor) < max(f3 - f1, l3 - l1) / 2)
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
            assert 0 < row["picture_seconds"] <= row["seconds"]  # a picture, then the result
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
    cells = quick_results["notebook_cells"]["toy"]
    # code cells 0 and 2 ran; 1, the empty one, did not (its saved timing is dropped);
    # the failing cell of bad.ipynb is timed too
    assert {name: [index for index, _ in rows] for name, rows in cells.items()} == {
        "good.ipynb": [0, 2], "bad.ipynb": [0]}
    assert all(seconds >= 0 for rows in cells.values() for _, seconds in rows)
    usage = quick_results["notebook_usage"]["toy"]
    assert list(usage) == ["good.ipynb"]  # the failing notebook never reached the probe
    assert usage["good.ipynb"]["peak_rss_mib"] > 30 and usage["good.ipynb"]["cpu_seconds"] > 0
    longest = quick_results["longest_cells"]["toy"]
    assert longest == bench.longest_cells({name: [tuple(row) for row in rows]
                                           for name, rows in cells.items()})
    assert len(longest) == 3 and not any(row["over_limit"] for row in longest)


def test_markdown_table_shows_the_numbers(quick_results):
    text = bench.format_table(quick_results)
    row = quick_results["overhead"]["toy"]["conv1"]
    (f1, f3), (l1, l3) = row["floor_iqr_ms"], row["loop_iqr_ms"]
    assert (f"| toy | conv1 | {row['floor_ms']:.2f} [{f1:.2f}, {f3:.2f}] | "
            f"{row['loop_ms']:.2f} [{l1:.2f}, {l3:.2f}] | {row['ratio']:.2f}"
            + (" (within noise) |" if row["within_noise"] else " |")) in text
    assert "medians [interquartile range] of 3 repeats" in text
    assert "the target <= 1.10 is judged on these medians" in text
    assert "| efficientnet-lite0 | stem |" in text
    assert "Inversion recipes on efficientnet-lite0" in text and "| stem | kit |" in text
    assert "| conv3 | kit |" in text and "good.ipynb" in text
    assert "The 3 longest cells with the toy model (seconds; limit 30 s on 2 cores)" in text
    longest = quick_results["longest_cells"]["toy"][0]
    assert f"| {longest['notebook']} | {longest['cell']} | {longest['seconds']:.1f} | no |" \
        in text
    assert "Inversion grid: 2 alexnet layers at 224 px" in text
    assert "Inversion grid: 2 efficientnet-lite0 layers at 224 px" in text
    assert "| efficientnet-lite0 | move | stage1 |" in text


def test_bad_arguments_are_named():
    done = _cli("--quick", "--only", "everything")
    assert done.returncode == 2
    assert "unknown part(s) everything" in done.stderr and "overhead" in done.stderr
    assert "present" in done.stderr
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
                       "kit_ssim_at_match": 0.31, "kit_monotone": True,
                       "kit_rises_within_noise": True, "of_steps": 400}
    table["conv3"]["kit"]["error_at"] = {"50": 0.3, "100": 0.2, "200": 0.1, "400": 0.07}
    assert bench.kit_speedup(table)["conv3"]["kit_steps_to_match"] is None
    table["conv3"]["kit"]["error_at"] = {"50": 0.3, "100": 0.02, "200": 0.1, "400": 0.05}
    summary = bench.kit_speedup(table)["conv3"]
    assert summary["kit_steps_to_match"] == 100 and summary["kit_monotone"] is False
    assert summary["kit_rises_within_noise"] is False  # no standard errors: never noise


def test_standard_error_by_hand():
    # values 1, 2, 3, 6: mean 3, sample variance (4 + 1 + 0 + 9) / 3 = 14/3, s.e. sqrt(14/3 / 4)
    assert bench.standard_error([1.0, 2.0, 3.0, 6.0]) == pytest.approx(math.sqrt(14 / 12))
    assert bench.standard_error([0.5]) is None


def test_a_rise_smaller_than_the_combined_standard_error_is_noise():
    # rise 0.002 from 200 to 400 steps; combined s.e. hypot(0.0016, 0.0017) = 0.00233
    errors, spreads = [0.016, 0.009, 0.011], [0.003, 0.0016, 0.0017]
    assert bench.rises_within_noise(errors, spreads)
    assert not bench.rises_within_noise([0.016, 0.009, 0.012], spreads)  # rise 0.003
    assert not bench.rises_within_noise(errors, [0.003, None, 0.0017])
    assert bench.rises_within_noise([0.3, 0.2, 0.1], [None, None, None])  # never rises
    table = {"fc6": {
        "kit": {"error_at": {"100": 0.016, "200": 0.009, "400": 0.011},
                "error_se_at": {"100": 0.003, "200": 0.0016, "400": 0.0017},
                "ssim_at": {"100": 0.38, "200": 0.44, "400": 0.46}},
        "baseline": {"error_at": {"100": 0.05, "200": 0.04, "400": 0.023},
                     "ssim_at": {"100": 0.1, "200": 0.1, "400": 0.12}}}}
    for row in table["fc6"].values():
        row.update({"steps_to_0.2": 5, "seconds": 1.0, "diverged": {}})
    summary = bench.kit_speedup(table)["fc6"]
    assert summary["kit_monotone"] is False and summary["kit_rises_within_noise"] is True
    text = bench.format_table({"machine": bench.machine() | {"device": "cpu"},
                               "recipes": {"toy": table},
                               "recipes_kit_speedup": {"toy": {"fc6": summary}}})
    assert "| fc6 | kit | 0.016 ±0.003 (0.38) | 0.009 ±0.002 (0.44) |" in text
    assert "by less than the runs' standard error (within noise)" in text


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
    # errors 1, 2, 2, 4 (x 1/steps): sample variance 4.75 / 3 = 19/12, s.e. over sqrt(4)
    assert kit["error_se_at"] == pytest.approx({"4": math.sqrt(19 / 12) / 2 / 4,
                                                "8": math.sqrt(19 / 12) / 2 / 8})
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


def test_the_presentation_page_is_measured_only_on_request(monkeypatch):
    """The presentation page needs Chromium and minutes: not in a plain run, but with
    --only present, reported in words with its numbers."""
    assert "present" not in bench.PARTS and "present" in bench.ON_REQUEST
    calls = []

    def fake(model, visits):
        calls.append((model, visits))
        return {"model": model, "visits": visits, "seconds_to_serve": 14.26,
                "seconds_to_first_picture": [2.514, 1.9], "seconds_to_explorer_picture":
                [9.5, 8.3], "rss_mib_page_open": 801.0, "rss_mib_after": 97.4,
                "kernels_after": 0}

    monkeypatch.setattr(bench, "present_page", fake)
    results = bench.run_bench(bench.QUICK, parts=["present"])
    assert calls == [("toy", 2)] and bench.FULL.present_visits == 5
    text = bench.format_table(results)
    assert "Presentation page (toy): the command answered after 14.3 s (preparing its page); " \
           "seconds from opening the page to its first picture (target <= 3 s): 2.51, 1.90; " \
           "to the inversion explorer's first picture: 9.5, 8.3. After 2 visits, each closed, " \
           "the Voilà server and its kernels hold 97 MiB with 0 kernel(s) left (801 MiB at " \
           "most while a page was open)." in text


def test_the_memory_of_a_process_tree_counts_its_kernels():
    rss, kernels = bench._tree_rss_mib(os.getpid())
    assert rss > 10 and kernels == 0


def test_cell_seconds_counts_code_cells_and_skips_untimed_ones():
    """Code cells are counted from 0 as nbval counts them (markdown cells not at all); a
    code cell without both timestamps keeps its index and is left out."""
    notebook = {"cells": [
        _timed({"cell_type": "markdown", "source": "# Title"}, "2026-12-06T10:00:00.000000Z",
               "2026-12-06T10:00:09.000000Z"),
        _timed({"cell_type": "code", "source": "a = 1"}, "2026-12-06T10:00:00.000000Z",
               "2026-12-06T10:00:01.500000Z"),
        {"cell_type": "code", "source": "", "metadata": {}},
        _timed({"cell_type": "code", "source": "b = 2"}, "2026-12-06T10:00:02.000000Z", None),
        {"cell_type": "markdown", "source": "Text", "metadata": {}},
        _timed({"cell_type": "code", "source": "c = 3"}, "2026-12-06T10:00:58.000000Z",
               "2026-12-06T10:02:00.250000Z"),
        _timed({"cell_type": "code", "source": "d = 4"}, "2026-12-06T10:03:00+00:00",
               "2026-12-06T10:03:31.000001+00:00")]}
    assert bench.cell_seconds(notebook) == [(0, 1.5), (3, 62.25), (4, 31.000001)]
    notebook_node = nbformat.from_dict(notebook)  # what nbclient hands back
    assert bench.cell_seconds(notebook_node) == [(0, 1.5), (3, 62.25), (4, 31.000001)]
    assert bench.cell_seconds({"cells": notebook["cells"][:1]}) == []


def test_longest_cells_are_ordered_and_flagged():
    per_notebook = {"b.ipynb": [(1, 45.5), (2, 30.0), (4, 5.0)],
                    "a.ipynb": [(0, 5.0), (3, 31.0)], "c.ipynb": []}
    assert bench.longest_cells(per_notebook, count=3) == [
        {"notebook": "b.ipynb", "cell": 1, "seconds": 45.5, "over_limit": True},
        {"notebook": "a.ipynb", "cell": 3, "seconds": 31.0, "over_limit": True},
        # exactly at the limit is not over it
        {"notebook": "b.ipynb", "cell": 2, "seconds": 30.0, "over_limit": False}]
    rows = bench.longest_cells(per_notebook)
    # every cell when there are fewer than count; equal times by notebook, then cell
    assert [(row["notebook"], row["cell"]) for row in rows] == [
        ("b.ipynb", 1), ("a.ipynb", 3), ("b.ipynb", 2), ("a.ipynb", 0), ("b.ipynb", 4)]
    assert [row["over_limit"] for row in bench.longest_cells(per_notebook, limit=40.0)] == [
        True, False, False, False, False]
    assert bench.longest_cells({}) == []


def test_longest_cells_table_flags_cells_over_the_limit():
    rows = bench.longest_cells({"05_inversion.ipynb": [(7, 44.06), (9, 12.0)]}, count=2)
    text = bench.format_table({"machine": bench.machine() | {"device": "cpu"},
                               "longest_cells": {"toy": rows}})
    assert "The 2 longest cells with the toy model (seconds; limit 30 s on 2 cores)" in text
    assert "| 05_inversion.ipynb | 7 | 44.1 | **yes** |" in text
    assert "| 05_inversion.ipynb | 9 | 12.0 | no |" in text


def test_median_and_iqr_interpolates_linearly():
    assert bench.median_and_iqr([5.0, 1.0, 4.0, 2.0, 3.0]) == (3.0, 2.0, 4.0)
    # quartiles at positions 0.75 and 2.25 of the sorted four: 1.75 and 3.25
    assert bench.median_and_iqr([4.0, 1.0, 3.0, 2.0]) == (2.5, 1.75, 3.25)
    samples = [0.3, 9.0, 1.2, 4.4, 2.5, 7.1, 0.9]
    q1, median, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    assert bench.median_and_iqr(samples) == pytest.approx((median, q1, q3), abs=1e-12)
    assert bench.median_and_iqr([7.0]) == (7.0, 7.0, 7.0)
    with pytest.raises(ValueError, match="at least one sample"):
        bench.median_and_iqr([])


def test_ratio_summary_tells_noise_from_a_difference():
    # medians 1.20 and 1.25, IQRs 0.2 and 0.2: 0.05 apart, within half an IQR (0.1)
    noisy = bench.ratio_summary([1.0, 1.4, 1.1, 1.3, 1.2], [1.05, 1.45, 1.25, 1.35, 1.15])
    assert noisy["floor"] == pytest.approx(1.2) and noisy["loop"] == pytest.approx(1.25)
    assert noisy["floor_iqr"] == pytest.approx((1.1, 1.3))
    assert noisy["loop_iqr"] == pytest.approx((1.15, 1.35))
    assert noisy["ratio"] == pytest.approx(1.25 / 1.2) and noisy["within_noise"] is True
    # medians 1.0 and 1.5 with IQRs of 0.02: a real difference
    apart = bench.ratio_summary([1.0, 1.01, 0.99, 1.02, 0.98], [1.5, 1.51, 1.49, 1.52, 1.48])
    assert apart["ratio"] == pytest.approx(1.5) and apart["within_noise"] is False
    # the rule is strict: medians exactly half the larger IQR apart are not within noise
    edge = bench.ratio_summary([0.0, 1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0, 5.0])
    assert edge == {"floor": 2.0, "loop": 3.0, "floor_iqr": (1.0, 3.0), "loop_iqr": (2.0, 4.0),
                    "ratio": 1.5, "within_noise": False}
    assert bench.ratio_summary([0.0, 1.0, 2.0, 3.0, 4.0],
                               [0.5, 1.5, 2.5, 3.5, 4.5])["within_noise"] is True
    # one repeat each has no spread: only equal medians could be noise, and the rule is strict
    assert bench.ratio_summary([2.0], [2.0])["within_noise"] is False


def test_floor_and_loop_take_turns_and_drop_what_a_call_pays_once(toy_model, monkeypatch):
    """Each repeat times the floor at n steps, then the loop at n and at 2n; the loop's
    sample is (t(2n) - t(n)) / n, the floor's t / n, and the first repeat is a warm-up.
    Made-up timings stand in for the clock."""
    order: list[object] = []
    monkeypatch.setattr(bench, "_floor_run",
                        lambda model, layer, batch, steps: lambda: order.append("floor"))
    monkeypatch.setattr(bench, "optimise", lambda *args, steps, **kwargs: order.append(steps))
    clock = iter([9.0, 9.0, 9.0,  # warm-up: dropped
                  0.2, 0.5, 0.8, 0.4, 0.6, 1.2, 0.3, 0.7, 0.9])

    def fake_seconds(run, device):
        run()
        return next(clock)

    monkeypatch.setattr(bench, "_seconds", fake_seconds)
    batch = bench._batch(toy_model, 1)
    floors, loops = bench.floor_and_loop_seconds(toy_model, "conv1", batch, steps=2, repeats=3)
    assert order == ["floor", 2, 4] * 4
    assert floors == pytest.approx([0.1, 0.2, 0.15])
    assert loops == pytest.approx([0.15, 0.3, 0.1])


def test_students_per_node_takes_the_scarcer_of_memory_and_cpu():
    # 64 GiB - 2 GiB system - 1024 MiB hub = 62464 MiB; a student: 1800 + 200 MiB
    row = bench.students_per_node(1800, 200, 1024, 60, cores=16, memory_gib=64,
                                  window_s=600, system_gib=2)
    assert row["by_memory"] == 31 and row["by_cpu"] == 160  # 16 x 600 / 60
    assert row["students"] == 31 and row["bound"] == "memory"
    assert row["memory_limit_gib"] == 2.5  # 2000 MiB x 1.25 = 2500 MiB, up to half a GiB
    heavy = bench.students_per_node(500, 100, 0, 400, cores=16, memory_gib=64,
                                    window_s=600, system_gib=2)
    assert heavy["by_cpu"] == 24 and heavy["students"] == 24 and heavy["bound"] == "CPU"
    assert heavy["memory_limit_gib"] == 1.0  # 750 MiB, up to a whole half


def test_course_capacity_takes_the_heaviest_notebook_of_each_scenario():
    usage = {"efficientnet-lite0": {"01.ipynb": {"peak_rss_mib": 900, "cpu_seconds": 30},
                                    "05.ipynb": {"peak_rss_mib": 1500, "cpu_seconds": 300}},
             "toy": {"01.ipynb": {"peak_rss_mib": 400, "cpu_seconds": 20},
                     "hw1.ipynb": {"peak_rss_mib": 350, "cpu_seconds": 12},
                     "hw3.ipynb": {"peak_rss_mib": 300, "cpu_seconds": 25}}}
    rows = bench.course_capacity(usage, server_mib=100, hub_mib=200)
    assert list(rows) == ["lecture (efficientnet-lite0)", "lecture (toy)", "homework (toy)"]
    assert rows["lecture (efficientnet-lite0)"]["kernel_peak_mib"] == 1500
    assert rows["lecture (efficientnet-lite0)"]["cpu_seconds"] == 300
    assert rows["homework (toy)"]["kernel_peak_mib"] == 350
    assert rows["homework (toy)"]["cpu_seconds"] == 25
    assert rows["homework (toy)"]["per_student_mib"] == 450
    text = bench.format_table({"machine": {"date": "d", "device": "cpu", "cpu": "x",
                                           "cpu_count": 2, "torch_threads": 2,
                                           "python": "3", "torch": "2"},
                               "servers_at_rest": {"single_user_server_mib": 100,
                                                   "hub_mib": 200},
                               "capacity": rows})
    assert "| homework (toy) | 350 | 25 | 450 | 140 | 384 | **140** (memory) | 1 GiB |" in text  # 562 MiB, up to 1 GiB


def test_capacity_needs_the_notebooks_in_the_same_run():
    with pytest.raises(ValueError, match="capacity needs the notebooks' kernels measured"):
        bench.run_bench(bench.QUICK, parts=["capacity"])


def test_kernel_usage_reads_the_probes_line():
    notebook = {"cells": [{"cell_type": "code", "outputs": [
        {"output_type": "stream", "name": "stdout",
         "text": '{"peak_rss_mib": 812.44, "cpu_seconds": 31.27}\n'}]}]}
    assert bench.kernel_usage(notebook) == {"peak_rss_mib": 812.4, "cpu_seconds": 31.3}
    assert bench.kernel_usage({"cells": [{"cell_type": "code", "outputs": []}]}) is None

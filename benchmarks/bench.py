"""Benchmarks: the kit's speed against its physical floor and the published recipes.

``python benchmarks/bench.py`` measures, in one run on one machine (it reads the
repository's notebooks, so it lives beside the package, not in it):

``overhead``
    seconds per step of the kit's optimisation loop
    (:func:`lecturekit.optimise.loop.optimise`) divided by the seconds of the
    floor, a bare forward pass to the same layer plus a backward pass to the
    input (same model, size and batch), at an early, a middle and a late layer
    of the toy, AlexNet's shape and EfficientNet-Lite0. Any gradient-based
    visualisation step costs at least the floor; the ratio is what the loop adds.
    Many short repeats in which the floor and the loop take turns, each recording
    its seconds per step; the table shows their medians with the interquartile
    ranges, the ratio of the medians (what the target is judged on) and whether
    the two medians are within the noise of each other (:func:`ratio_summary`).
``recipes``
    the relative feature error of an inversion after 50, 100, 200 and 400
    steps for the kit's default recipe, Mahendran & Vedaldi's (2015) and the
    public baseline's (:data:`lecturekit.optimise.inversion_recipes.RECIPES`), with the SSIM
    of each reconstruction and the steps each needs to reach an error of 0.2: means
    (with their standard errors) over four of the toy's scenes and three random starts,
    and over two photographs and two starts through EfficientNet-Lite0.
``notebooks_seconds``
    wall time to execute every notebook of ``notebooks/`` and ``solutions/``, once
    per model named by ``--notebook-models``, with the kit's disk cache off (a first
    run's time), and the seconds of each of their code cells (``notebook_cells``):
    a table of the longest cells (``longest_cells``) flags those over 30 s, the
    limit issue 36 sets for a cell on 2 cores.
``explorer_seconds``
    how long the inversion explorer takes to show its first picture (a setting being
    computed shows its search coarse to fine) and its finished result, when built and
    after one move of its layer slider, right away (a cold inversion) and once its background
    prefetch of the neighbouring layer is done (with how long that took), on the toy
    and on EfficientNet-Lite0, with the feature error and SSIM of what it shows.
``inversion_grid``
    the lecture's big figure, every layer of a network inverted at 224 px
    (:func:`lecturekit.optimise.inversion.invert_layers`, one batch whose blocks stop at
    their own layers), timed in a fresh process whose peak memory is recorded
    too: the eighteen layers of AlexNet's shape and the eleven of EfficientNet-Lite0.

``present`` (only when named with ``--only``: it needs Chromium and takes minutes)
    ``python -m lecturekit present`` with the command's own settings and an empty cache
    folder: the seconds until it answers (the first start prepares the page), then
    visits of its page in headless Chromium, each opened, shown until the inversion
    explorer's first picture and closed as a tab is closed: the seconds each visit took
    to the page's first picture (the opening figure stored in the page) and to the
    explorer's, the memory while a page was open, and the resident memory of the Voilà
    server and every kernel it runs after the last visit.

``capacity`` (only when named, with ``notebooks`` in the same run)
    how many students one node (16 cores, 64 GiB) serves, following a lecture along and
    on a homework evening: from each notebook kernel's peak memory and CPU seconds (the
    ``notebooks`` part, per network of ``--notebook-models``) and the memory of a
    single-user server and of the hub of ``deploy/jupyterhub_config.py`` at rest, under
    the assumption written beside the table (:func:`students_per_node`).

Nothing here needs a GPU; ``--device cuda`` measures on one when present.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lecturekit import scenes
from lecturekit.course.present_page import OPENING_ALT
from lecturekit.devices import resolve_device
from lecturekit.examples import inversion_image, lecture_example
from lecturekit.models import ALEXNET_LAYERS, EFFICIENTNET_LAYERS, LayeredNetwork, load_model
from lecturekit.optimise.inversion import invert, invert_layers
from lecturekit.optimise.inversion_recipes import RECIPES, default_recipe
from lecturekit.optimise.loop import optimise
from lecturekit.targets import FeatureMatching

__all__ = ["BenchSettings", "MODELS", "QUICK", "FULL", "bench_model", "run_bench",
           "floor_and_loop_seconds", "median_and_iqr", "ratio_summary", "overhead",
           "recipe_comparison", "notebook_seconds", "cell_seconds", "longest_cells",
           "inversion_grid", "explorer_seconds", "present_page", "kernel_usage",
           "students_per_node", "course_capacity", "servers_at_rest", "format_table"]

PARTS: tuple[str, ...] = ("overhead", "recipes", "scenes", "notebooks", "grid",
                          "explorer")
"""What a run measures unless ``--only`` says otherwise."""
ON_REQUEST: tuple[str, ...] = ("present", "capacity")
"""Parts measured only when named with ``--only``."""
CHROMIUM = Path("/usr/bin/chromium")
FIRST_PICTURE = ".lecturekit-inversion-explorer img.lecturekit-reconstruction"
OPENING_PICTURE = f'img[alt="{OPENING_ALT}"]'  # the figure stored in the page's markdown
ERROR_GOAL = 0.2
CELL_LIMIT_S = 30.0
"""The seconds a notebook cell may take (issue 36, on 2 cores)."""
ROOT = Path(__file__).resolve().parents[1]


Layers = dict[str, tuple[str, ...]]  # model label -> the layers to measure it at


@dataclass(frozen=True)
class BenchSettings:
    """How much to measure, per model label (:data:`MODELS`). :data:`FULL` is the
    documented benchmark, :data:`QUICK` a smoke test that runs every part in seconds.
    ``grid_steps`` None: the kit recipe's own."""
    overhead_layers: Layers
    overhead_steps: int
    repeats: int
    recipe_layers: Layers
    budgets: tuple[int, ...]
    recipe_images: Mapping[str, int]
    recipe_seeds: Mapping[str, tuple[int, ...]]
    grid_layers: Layers
    grid_steps: int | None
    explorer_layers: Layers
    explorer_steps: int | None
    present_model: str
    present_visits: int


# label -> (load_model's name, its keyword arguments). AlexNet's shape with random
# weights: the ImageNet weights cannot be had offline, and time does not depend on them.
MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "toy": ("toy", {}),
    "alexnet": ("alexnet", {"random_weights": True}),
    "efficientnet-lite0": ("efficientnet-lite0", {}),
}

FULL = BenchSettings(
    overhead_layers={"toy": ("conv1", "conv5", "fc8"), "alexnet": ("conv1", "conv5", "fc8"),
                     "efficientnet-lite0": ("stem", "stage4", "logits")},
    overhead_steps=10, repeats=15,
    recipe_layers={"toy": ("conv3", "fc6"), "efficientnet-lite0": ("stage2", "stage6")},
    budgets=(50, 100, 200, 400),
    # the toy's fc6 errors spread so widely from run to run that 2 x 2 runs could not
    # tell whether the error still falls between 200 and 400 steps (run J)
    recipe_images={"toy": 4, "efficientnet-lite0": 2},
    recipe_seeds={"toy": (0, 1, 2), "efficientnet-lite0": (0, 1)},
    grid_layers={"alexnet": ALEXNET_LAYERS, "efficientnet-lite0": EFFICIENTNET_LAYERS},
    grid_steps=None,
    explorer_layers={"toy": ("relu2", "conv4"), "efficientnet-lite0": ("stage2", "stage4")},
    explorer_steps=80,  # as notebook 05 and the presentation page set it
    present_model="efficientnet-lite0", present_visits=5)
QUICK = BenchSettings(
    overhead_layers={"toy": ("conv1",), "alexnet": ("conv1",), "efficientnet-lite0": ("stem",)},
    overhead_steps=2, repeats=3,
    recipe_layers={"toy": ("conv3",), "efficientnet-lite0": ("stem",)}, budgets=(4, 8),
    recipe_images={"toy": 1, "efficientnet-lite0": 1},
    recipe_seeds={"toy": (0,), "efficientnet-lite0": (0,)},
    grid_layers={"alexnet": ("conv1", "fc8"), "efficientnet-lite0": ("stem", "logits")},
    grid_steps=3,
    explorer_layers={"toy": ("relu2", "conv4"), "efficientnet-lite0": ("stem", "stage1")},
    explorer_steps=3, present_model="toy", present_visits=2)


def bench_model(label: str, device: str | torch.device = "cpu") -> LayeredNetwork:
    """The network a bench label (:data:`MODELS`) stands for, on ``device``."""
    name, options = MODELS[label]
    return load_model(name, device=device, verbose=False, **options)


# --------------------------------------------------------------------------- timing

def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _seconds(run: Callable[[], Any], device: torch.device) -> float:
    """The wall time of one call of ``run``, with the device's queued work included."""
    _synchronise(device)
    start = time.perf_counter()
    run()
    _synchronise(device)
    return time.perf_counter() - start


def _fastest_seconds(runs: Sequence[Callable[[], Any]], device: torch.device,
                     repeats: int) -> list[float]:
    """The fastest wall time of each of ``runs`` over ``repeats`` rounds, after one warm-up
    round. The runs take turns within a round, so a load that comes and goes on the machine
    touches all of them alike; the minimum is the time least disturbed by it."""
    best = [float("inf")] * len(runs)
    for round_ in range(repeats + 1):
        for index, run in enumerate(runs):
            seconds = _seconds(run, device)
            if round_:
                best[index] = min(best[index], seconds)
    return best


def median_and_iqr(samples: Sequence[float]) -> tuple[float, float, float]:
    """The median, first and third quartile of ``samples``, as (median, q1, q3).

    Quartiles by linear interpolation between the order statistics (numpy's default
    ``method="linear"``, Hyndman & Fan's type 7, ``statistics.quantiles`` with
    ``method="inclusive"``): the p-quantile of the sorted x[0..n-1] sits at position
    p(n - 1). One sample is its own median and quartiles."""
    if not len(samples):
        raise ValueError("median_and_iqr needs at least one sample")
    q1, median, q3 = np.percentile(np.asarray(samples, dtype=float), [25, 50, 75])
    return float(median), float(q1), float(q3)


def ratio_summary(floor_samples: Sequence[float],
                  loop_samples: Sequence[float]) -> dict[str, Any]:
    """The loop against the floor from their per-step samples (any one unit): the medians
    ``floor`` and ``loop``, their interquartile ranges ``floor_iqr`` and ``loop_iqr`` as
    (q1, q3) (:func:`median_and_iqr`), ``ratio``, the median loop over the median floor,
    and ``within_noise``: True when the two medians differ by less than half the larger
    interquartile range, ``|loop - floor| < max(IQR_floor, IQR_loop) / 2`` (equivalently
    ``|ratio - 1| < max(IQR_floor, IQR_loop) / (2 floor)``): the ratio's distance from 1
    is smaller than the spread of the timings, so it does not tell the two apart."""
    floor, floor_q1, floor_q3 = median_and_iqr(floor_samples)
    loop, loop_q1, loop_q3 = median_and_iqr(loop_samples)
    spread = max(floor_q3 - floor_q1, loop_q3 - loop_q1)
    return {"floor": floor, "loop": loop, "floor_iqr": (floor_q1, floor_q3),
            "loop_iqr": (loop_q1, loop_q3), "ratio": loop / floor,
            "within_noise": abs(loop - floor) < spread / 2}


def _batch(model: LayeredNetwork, batch_size: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    size = model.input_size
    return torch.randn(batch_size, 3, size, size, generator=generator).to(model.device)


def _floor_run(model: LayeredNetwork, layer: str, batch: torch.Tensor,
               steps: int) -> Callable[[], None]:
    """``steps`` floor steps: a forward pass to ``layer`` and a backward pass to the input,
    nothing else (a fixed upstream gradient; the input's gradient dropped each step)."""
    x = batch.detach().clone().requires_grad_(True)
    with torch.no_grad():
        upstream = torch.ones_like(model.forward_to(x, layer))

    def run() -> None:
        for _ in range(steps):
            x.grad = None
            model.forward_to(x, layer).backward(upstream)

    return run


def floor_and_loop_seconds(model: LayeredNetwork, layer: str, batch: torch.Tensor,
                           steps: int, repeats: int = 15) -> tuple[list[float], list[float]]:
    """Seconds per step of the floor (:func:`_floor_run`) and of the kit's loop at ``layer``,
    one sample of each per repeat, after one warm-up repeat.

    The loop is :func:`~lecturekit.optimise.loop.optimise` matching the layer's
    activations (Adam, pixels clamped, history kept). Each repeat runs the floor for
    ``steps`` steps, then the loop for ``steps`` and for twice as many; the loop's sample
    is the difference over ``steps``, which removes what a call pays once (checks, the
    final forward pass). Floor and loop thus take turns, repeat after repeat, so a load
    that comes and goes on the machine touches both alike."""
    with torch.no_grad():
        objective = FeatureMatching(layer, model.forward_to(batch.flip(-1), layer))

    def loop(n: int) -> Callable[[], Any]:
        return lambda: optimise(model, objective, batch, maximise=False, steps=n, lr=0.01,
                                progress=False)

    runs = (_floor_run(model, layer, batch, steps), loop(steps), loop(2 * steps))
    floors: list[float] = []
    loops: list[float] = []
    for repeat in range(repeats + 1):
        floor_s, once_s, twice_s = (_seconds(run, model.device) for run in runs)
        if repeat:
            floors.append(floor_s / steps)
            loops.append((twice_s - once_s) / steps)
    return floors, loops


def overhead(models: dict[str, LayeredNetwork], layers: Layers, steps: int, repeats: int,
             batch_size: int = 1) -> dict[str, dict[str, dict[str, Any]]]:
    """Per model label and layer (``layers[label]``), on a batch of ``batch_size`` images of
    the model's input size: the median floor and loop milliseconds per step over
    ``repeats`` repeats (:func:`floor_and_loop_seconds`) with their interquartile ranges
    as [q1, q3], the ratio of the medians, ``within_noise`` (:func:`ratio_summary`), and
    every repeat's milliseconds."""
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for label, model in models.items():
        batch = _batch(model, batch_size)
        table[label] = {}
        for layer in layers[label]:
            floors, loops = floor_and_loop_seconds(model, layer, batch, steps, repeats)
            floor_ms, loop_ms = [1e3 * s for s in floors], [1e3 * s for s in loops]
            summary = ratio_summary(floor_ms, loop_ms)
            table[label][layer] = {
                "floor_ms": summary["floor"], "loop_ms": summary["loop"],
                "ratio": summary["ratio"], "floor_iqr_ms": list(summary["floor_iqr"]),
                "loop_iqr_ms": list(summary["loop_iqr"]),
                "within_noise": summary["within_noise"], "repeats": len(floors),
                "floor_samples_ms": floor_ms, "loop_samples_ms": loop_ms}
    return table


# --------------------------------------------------------------------------- recipes

def _trajectory(history: list[dict[str, float]], data_weight: float) -> list[float]:
    """The relative feature error after 0, 1, 2, ... steps, read from the loop's history
    (each record holds the objective of the image before that step's update)."""
    return [record["objective"] / data_weight for record in history]


def steps_to(errors: Sequence[float], goal: float) -> int | None:
    """The first step count after which the error is at most ``goal`` (None: never)."""
    return next((step for step, error in enumerate(errors) if error <= goal), None)


def recipe_comparison(model: LayeredNetwork, images: torch.Tensor, layers: Sequence[str],
                      budgets: Sequence[int], recipes: Sequence[str] = tuple(RECIPES),
                      goal: float = ERROR_GOAL,
                      seeds: Sequence[int] = (0,)) -> dict[str, dict[str, dict[str, Any]]]:
    """Each recipe inverts each image of ``images`` alone, from each of ``seeds``, at each
    layer once per step budget (its schedule stretched to the budget, as
    ``invert(steps=n)`` does). ``error_at[n]`` is the mean final relative feature error of
    the ``n``-step runs and ``ssim_at[n]`` the mean SSIM of their reconstructions to the
    images (what the priors buy: the error alone rewards fitting noise), ``error_se_at[n]``
    the standard error of that mean (None for a single run);
    ``steps_to_<goal>`` is read off the mean trajectory of the longest runs. If any run
    of a budget diverges (the loop's FloatingPointError) that budget gets None for all
    three and the first message in ``diverged[n]``; the race cannot count a recipe that
    is stable on some images only."""
    table: dict[str, dict[str, dict[str, Any]]] = {}
    longest = max(budgets)
    runs = [(images[k:k + 1], seed) for k in range(images.shape[0]) for seed in seeds]
    for layer in layers:
        table[layer] = {}
        for name in recipes:
            errors: dict[str, float | None] = {}
            spread: dict[str, float | None] = {}
            similarity: dict[str, float | None] = {}
            diverged: dict[str, str] = {}
            paths: list[list[float]] = []
            seconds = 0.0
            for budget in budgets:
                finals: list[tuple[float, float]] = []
                for image, seed in runs:
                    start = time.perf_counter()
                    try:
                        result = invert(model, image, layer, recipe=name, steps=budget,
                                        seed=seed, progress=False)
                    except FloatingPointError as error:
                        diverged.setdefault(str(budget), str(error))
                        continue
                    finally:
                        seconds += time.perf_counter() - start
                    finals.append((float(result.feature_error.mean()), float(result.ssim.mean())))
                    if budget == longest:
                        paths.append(_trajectory(result.history, RECIPES[name].data_weight)
                                     + [finals[-1][0]])
                if str(budget) in diverged:
                    errors[str(budget)] = similarity[str(budget)] = spread[str(budget)] = None
                    continue
                errors[str(budget)] = sum(e for e, _ in finals) / len(finals)
                spread[str(budget)] = standard_error([e for e, _ in finals])
                similarity[str(budget)] = sum(q for _, q in finals) / len(finals)
            path = [sum(values) / len(values) for values in zip(*paths)] \
                if str(longest) not in diverged else []
            table[layer][name] = {"error_at": errors, "error_se_at": spread,
                                  "ssim_at": similarity,
                                  f"steps_to_{goal:g}": steps_to(path, goal),
                                  "seconds": seconds, "diverged": diverged}
    return table


def standard_error(values: Sequence[float]) -> float | None:
    """The standard error of the mean of ``values`` (sample standard deviation over the
    square root of their number); None for fewer than two."""
    if len(values) < 2:
        return None
    return float(np.std(values, ddof=1) / np.sqrt(len(values)))


def rises_within_noise(errors: Sequence[float], spreads: Sequence[float | None]) -> bool:
    """Whether every rise of ``errors`` from one budget to the next is smaller than the
    two means' combined standard error (``spreads``; a rise with an unknown spread is
    never noise). A path that never rises passes."""
    for k in range(len(errors) - 1):
        rise = errors[k + 1] - errors[k]
        if rise <= 0:
            continue
        if spreads[k] is None or spreads[k + 1] is None \
                or rise >= float(np.hypot(spreads[k], spreads[k + 1])):
            return False
    return True


def kit_speedup(recipes: dict[str, dict[str, dict[str, Any]]],
                kit_recipe: str = "kit") -> dict[str, dict[str, Any]]:
    """Per layer: the best other recipe's error at its longest budget (and its SSIM), the
    smallest budget at which the kit's default (``kit_recipe``, the model's
    ``default_recipe``) reaches that error (target: a quarter of the steps) with the
    kit's SSIM there, whether the kit's error falls with every larger budget
    (``kit_monotone``) and, if not, whether each rise is within the runs' noise
    (``kit_rises_within_noise``, :func:`rises_within_noise`). The other recipes are those not named ``kit...``; one that
    diverged at the longest budget cannot be the best (None: all did)."""
    summary = {}
    for layer, by_recipe in recipes.items():
        kit = by_recipe[kit_recipe]
        longest = max(int(n) for n in kit["error_at"])
        others = {name: row["error_at"][str(longest)] for name, row in by_recipe.items()
                  if not name.startswith("kit") and row["error_at"][str(longest)] is not None}
        best_name = min(others, key=others.get) if others else None
        best = others[best_name] if others else None
        reached = [int(n) for n, e in kit["error_at"].items()
                   if e is not None and best is not None and e <= best]
        match = min(reached) if reached else None
        order = sorted(kit["error_at"], key=int)
        path = [kit["error_at"][n] for n in order]
        spreads = [kit.get("error_se_at", {}).get(n) for n in order]
        summary[layer] = {
            "kit_recipe": kit_recipe, "best_other": best_name, "best_other_error": best,
            "best_other_ssim": by_recipe[best_name].get("ssim_at", {}).get(str(longest))
            if best_name else None,
            "kit_steps_to_match": match,
            "kit_ssim_at_match": kit.get("ssim_at", {}).get(str(match)) if match else None,
            "kit_monotone": None not in path and all(b <= a for a, b in zip(path, path[1:])),
            "kit_rises_within_noise": None not in path and rises_within_noise(path, spreads),
            "of_steps": longest}
    return summary


# --------------------------------------------------------------------------- notebooks

def notebook_paths(root: Path = ROOT) -> list[Path]:
    """Every notebook of ``notebooks/`` and ``solutions/``, in order."""
    return sorted((root / "notebooks").glob("*.ipynb")) + sorted((root / "solutions").glob("*.ipynb"))


def _instant(stamp: str) -> datetime:
    """A timestamp nbclient wrote (ISO 8601, ``Z`` for UTC, which Python 3.10 cannot read)."""
    moment = datetime.fromisoformat(stamp[:-1] + "+00:00" if stamp.endswith("Z") else stamp)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def cell_seconds(notebook: Mapping[str, Any]) -> list[tuple[int, float]]:
    """(code-cell index, seconds) of each executed code cell of ``notebook`` (a notebook
    nbclient executed, or its dictionary): the index counts code cells only, from 0, as
    nbval's ``Cell N`` does; the seconds run from the kernel's ``execute_input`` to its
    ``execute_reply`` (``cell.metadata.execution``). A code cell without both timestamps
    (empty, skipped, not reached) keeps its index and is left out."""
    code = (cell for cell in notebook["cells"] if cell["cell_type"] == "code")
    rows = []
    for index, cell in enumerate(code):
        timing = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            start, end = timing["iopub.execute_input"], timing["shell.execute_reply"]
            rows.append((index, (_instant(end) - _instant(start)).total_seconds()))
    return rows


def longest_cells(per_notebook: Mapping[str, Sequence[tuple[int, float]]],
                  limit: float = CELL_LIMIT_S, count: int = 10) -> list[dict[str, Any]]:
    """The ``count`` longest cells over all notebooks (``per_notebook``: notebook name ->
    :func:`cell_seconds`), longest first (ties by notebook, then cell), each as
    ``{"notebook", "cell", "seconds", "over_limit"}``; ``over_limit``: more than ``limit``
    seconds."""
    cells = sorted(((notebook, cell, seconds) for notebook, rows in per_notebook.items()
                    for cell, seconds in rows), key=lambda row: (-row[2], row[0], row[1]))
    return [{"notebook": notebook, "cell": cell, "seconds": seconds,
             "over_limit": seconds > limit} for notebook, cell, seconds in cells[:count]]


KERNEL_PROBE = """import json as _json, resource as _resource
_usage = _resource.getrusage(_resource.RUSAGE_SELF)
print(_json.dumps({"peak_rss_mib": _usage.ru_maxrss / 1024,
                   "cpu_seconds": _usage.ru_utime + _usage.ru_stime}))"""
"""A last cell run in each notebook's kernel: the kernel's peak resident memory (Linux
reports KiB) and the CPU seconds of all its threads, as one line of JSON."""


def kernel_usage(notebook: Mapping[str, Any]) -> dict[str, float] | None:
    """What :data:`KERNEL_PROBE` printed in the last cell of an executed ``notebook`` (None
    when that cell did not run, as after a failing cell)."""
    outputs = notebook["cells"][-1].get("outputs", [])
    text = "".join(out.get("text", "") for out in outputs if out.get("name") == "stdout")
    if not text.strip():
        return None
    usage = json.loads(text)
    return {key: round(float(usage[key]), 1) for key in ("peak_rss_mib", "cpu_seconds")}


def notebook_seconds(paths: Sequence[Path], model_name: str = "toy", timeout: int = 1800
                     ) -> tuple[dict[str, Any], dict[str, list[tuple[int, float]]],
                                dict[str, dict[str, float]]]:
    """Execute each notebook in a fresh kernel (``LECTUREKIT_MODEL=model_name``, the kit's
    disk cache and progress bars off, so the times are a first run's) and return the wall
    seconds per notebook and in total, per notebook the seconds of each code cell it ran
    (:func:`cell_seconds`; the timings saved in the file are dropped first), and per
    notebook that ran to the end its kernel's peak memory and CPU seconds
    (:func:`kernel_usage`). A notebook that fails is reported by its error instead of
    stopping the benchmark, with the cells it ran up to the failure. Nothing is written
    to the notebooks."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    env = {**os.environ, "LECTUREKIT_MODEL": model_name, "MPLBACKEND": "Agg",  # the kernel's
           "LECTUREKIT_CACHE": "off", "LECTUREKIT_PROGRESS": "0"}
    table: dict[str, Any] = {}
    cells: dict[str, list[tuple[int, float]]] = {}
    usage: dict[str, dict[str, float]] = {}
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            cell.metadata.pop("execution", None)
        notebook.cells.append(nbformat.v4.new_code_cell(KERNEL_PROBE))
        client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                record_timing=True,
                                resources={"metadata": {"path": str(path.parent)}})
        start = time.perf_counter()
        try:
            client.execute(env=env)
            table[path.name] = round(time.perf_counter() - start, 1)
        except CellExecutionError as error:
            table[path.name] = f"failed: {str(error).strip().splitlines()[-1]}"
        measured = kernel_usage(notebook)
        if measured is not None:
            usage[path.name] = measured
        notebook.cells.pop()  # the probe is not one of the notebook's cells
        cells[path.name] = cell_seconds(notebook)
    table["total"] = round(sum(v for v in table.values() if isinstance(v, float)), 1)
    return table, cells, usage


# --------------------------------------------------------------------------- the big figure

def _peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if platform.system() == "Darwin" else peak / 1024


def _grid_worker(device: str, label: str, layers: Sequence[str], steps: int | None,
                 queue) -> None:
    torch.manual_seed(0)
    model = bench_model(label, device)
    image = inversion_image(model)
    before = _peak_rss_mib()
    if model.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(model.device)
    invert(model, image, layers[-1], steps=2, progress=False)  # warm-up
    _synchronise(model.device)
    start = time.perf_counter()
    invert_layers(model, image, layers, steps=steps, progress=False)
    _synchronise(model.device)
    seconds = time.perf_counter() - start
    memory = {"rss_before_mib": before, "rss_peak_mib": _peak_rss_mib()}
    if model.device.type == "cuda":
        memory["cuda_peak_mib"] = torch.cuda.max_memory_allocated(model.device) / 2 ** 20
    total = steps if steps is not None else RECIPES[default_recipe(model)].steps
    floor = total * sum(
        _fastest_seconds([_floor_run(model, layer, image, 3)], model.device, 2)[0] / 3
        for layer in layers)
    queue.put({"seconds": seconds, "floor_seconds": floor, "layers": len(layers),
               "size": image.shape[-1], "memory": memory})


def inversion_grid(device: str, label: str = "alexnet", layers: Sequence[str] = ALEXNET_LAYERS,
                   steps: int | None = None) -> dict[str, Any]:
    """Wall seconds of the layer-wise inversion of the model's inversion image (Chelsea
    the cat at 224 px for AlexNet's shape and EfficientNet-Lite0) through the network a
    bench ``label`` names, the kit's default recipe, in a fresh process: its peak resident
    memory is the inversion's (plus the Python, torch and model it needs, reported as
    ``rss_before_mib``). ``floor_seconds`` is the floor of the same work done layer by
    layer: the steps times the sum over the layers of one forward + backward pass at
    batch 1."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    worker = context.Process(target=_grid_worker,
                             args=(device, label, list(layers), steps, queue))
    worker.start()
    report = queue.get()
    worker.join()
    if worker.exitcode:
        raise RuntimeError(f"the inversion-grid process failed with exit code {worker.exitcode}")
    return report


# --------------------------------------------------------------------------- explorer

def explorer_seconds(model: LayeredNetwork, layers: Sequence[str],
                     steps: int | None = None) -> dict[str, Any]:
    """Seconds until the inversion explorer shows its first picture (``picture_seconds``,
    issue 36's target: 1 s; a computed setting shows its search coarse to fine) and its
    finished result (``seconds``), with the feature error and SSIM of that result (a fast
    blur would not be a result): ``first``, building it at ``layers[0]`` on the model's
    inversion image; ``move``, one move of its layer slider to ``layers[1]`` right away
    (prefetch off: a cold inversion); ``prefetched``, the same move in a second explorer
    once its background prefetch of ``layers[1]`` is done, with ``ready_seconds``, how long
    after the first result that was (the pause the lecturer needs)."""
    from lecturekit.ui.widgets.inversion import InversionExplorer

    def timed(explorer: InversionExplorer, act: Callable[[], Any]) -> dict[str, Any]:
        pictures: list[float] = []
        watch = lambda change: pictures.append(time.perf_counter())  # noqa: E731
        explorer.reconstruction_view.observe(watch, names="value")
        start = time.perf_counter()
        act()
        seconds = time.perf_counter() - start
        explorer.reconstruction_view.unobserve(watch, names="value")
        result = explorer.result
        return {"seconds": seconds, "picture_seconds": pictures[0] - start, "layer": result.layer,
                "feature_error": float(result.feature_error[0]), "ssim": float(result.ssim[0])}

    image = inversion_image(model)
    start = time.perf_counter()
    cold = InversionExplorer(model, image, list(layers), steps=steps, prefetch=False,
                             auto=False)
    built = time.perf_counter() - start  # the widgets, before the first inversion starts
    first = timed(cold, cold.update)
    rows = {"first": {**first, "seconds": built + first["seconds"],
                      "picture_seconds": built + first["picture_seconds"]}}
    cold.auto = True
    rows["move"] = timed(cold, lambda: setattr(cold.layer, "value", layers[1]))
    explorer = InversionExplorer(model, image, list(layers), steps=steps)
    start = time.perf_counter()
    explorer.wait_for_prefetch()
    ready = time.perf_counter() - start
    rows["prefetched"] = {**timed(explorer, lambda: setattr(explorer.layer, "value", layers[1])),
                          "ready_seconds": ready}
    return rows


# --------------------------------------------------------------------------- the presentation page

def _tree_rss_mib(pid: int) -> tuple[float, int]:
    """Resident memory of process ``pid`` and all its descendants in MiB, and how many of
    them are live kernels."""
    import psutil

    total, kernels = 0, 0
    root = psutil.Process(pid)
    for process in (root, *root.children(recursive=True)):
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            total += process.memory_info().rss
            kernels += "ipykernel" in " ".join(process.cmdline())
        except psutil.Error:  # it ended meanwhile
            continue
    return total / 2**20, kernels


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _private_jupyter(home: Path) -> dict[str, str]:
    """This process's environment with Agg and Jupyter's and IPython's folders under
    ``home``, so that no setting of the user's reaches a server the bench starts."""
    return {**os.environ, "MPLBACKEND": "Agg",
            **{name: str(home / name.lower()) for name in
               ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR")}}


def _present_server(model: str, home: Path) -> tuple[subprocess.Popen, str]:
    """``python -m lecturekit present`` for ``model`` on a free port of 127.0.0.1, with its
    own settings, private Jupyter folders and an empty cache folder under ``home`` (so it
    prepares its page); returns once it answers."""
    port = _free_port()
    env = {**_private_jupyter(home), "LECTUREKIT_PROGRESS": "0",
           "LECTUREKIT_CACHE": str(home / "cache")}
    server = subprocess.Popen(
        [sys.executable, "-m", "lecturekit", "present", "--model", model, "--no-browser",
         f"--port={port}", "--Voila.ip=127.0.0.1"], env=env, cwd=home,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            urllib.request.urlopen(f"{url}/voila/static/voila.js", timeout=2).close()
            return server, url
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.5)
    os.killpg(server.pid, signal.SIGKILL)
    raise RuntimeError(f"present: `lecturekit present` did not answer at {url}")


def _visit(context, url: str, server: subprocess.Popen) -> tuple[float, float, float]:
    """Open the page in a new tab until the explorer's first picture, then close the tab as
    a user does; (seconds to the page's first picture, seconds to the explorer's, MiB of
    the server and its kernels just before closing)."""
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.locator(OPENING_PICTURE).wait_for(timeout=600_000)
    opening = time.perf_counter() - start
    page.locator(FIRST_PICTURE).wait_for(timeout=600_000)
    explorer = time.perf_counter() - start
    rss, _ = _tree_rss_mib(server.pid)
    page.close(run_before_unload=True)
    return opening, explorer, rss


def present_page(model: str = "efficientnet-lite0", visits: int = 5,
                 settle_s: float = 30.0) -> dict[str, Any]:
    """``python -m lecturekit present``: seconds from its start (with an empty cache) until
    it answers; for each of ``visits`` visits of its page in headless Chromium, one after
    the other, the seconds to the page's first picture and to the inversion explorer's,
    and the memory of the server and its kernels while the page was open; then the
    memory once no kernel is left or ``settle_s`` seconds after the last tab closed."""
    if not CHROMIUM.exists():
        raise FileNotFoundError(f"present needs Chromium at {CHROMIUM} "
                                f"(apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as home:
        start = time.perf_counter()
        server, url = _present_server(model, Path(home))
        serving = time.perf_counter() - start
        try:
            with sync_playwright() as playwright:
                chromium = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                      args=["--no-sandbox"])
                context = chromium.new_context()
                context.route("https://cdn.jsdelivr.net/**", lambda route: route.fulfill(
                    status=200, content_type="text/css", body=""))  # offline: no icon font
                shown = [_visit(context, url, server) for _ in range(visits)]
                deadline = time.monotonic() + settle_s
                while _tree_rss_mib(server.pid)[1] and time.monotonic() < deadline:
                    time.sleep(0.5)
                rss, kernels = _tree_rss_mib(server.pid)
                chromium.close()
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
    return {"model": model, "visits": visits, "seconds_to_serve": round(serving, 1),
            "seconds_to_first_picture": [round(seconds, 2) for seconds, _, _ in shown],
            "seconds_to_explorer_picture": [round(seconds, 1) for _, seconds, _ in shown],
            "rss_mib_page_open": round(max(rss for _, _, rss in shown), 1),
            "rss_mib_after": round(rss, 1), "kernels_after": kernels}


# --------------------------------------------------------------------------- a course on one node

NODE_CORES = 16
NODE_MEMORY_GIB = 64
"""The node the capacity table is given for (a common mid-size server or cloud machine)."""
SYSTEM_GIB = 2.0
"""Memory the node's system keeps for itself, beside the hub."""
WINDOW_S = 600
"""The assumption: every student runs the same notebook within the same ten minutes."""
HEADROOM = 1.25
"""The memory limit per user is the measured peak of one server with one kernel times this."""


def memory_at_rest(command: Sequence[str], ready_url: str, env: Mapping[str, str], cwd: Path,
                   settle_s: float = 10.0) -> float:
    """Resident MiB of a server and everything it started, ``settle_s`` seconds after
    ``ready_url`` first answered, with nobody using it; the server is stopped after."""
    server = subprocess.Popen(list(command), env=dict(env), cwd=cwd, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(ready_url, timeout=2).close()
                break
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError(f"capacity: {command[2]} exited ({server.returncode}) "
                                       f"before {ready_url} answered") from None
                time.sleep(0.5)
        else:
            raise RuntimeError(f"capacity: {ready_url} did not answer within 120 s")
        time.sleep(settle_s)
        return round(_tree_rss_mib(server.pid)[0], 1)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def servers_at_rest() -> dict[str, float]:
    """Resident MiB at rest of a single-user server (JupyterLab, as a hub starts one per
    student, no kernel) and of the hub of ``deploy/jupyterhub_config.py`` with its proxy
    and no user logged in (its proxy from PATH or ``.hub/``: ``bash scripts/hub.sh
    --install-only``)."""
    with tempfile.TemporaryDirectory() as home:
        home = Path(home)
        env = _private_jupyter(home)
        port = _free_port()
        server = memory_at_rest(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
             f"--port={port}", "--ServerApp.ip=127.0.0.1", "--IdentityProvider.token="],
            f"http://127.0.0.1:{port}/api", env, home)
        port = _free_port()
        hub_env = {**env, "PATH": f"{ROOT / '.hub' / 'node_modules' / '.bin'}:{env['PATH']}",
                   "LECTUREKIT_HUB_PORT": str(port), "LECTUREKIT_HUB_STATE": str(home / "hub"),
                   "LECTUREKIT_HUB_PASSWORD": "measure-at-rest",
                   "LECTUREKIT_HUB_TEACHER_PASSWORD": "m" * 32}
        hub = memory_at_rest(
            [sys.executable, "-m", "jupyterhub", "-f", str(ROOT / "deploy" / "jupyterhub_config.py")],
            f"http://127.0.0.1:{port}/hub/api/", hub_env, home)
    return {"single_user_server_mib": server, "hub_mib": hub}


def students_per_node(kernel_mib: float, server_mib: float, hub_mib: float,
                      cpu_seconds: float, cores: int = NODE_CORES,
                      memory_gib: float = NODE_MEMORY_GIB, window_s: float = WINDOW_S,
                      system_gib: float = SYSTEM_GIB) -> dict[str, Any]:
    """How many students one node serves when each has one server with one kernel that
    peaks at ``kernel_mib`` (the server at rest: ``server_mib``) and every student spends
    ``cpu_seconds`` of CPU time within the same ``window_s`` seconds: the smaller of what
    the memory left after the system and the hub (``hub_mib``) holds and what the cores
    compute in the window; with the memory limit per user to set (:data:`HEADROOM` over
    the peak, rounded up to half a GiB)."""
    per_student = kernel_mib + server_mib
    free = memory_gib * 1024 - system_gib * 1024 - hub_mib
    by_memory = int(free // per_student)
    by_cpu = int(cores * window_s // cpu_seconds)
    limit_gib = -(-per_student * HEADROOM // 512) / 2  # ceil to 0.5 GiB
    return {"per_student_mib": round(per_student), "by_memory": by_memory, "by_cpu": by_cpu,
            "students": min(by_memory, by_cpu),
            "bound": "memory" if by_memory <= by_cpu else "CPU",
            "memory_limit_gib": limit_gib}


def course_capacity(usage: Mapping[str, Mapping[str, Mapping[str, float]]], server_mib: float,
                    hub_mib: float) -> dict[str, dict[str, Any]]:
    """:func:`students_per_node` for following a lecture along (the heaviest lecture
    notebook, by memory and by CPU seconds, on each network of ``usage``: model name ->
    notebook name -> :func:`kernel_usage`) and for a homework evening (the heaviest
    homework notebook, ``hw*``, on the toy, the homework's network)."""
    rows: dict[str, dict[str, Any]] = {}
    for model, notebooks in usage.items():
        groups = {f"lecture ({model})": [u for nb, u in notebooks.items()
                                         if not nb.startswith("hw")]}
        if model == "toy":
            groups["homework (toy)"] = [u for nb, u in notebooks.items() if nb.startswith("hw")]
        for scenario, measured in groups.items():
            if measured:
                kernel = max(u["peak_rss_mib"] for u in measured)
                cpu = max(u["cpu_seconds"] for u in measured)
                rows[scenario] = {"kernel_peak_mib": kernel, "cpu_seconds": cpu,
                                  **students_per_node(kernel, server_mib, hub_mib, cpu)}
    return rows


# --------------------------------------------------------------------------- scenes

def scene_milliseconds(count: int = 40) -> float:
    """Milliseconds to draw one 128-pixel toy scene with its mask (``train-toy`` draws its
    data on the fly, so this bounds its speed; the aim is under 30 ms)."""
    scenes.make_scene(0)
    start = time.perf_counter()
    for seed in range(1, count + 1):
        scenes.make_scene(seed)
    return 1e3 * (time.perf_counter() - start) / count


# --------------------------------------------------------------------------- all of it

def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    info = {"date": date.today().isoformat(), "python": platform.python_version(),
            "torch": torch.__version__, "cpu": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def run_bench(settings: BenchSettings = FULL, *, device: str = "cpu",
              parts: Sequence[str] = PARTS, notebooks: Sequence[Path] | None = None,
              notebook_models: Sequence[str] = ("toy",),
              log: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """Measure the chosen ``parts`` and return one dictionary (the ``--json`` output)."""
    unknown = sorted(set(parts) - set(PARTS) - set(ON_REQUEST))
    if unknown:
        raise ValueError(f"unknown part(s) {', '.join(unknown)}; valid parts: "
                         f"{', '.join(PARTS + ON_REQUEST)}")
    if "capacity" in parts and "notebooks" not in parts:
        raise ValueError("capacity needs the notebooks' kernels measured in the same run: "
                         "--only notebooks capacity --notebook-models efficientnet-lite0 toy")
    results: dict[str, Any] = {"machine": {**machine(), "device": device}}
    if "overhead" in parts:
        log("overhead: the loop against forward + backward ...")
        models = {label: bench_model(label, device) for label in settings.overhead_layers}
        results["overhead"] = overhead(models, settings.overhead_layers,
                                       settings.overhead_steps, settings.repeats)
    if "recipes" in parts:
        log("recipes: every recipe on the same images and starts ...")
        results["recipes"], results["recipes_kit_speedup"] = {}, {}
        for label, layers in settings.recipe_layers.items():
            model = bench_model(label, device)
            images = lecture_example(model, settings.recipe_images[label]).batch
            images = images.to(model.device)
            table = recipe_comparison(model, images, layers, settings.budgets,
                                      seeds=settings.recipe_seeds[label])
            results["recipes"][label] = table
            results["recipes_kit_speedup"][label] = kit_speedup(table, default_recipe(model))
    if "scenes" in parts:
        log("scenes: drawing toy scenes ...")
        results["scene_ms"] = scene_milliseconds()
    if "notebooks" in parts:
        paths = notebook_paths() if notebooks is None else [Path(p) for p in notebooks]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing or not paths:
            raise FileNotFoundError(f"notebooks: no such notebook(s): {', '.join(missing)}"
                                    if missing else f"notebooks: none found under {ROOT}; "
                                    f"name them with --notebooks")
        for key in ("notebooks_seconds", "notebook_cells", "longest_cells", "notebook_usage"):
            results[key] = {}
        for name in notebook_models:
            log(f"notebooks: executing {len(paths)} notebooks with the {name} model ...")
            table, cells, usage = notebook_seconds(paths, name)
            results["notebooks_seconds"][name] = table
            results["notebook_cells"][name] = cells
            results["notebook_usage"][name] = usage
            results["longest_cells"][name] = longest_cells(cells)
    if "grid" in parts:
        results["inversion_grid"] = {}
        for label, layers in settings.grid_layers.items():
            log(f"grid: layer-wise inversion through {label} in a fresh process ...")
            results["inversion_grid"][label] = inversion_grid(device, label, layers,
                                                              settings.grid_steps)
    if "explorer" in parts:
        log("explorer: the inversion explorer's first result and one slider move ...")
        results["explorer_seconds"] = {
            label: explorer_seconds(bench_model(label, device), layers, settings.explorer_steps)
            for label, layers in settings.explorer_layers.items()}
    if "present" in parts:
        log(f"present: {settings.present_visits} visits of the presentation page "
            f"({settings.present_model}) in Chromium ...")
        results["present"] = present_page(settings.present_model, settings.present_visits)
    if "capacity" in parts:
        log("capacity: a single-user server and the hub at rest ...")
        rest = results["servers_at_rest"] = servers_at_rest()
        results["capacity"] = course_capacity(results["notebook_usage"],
                                              rest["single_user_server_mib"], rest["hub_mib"])
    return results


def _plus_minus(row: Mapping[str, Any], budget: str) -> str:
    """`` ±0.002``: a race row's standard error at ``budget``, if it has one."""
    spread = row.get("error_se_at", {}).get(budget)
    return "" if spread is None else f" ±{spread:.3f}"


def format_table(results: dict[str, Any]) -> str:
    """The results as Markdown tables (what ``benchmarks/RESULTS.md`` keeps)."""
    lines: list[str] = []
    m = results["machine"]
    lines += [f"Measured {m['date']} on {m['device']} ({m.get('gpu', m['cpu'])}, "
              f"{m['cpu_count']} CPUs, {m['torch_threads']} torch threads), Python "
              f"{m['python']}, torch {m['torch']}.", ""]
    if "overhead" in results:
        repeats = next(iter(next(iter(results["overhead"].values())).values()))["repeats"]
        lines += ["Loop overhead (milliseconds per step of the kit's loop and of the floor, "
                  f"forward + backward: medians [interquartile range] of {repeats} repeats in "
                  "which the two take turns; the ratio is the loop's median over the floor's, "
                  "and the target <= 1.10 is judged on these medians; within noise: the "
                  "medians differ by less than half the larger interquartile range)", "",
                  "| model | layer | floor ms [IQR] | loop ms [IQR] | ratio |",
                  "|---|---|---:|---:|---:|"]
        for label, rows in results["overhead"].items():
            for layer, row in rows.items():
                (f1, f3), (l1, l3) = row["floor_iqr_ms"], row["loop_iqr_ms"]
                lines.append(f"| {label} | {layer} | {row['floor_ms']:.2f} [{f1:.2f}, {f3:.2f}] "
                             f"| {row['loop_ms']:.2f} [{l1:.2f}, {l3:.2f}] | {row['ratio']:.2f}"
                             + (" (within noise)" if row["within_noise"] else "") + " |")
        lines.append("")
    if "scene_ms" in results:
        lines += [f"Toy scenes: {results['scene_ms']:.1f} ms to draw one (target < 30 ms).", ""]
    if "recipes" in results:
        goal_key = f"steps_to_{ERROR_GOAL:g}"
        for label, by_layer in results["recipes"].items():
            budgets = list(next(iter(next(iter(by_layer.values())).values()))["error_at"])
            lines += [f"Inversion recipes on {label}: relative feature error (SSIM to the "
                      f"original) after n steps, means over images and starts (± their "
                      f"standard error); steps to "
                      f"reach an error of {ERROR_GOAL:g}", "",
                      "| layer | recipe | " + " | ".join(f"n={b}" for b in budgets)
                      + f" | steps to {ERROR_GOAL:g} | seconds |",
                      "|---|---|" + "---:|" * (len(budgets) + 2)]
            for layer, rows in by_layer.items():
                for name, row in rows.items():
                    errors = " | ".join("diverged" if row["error_at"][b] is None else
                                        f"{row['error_at'][b]:.3f}{_plus_minus(row, b)} "
                                        f"({row['ssim_at'][b]:.2f})" for b in budgets)
                    reached = row[goal_key] if row[goal_key] is not None else "never"
                    lines.append(f"| {layer} | {name} | {errors} | {reached} | "
                                 f"{row['seconds']:.1f} |")
            lines.append("")
            for layer, row in results.get("recipes_kit_speedup", {}).get(label, {}).items():
                match = row["kit_steps_to_match"]
                if row["best_other"] is None:
                    race = (f"every other recipe diverged; the kit's default "
                            f"({row['kit_recipe']}) did not")
                else:
                    race = (f"the best other recipe ({row['best_other']}) reaches "
                            f"{row['best_other_error']:.3f} in {row['of_steps']} steps (SSIM "
                            f"{row['best_other_ssim']:.2f}); the kit's default "
                            f"({row['kit_recipe']}) "
                            + (f"reaches it in {match} steps (SSIM "
                               f"{row['kit_ssim_at_match']:.2f})" if match else
                               "does not reach it within the budgets"))
                lines.append(f"- {label} {layer}: {race}"
                             + ("; its error falls with every larger budget."
                                if row["kit_monotone"] else
                                "; its error rises with a larger budget, but by less than "
                                "the runs' standard error (within noise)."
                                if row.get("kit_rises_within_noise") else
                                "; its error does not fall with every larger budget."))
            lines.append("")
    if "notebooks_seconds" in results:
        for name, table in results["notebooks_seconds"].items():
            usage = results.get("notebook_usage", {}).get(name, {})
            lines += [f"Notebooks with the {name} model (wall seconds, fresh kernel each, "
                      "disk cache off; the kernel's peak resident memory and CPU seconds)", "",
                      "| notebook | seconds | kernel peak MiB | kernel CPU s |",
                      "|---|---:|---:|---:|"]
            lines += [f"| {nb} | {s} | " + (f"{usage[nb]['peak_rss_mib']:.0f} | "
                                             f"{usage[nb]['cpu_seconds']:.0f} |"
                                             if nb in usage else "| |")
                      for nb, s in table.items()]
            lines.append("")
    for name, rows in results.get("longest_cells", {}).items():
        lines += [f"The {len(rows)} longest cells with the {name} model (seconds; limit "
                  f"{CELL_LIMIT_S:g} s on 2 cores)", "",
                  f"| notebook | code cell (nbval's Cell N) | seconds | over {CELL_LIMIT_S:g} s |",
                  "|---|---:|---:|---|"]
        lines += [f"| {row['notebook']} | {row['cell']} | {row['seconds']:.1f} | "
                  + ("**yes**" if row["over_limit"] else "no") + " |" for row in rows]
        lines.append("")
    for label, grid in results.get("inversion_grid", {}).items():
        memory = grid["memory"]
        lines += [f"Inversion grid: {grid['layers']} {label} layers at {grid['size']} px, kit "
                  f"default recipe: {grid['seconds']:.1f} s (the floor of the same steps layer "
                  f"by layer: {grid['floor_seconds']:.1f} s); peak resident memory "
                  f"{memory['rss_peak_mib']:.0f} MiB (of which {memory['rss_before_mib']:.0f} "
                  "MiB before the inversion started)"
                  + (f"; CUDA peak {memory['cuda_peak_mib']:.0f} MiB" if "cuda_peak_mib" in memory
                     else "") + ".", ""]
    if "explorer_seconds" in results:
        lines += ["Inversion explorer: seconds until its first picture (target <= 1 s; a "
                  "computed setting shows its search coarse to fine) and until the finished "
                  "result, and what that result is", "",
                  "| model | action | layer | first picture s | result s | feature error | "
                  "SSIM |", "|---|---|---|---:|---:|---:|---:|"]
        for label, rows in results["explorer_seconds"].items():
            lines += [f"| {label} | {action}"
                      + (f" (ready {row['ready_seconds']:.1f} s after the first)"
                         if "ready_seconds" in row else "")
                      + f" | {row['layer']} | {row['picture_seconds']:.2f} | "
                      f"{row['seconds']:.2f} | {row['feature_error']:.3f} | {row['ssim']:.2f} |"
                      for action, row in rows.items()]
        lines.append("")
    if "present" in results:
        row = results["present"]
        lines += [f"Presentation page ({row['model']}): the command answered after "
                  f"{row['seconds_to_serve']:.1f} s (preparing its page); seconds from opening "
                  f"the page to its first picture (target <= 3 s): "
                  f"{', '.join(f'{s:.2f}' for s in row['seconds_to_first_picture'])}; to the "
                  f"inversion explorer's first picture: "
                  f"{', '.join(f'{s:.1f}' for s in row['seconds_to_explorer_picture'])}. After "
                  f"{row['visits']} visits, each closed, the Voilà server and its kernels hold "
                  f"{row['rss_mib_after']:.0f} MiB with {row['kernels_after']} kernel(s) left "
                  f"({row['rss_mib_page_open']:.0f} MiB at most while a page was open).", ""]
    if "capacity" in results:
        rest = results["servers_at_rest"]
        lines += [f"A course on one node of {NODE_CORES} cores and {NODE_MEMORY_GIB} GiB. At "
                  f"rest a single-user server (JupyterLab, no kernel) holds "
                  f"{rest['single_user_server_mib']:.0f} MiB, the hub with its proxy "
                  f"{rest['hub_mib']:.0f} MiB. Assumed: every student has one server with one "
                  f"kernel and runs the scenario's heaviest notebook within the same "
                  f"{WINDOW_S // 60} minutes; {SYSTEM_GIB:g} GiB stay with the system; the "
                  f"memory limit per user is {HEADROOM:g} x a student's peak.", "",
                  "| scenario | kernel peak MiB | kernel CPU s | MiB per student | students "
                  "by memory | by CPU | students | memory limit per user |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {name} | {row['kernel_peak_mib']:.0f} | {row['cpu_seconds']:.0f} | "
                  f"{row['per_student_mib']} | {row['by_memory']} | {row['by_cpu']} | "
                  f"**{row['students']}** ({row['bound']}) | {row['memory_limit_gib']:g} GiB |"
                  for name, row in results["capacity"].items()]
        lines.append("")
    return "\n".join(lines)


def results_json(results: dict[str, Any]) -> str:
    """The results as one JSON object."""
    return json.dumps(results, indent=2)


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's command line."""
    parser = argparse.ArgumentParser(prog="python benchmarks/bench.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true",
                        help="a tiny setting that runs every part in seconds (a smoke test)")
    parser.add_argument("--only", nargs="+", metavar="PART",
                        help=f"measure only these parts: {', '.join(PARTS)}, and on request "
                             f"{', '.join(ON_REQUEST)}")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or mps")
    parser.add_argument("--notebooks", nargs="+", metavar="PATH",
                        help="notebooks to time (default: all of notebooks/ and solutions/)")
    parser.add_argument("--notebook-models", nargs="+", default=["toy"],
                        choices=["toy", "alexnet-random", "efficientnet-lite0"],
                        help="models to run the notebooks with (default: toy)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Measure the kit's speed; print Markdown tables, or one JSON object with --json."""
    args = build_parser().parse_args(argv)
    try:
        resolve_device(args.device)
        results = run_bench(QUICK if args.quick else FULL, device=args.device,
                            parts=args.only or PARTS, notebooks=args.notebooks,
                            notebook_models=args.notebook_models,
                            log=lambda line: print(line, file=sys.stderr, flush=True))
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(results_json(results) if args.json else format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

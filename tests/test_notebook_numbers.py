"""Every number in a notebook's text is printed by one of its cells.

A sentence like "guided backprop points best (97 %)" must be backed by an output of the
same notebook that says so (0.97, 97 % or 0.970 all count, rounded to the text's digits):
a number written by hand goes stale the day the network or a recipe changes. Numbers with
one significant digit (a step count of 100, "3 of the 8") and years are not checked;
constants from papers and the kit's settings that a cell does not print are listed in
:data:`ALLOWED`, each with where it comes from.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted([*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("solutions/*.ipynb")])

ALLOWED: dict[str, str] = {
    # notebook-independent constants: papers, the kit's settings, image sizes
    "1.4": "DeepDream's octave scale (Mordvintsev et al. 2015)",
    "1.5": "DeepDream's step size and SSIM's window sigma (Mordvintsev et al.; Wang et al.)",
    "15": "the pointing game's tolerance in pixels (Zhang et al. 2016)",
    "32": "DeepDream's jitter in pixels (Mordvintsev et al. 2015); EfficientNet's minimum side",
    "63": "AlexNet's minimum input side (torchvision)",
    "128": "the toy's image side",
    "224": "the ImageNet networks' input side",
    "227": "Mahendran & Vedaldi's image side",
    "233": "the size of AlexNet's weights in MB (torchvision's metadata)",
    "0.05": "Adam's rate in the kit's recipes (Olah et al. 2017)",
    "0.004": "Mahendran & Vedaldi's first learning rate",
    "68.9": "Mahendran & Vedaldi's typical pixel magnitude",
    "1280": "EfficientNet-Lite0's head width (its layer table)",
    "0.25": "a quarter (the ratio a speed target asks for)",
    "16": "the side of the blocks of notebook 04's coarse share (its avg_pool2d's argument)",
    "12": "the padding of Olah et al.'s transforms (pixels)",
    "10": "Olah et al.'s rotations (degrees); DeepDream's steps per octave",
    "20": "Mahendran & Vedaldi: the error rarely exceeds 20 %",
    "11": "SSIM's window (11 x 11, Wang et al. 2004); AlexNet's first filter side",
    "18": "AlexNet's named layers in torchvision (without norm1 and norm2)",
    "24": "the composites of the top-9 section (lk.object_example's default)",
    "40": "photo scenes counted in notebook 3 (the call's argument)",
    "160": "the side of the composites inverted in notebook 5 (the call's argument)",
    "90": "the share of a unit's gradient its patch holds (top9.gradient_box)",
    "4.0": "the lecture's licence, CC BY 4.0",
    "255": "the 8-bit pixel range of Mordvintsev et al.'s recipe (0 to 255)",
    "51": "AlexNet's relu2 receptive field in pixels (lk.receptive_field; tests/test_top9.py)",
    "163": "AlexNet's conv5 receptive field in pixels (lk.receptive_field; tests/test_top9.py)",
    "0.22": "ImageNet's per-channel standard deviations (torchvision's 0.229, 0.224, "
            "0.225)",
}
"""Numbers a text may state without a cell printing them, with their source."""

NUMBER = re.compile(r"(?<![\w.\-/])(\d+(?:\.\d+)?)(\s?%)?(?![\w.]\d|[\w])")


def _significant(text: str) -> int:
    digits = text.replace(".", "").lstrip("0")
    if "." not in text:
        digits = digits.rstrip("0")
    return len(digits)


def _outputs(notebook: dict) -> str:
    parts = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []) or []:
            parts.append("".join(output.get("text", "")))
            parts.append("".join(output.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def _markdown(notebook: dict) -> str:
    text = "\n".join("".join(c["source"]) for c in notebook["cells"]
                     if c["cell_type"] == "markdown")
    text = re.sub(r"`[^`]*`", " ", text)             # code names: stage2, conv5, (2, 3)
    text = re.sub(r"\$[^$]*\$", " ", text)           # formulas
    text = re.sub(r"\]\([^)]*\)", "]", text)         # link targets
    return re.sub(r"<[^>]*>", " ", text)             # html (sub/sup tags)


def _backed(value: str, percent: bool, printed: list[float]) -> bool:
    decimals = len(value.split(".")[1]) if "." in value else 0
    number = float(value)
    half_step = 0.5 * 10 ** -decimals + 1e-9  # a printed 0.315 backs "31 %" and "32 %"
    for candidate in printed:
        for scaled in ((candidate, candidate * 100) if percent else
                       (candidate, candidate * 100, candidate / 100)):
            if abs(scaled - number) <= half_step:
                return True
    return False


def unbacked_numbers(notebook: dict) -> list[str]:
    """The numbers of two or more significant digits in the markdown cells that no output
    prints (at the text's precision) and :data:`ALLOWED` does not list."""
    printed = [float(m.group(1)) for m in NUMBER.finditer(_outputs(notebook))]
    missing = []
    for match in NUMBER.finditer(_markdown(notebook)):
        value, percent = match.group(1), bool(match.group(2))
        if _significant(value) < 2 or value in ALLOWED:
            continue
        if "." not in value and 1900 <= int(value) <= 2099:  # years of the papers cited
            continue
        if not _backed(value, percent, printed):
            missing.append(value + ("%" if percent else ""))
    return missing


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_every_number_in_the_text_is_printed(path: Path) -> None:
    missing = unbacked_numbers(json.loads(path.read_text(encoding="utf-8")))
    assert not missing, (f"{path.relative_to(ROOT)} states numbers that no cell prints: "
                         f"{', '.join(dict.fromkeys(missing))}")


def _notebook(markdown: str, printed: str) -> dict:
    return {"cells": [{"cell_type": "markdown", "source": [markdown]},
                      {"cell_type": "code", "source": [""],
                       "outputs": [{"output_type": "stream", "text": [printed]}]}]}


def test_the_check_can_fail():
    assert unbacked_numbers(_notebook("points best (97 %), SSIM 0.85", "0.970\nSSIM 0.848")) == []
    assert unbacked_numbers(_notebook("points best (95 %)", "0.970")) == ["95%"]
    assert unbacked_numbers(_notebook("error 0.15 at `stage2`, in 2015", "")) == ["0.15"]
    assert unbacked_numbers(_notebook("100 steps, 3 of 8, 224 pixels", "")) == []

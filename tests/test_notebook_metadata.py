"""Every stored notebook carries the metadata JupyterLab writes, so opening it changes nothing.

JupyterLab writes the kernel's own kernelspec and language_info into a notebook when its
kernel starts; a notebook stored with anything else opens with the unsaved-changes dot
(what the Lab changed was measured in tests/test_browser.py, which opens a notebook and
checks that its file stays byte for byte). Here: the repository's notebooks, the function
that normalises them and its command line.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lecturekit.course import exercises
from lecturekit.course.notebook_metadata import (KERNELSPEC, language_info, main, normalise,
                                                 normalise_file)
from lecturekit.course.regions import render

ROOT = Path(__file__).resolve().parents[1]
STORED = sorted(str(path.relative_to(ROOT)) for pattern in (
    "START_HERE.ipynb", "notebooks/*.ipynb", "exercises/*.ipynb", "solutions/*.ipynb",
    "lecturekit/course/*.ipynb") for path in ROOT.glob(pattern))
FIX = "python -m lecturekit.course.notebook_metadata"


def _notebook(**metadata) -> dict:
    cells = [{"cell_type": "code", "execution_count": 1, "id": "a", "metadata": {},
              "outputs": [{"output_type": "stream", "name": "stdout", "text": "x\n"}],
              "source": "print('x')"}]
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def test_every_notebook_of_the_course_is_stored_as_the_lab_writes_it():
    assert len(STORED) == 17, STORED
    for name in STORED:
        notebook = json.loads((ROOT / name).read_text(encoding="utf-8"))
        assert notebook["metadata"] == normalise(notebook)["metadata"], \
            f"{name}: kernelspec or language_info differ from what JupyterLab writes; " \
            f"run {FIX} {name}"
        assert (notebook["nbformat"], notebook["nbformat_minor"]) == (4, 5), name
        assert all("id" in cell for cell in notebook["cells"]), f"{name}: a cell without an id"
        assert (ROOT / name).read_text(encoding="utf-8") == render(notebook), \
            f"{name} is not in nbformat's layout (indent 1, sorted keys)"


def test_normalise_writes_the_kernels_metadata_and_nothing_else():
    notebook = _notebook(kernelspec={"display_name": "Python 3", "language": "python",
                                     "name": "python3"},
                         language_info={"name": "python"}, widgets={"state": {}},
                         lecturekit={"outputs_model": "toy"})
    before = copy.deepcopy(notebook)
    result = normalise(notebook, "3.12.1")
    assert notebook == before  # a copy; the argument is untouched
    assert result["metadata"]["kernelspec"] == KERNELSPEC
    assert result["metadata"]["kernelspec"]["display_name"] == "Python 3 (ipykernel)"
    assert result["metadata"]["language_info"] == language_info("3.12.1")
    assert result["metadata"]["language_info"]["pygments_lexer"] == "ipython3"
    assert {key: result["metadata"][key] for key in ("widgets", "lecturekit")} == \
        {key: before["metadata"][key] for key in ("widgets", "lecturekit")}
    assert {key: value for key, value in result.items() if key != "metadata"} == \
        {key: value for key, value in before.items() if key != "metadata"}


def test_a_stored_python_version_is_kept_and_a_missing_one_is_this_pythons():
    import platform

    stored = _notebook(language_info={"name": "python", "version": "3.10.2"})
    assert normalise(stored)["metadata"]["language_info"]["version"] == "3.10.2"
    assert normalise(_notebook())["metadata"]["language_info"]["version"] == \
        platform.python_version()
    with pytest.raises(ValueError, match="python_version must be a version such as 3.11.7, "
                                         "got 'three'"):
        normalise(stored, "three")


def test_normalise_file_rewrites_only_the_metadata_and_only_when_needed(tmp_path):
    path = tmp_path / "a.ipynb"
    path.write_text(render(_notebook(kernelspec={"display_name": "Python 3"})), encoding="utf-8")
    assert normalise_file(path, "3.11.7") is True
    text = path.read_text(encoding="utf-8")
    assert '"display_name": "Python 3 (ipykernel)"' in text and text == render(json.loads(text))
    assert json.loads(text)["cells"] == _notebook()["cells"]
    modified = path.stat().st_mtime_ns
    assert normalise_file(path) is False and path.stat().st_mtime_ns == modified


def test_the_command_line_names_the_files_it_changed_and_a_file_that_is_no_notebook(
        tmp_path, capsys):
    good, bad = tmp_path / "good.ipynb", tmp_path / "bad.ipynb"
    good.write_text(render(_notebook()), encoding="utf-8")
    bad.write_text("{not json", encoding="utf-8")
    assert main([str(good)]) == 0
    assert capsys.readouterr().out == f"normalised {good}\n"
    good.write_text(render(_notebook()), encoding="utf-8")
    assert main([str(bad), str(good)]) == 2
    out, err = capsys.readouterr()
    assert f"{bad} is not a valid notebook" in err and out == f"normalised {good}\n"
    result = subprocess.run([sys.executable, "-m", "lecturekit.course.notebook_metadata",
                             str(good)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout == ""  # already normal: nothing to say


def test_exercises_build_gives_solutions_and_exercises_the_labs_metadata(tmp_path):
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    source = json.loads((ROOT / "solutions" / "hw1_relu_rules.ipynb").read_text("utf-8"))
    source["metadata"]["kernelspec"]["display_name"] = "Python 3"
    (solutions / "hw1_relu_rules.ipynb").write_text(render(source), encoding="utf-8")
    problems = exercises.check(solutions, tmp_path / "exercises")
    assert any("differ from what JupyterLab writes" in problem for problem in problems)
    exercises.build(solutions, tmp_path / "exercises")
    for folder in ("solutions", "exercises"):
        built = json.loads((tmp_path / folder / "hw1_relu_rules.ipynb").read_text("utf-8"))
        assert built["metadata"]["kernelspec"] == KERNELSPEC, folder
    assert exercises.check(solutions, tmp_path / "exercises") == []

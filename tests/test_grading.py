"""nbgrader's cell metadata on the solution notebooks: derived from the cells, idempotent, checked.

The round trip through nbgrader's own commands is in tests/test_nbgrader.py; here
the metadata itself: which role each kind of cell gets, that tagging twice changes
nothing, that the teacher's points survive, that `exercises check` fails when the
metadata is missing or stale, and that nbgrader's own validator accepts the
repository's solutions.
"""

import copy
import json
import shutil
from pathlib import Path

import pytest

from lecturekit.course import exercises, grading
from lecturekit.course.regions import RegionError

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"


def notebook(*cells):
    """A notebook of (cell_type, source) pairs with ids c0, c1, ..."""
    return {"cells": [{"cell_type": kind, "id": f"c{i}", "metadata": {}, "source": text,
                       **({"outputs": [], "execution_count": None} if kind == "code" else {})}
                      for i, (kind, text) in enumerate(cells)],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


HOMEWORK = notebook(
    ("markdown", "# Homework\nWrite `double`."),
    ("code", "import torch\nfrom lecturekit.course import checks"),
    ("code", "def double(x):\n    ### BEGIN SOLUTION: twice x\n    return 2 * x\n"
             "    ### END SOLUTION"),
    ("code", "# NBVAL_CHECK_OUTPUT\nchecks.check_double(double)"),
    ("markdown", "Why?\n\n<!-- BEGIN SOLUTION -->\nBecause.\n<!-- END SOLUTION -->"),
)


def meta(cell):
    return cell["metadata"]["nbgrader"]


def test_each_kind_of_cell_gets_its_nbgrader_role():
    tagged = grading.tag_notebook(HOMEWORK, "hw.ipynb")["cells"]
    roles = [(m["solution"], m["grade"], m["locked"], m.get("points"))
             for m in map(meta, tagged)]
    assert roles == [(False, False, True, None),   # instructions: read-only
                     (False, False, True, None),   # set-up: read-only
                     (True, False, False, None),   # the gap: autograded answer
                     (False, True, True, 1),       # the check: autograder test
                     (True, True, False, 1)]       # the written answer: manually graded
    assert [meta(cell)["grade_id"] for cell in tagged] == ["c0", "c1", "c2", "c3", "c4"]
    assert {meta(cell)["schema_version"] for cell in tagged} == {3}


def test_a_prompt_becomes_a_comment_above_the_marker_so_nbgrader_keeps_it():
    tagged = grading.tag_notebook(HOMEWORK, "hw.ipynb")
    assert "".join(tagged["cells"][2]["source"]) == ("def double(x):\n    # twice x\n"
                                                      "    ### BEGIN SOLUTION\n    return 2 * x\n"
                                                      "    ### END SOLUTION")
    # the student's version is the same before and after
    before = exercises.build_notebook(HOMEWORK, "hw.ipynb")["cells"][2]["source"]
    after = exercises.build_notebook(tagged, "hw.ipynb")["cells"][2]["source"]
    assert before == after == ["def double(x):\n", "    # twice x\n", "    # YOUR CODE HERE\n",
                               "    raise NotImplementedError()"]


def test_tagging_twice_changes_nothing_and_keeps_the_teachers_points():
    once = grading.tag_notebook(HOMEWORK, "hw.ipynb")
    assert grading.tag_notebook(once, "hw.ipynb") == once
    assert grading.stale_cells(once, "hw.ipynb") == []
    edited = copy.deepcopy(once)
    meta(edited["cells"][3])["points"] = 2.5
    meta(edited["cells"][4])["points"] = "two"  # not a number: back to the default
    again = grading.tag_notebook(edited, "hw.ipynb")
    assert meta(again["cells"][3])["points"] == 2.5 and meta(again["cells"][4])["points"] == 1
    assert grading.stale_cells(edited, "hw.ipynb") == [4]


def test_a_changed_role_makes_the_metadata_stale():
    once = grading.tag_notebook(HOMEWORK, "hw.ipynb")
    once["cells"][1]["source"] = "checks.check_double(double)"  # set-up cell became a test
    assert grading.stale_cells(once, "hw.ipynb") == [1]
    assert meta(grading.tag_notebook(once, "hw.ipynb")["cells"][1])["grade"] is True


def test_a_cell_cannot_be_both_gap_and_check():
    bad = notebook(("code", "### BEGIN SOLUTION\nx = 1\n### END SOLUTION\nchecks.check_x(x)"))
    with pytest.raises(RegionError, match="hw.ipynb, cell 0: a cell cannot hold both"):
        grading.tag_notebook(bad, "hw.ipynb")


def test_a_cell_without_an_id_is_explained():
    bad = notebook(("code", "x = 1"))
    del bad["cells"][0]["id"]
    with pytest.raises(ValueError, match="cell 0 has no usable cell id .*JupyterLab"):
        grading.tag_notebook(bad, "hw.ipynb")


@pytest.fixture
def course(tmp_path):
    shutil.copytree(SOLUTIONS, tmp_path / "solutions")
    shutil.copytree(ROOT / "exercises", tmp_path / "exercises")
    return tmp_path


def test_exercises_check_fails_on_missing_metadata_and_build_writes_it(course, monkeypatch):
    path = course / "solutions" / "hw2_saliency.ipynb"
    stripped = json.loads(path.read_text())
    for cell in stripped["cells"]:
        cell["metadata"].pop("nbgrader", None)
    path.write_text(json.dumps(stripped, indent=1))
    monkeypatch.chdir(course / "exercises")  # the folders are found from here
    problems = exercises.check()
    assert len(problems) == 1 and "hw2_saliency.ipynb: nbgrader metadata missing or stale in " \
                                  "cells 0, 1, 2" in problems[0]
    assert [p.resolve() for p in exercises.build()] == [path.resolve()]  # exercises unchanged
    assert exercises.check() == [] and exercises.build() == []


def test_the_repository_solutions_pass_nbgraders_own_validator():
    import nbformat
    from nbgrader.nbgraderformat import MetadataValidator

    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        MetadataValidator().validate_nb(notebook)  # raises on bad or duplicate metadata
        roles = [grading.cell_role(cell) for cell in notebook.cells]
        tests = [c for c in notebook.cells if c.metadata["nbgrader"]["grade"]
                 and c.cell_type == "code"]
        assert roles.count("test") == len(tests) >= 2, path.name
        assert roles.count("solution") >= 2 and roles.count("answer") >= 1, path.name

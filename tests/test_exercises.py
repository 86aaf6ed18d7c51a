"""Exercises generated from solutions: the build, the drift check, and the gaps themselves.

The solution notebooks are run by nbval (``pytest --nbval-lax solutions``).
The exercise notebooks raise by design, so nbval cannot run them; instead this
module executes each one with nbclient and asserts that every gap cell raised
NotImplementedError and that the check right after it said so.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lecturekit.course import exercises
from lecturekit.course.regions import count_regions
from lecturekit.course.exercises import (ANSWER_STUB, CODE_BEGIN, RegionError, build,
                                         build_notebook, check)

GAP_RAISE = "raise NotImplementedError()"

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
HOMEWORK = sorted(path.name for path in SOLUTIONS.glob("*.ipynb"))


def source(cell):
    text = cell["source"]
    return "".join(text) if isinstance(text, list) else text


def load(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def code_notebook(*sources, markdown=()):
    cells = [{"cell_type": "code", "execution_count": 3, "id": f"c{i}", "metadata": {},
              "outputs": [{"output_type": "stream", "name": "stdout", "text": "x\n"}],
              "source": text} for i, text in enumerate(sources)]
    cells += [{"cell_type": "markdown", "id": f"m{i}", "metadata": {}, "source": text}
              for i, text in enumerate(markdown)]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


# --------------------------------------------------------------------------- the repository

def test_there_are_four_homework_notebooks():
    assert HOMEWORK == ["hw1_relu_rules.ipynb", "hw2_saliency.ipynb",
                        "hw3_regularisers_inversion.ipynb", "hw4_dream.ipynb"]


def test_the_repository_exercises_are_in_sync():
    assert check() == []
    assert check(SOLUTIONS, EXERCISES) == []


def test_the_check_command_passes_on_the_repository(capsys):
    assert exercises.main(["check"]) == 0  # pytest runs in the repository's root
    assert "in sync" in capsys.readouterr().out


def test_the_check_command_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "lecturekit.course.exercises", "check"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "in sync" in result.stdout


def test_add_subcommand_plugs_into_a_command_line(capsys):
    parser = argparse.ArgumentParser(prog="lecturekit")
    commands = parser.add_subparsers(dest="command", required=True)
    exercises.add_subcommand(commands)
    args = parser.parse_args(["exercises", "check", "--solutions", str(SOLUTIONS),
                              "--exercises", str(EXERCISES)])
    assert args.run(args) == 0
    assert "in sync" in capsys.readouterr().out


def test_nothing_in_exercises_is_collected_as_a_test():
    names = [path.name for path in EXERCISES.rglob("*.py")]
    assert not [name for name in names if name.startswith("test_") or name == "conftest.py"]


@pytest.mark.parametrize("name", HOMEWORK)
def test_exercises_hide_every_solution_and_all_outputs(name):
    solution, exercise = load(SOLUTIONS / name), load(EXERCISES / name)
    assert len(solution["cells"]) == len(exercise["cells"])
    gaps = answers = 0
    for sol, ex in zip(solution["cells"], exercise["cells"]):
        text = source(ex)
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
        if ex["cell_type"] == "code":
            assert ex["outputs"] == [] and ex["execution_count"] is None
            if CODE_BEGIN in source(sol):
                gaps += 1
                assert GAP_RAISE in text and "# YOUR CODE HERE" in text
        elif "<!-- BEGIN SOLUTION" in source(sol):
            answers += 1
            assert ANSWER_STUB in text
        assert "nbgrader" not in ex["metadata"]  # grading metadata stays with the solutions
    assert gaps >= 2 and answers >= 2
    assert exercise["metadata"]["lecturekit"]["generated_from"] == f"solutions/{name}"


@pytest.mark.parametrize("name", HOMEWORK)
def test_every_gap_is_followed_by_its_check(name):
    cells = load(SOLUTIONS / name)["cells"]
    for index, cell in enumerate(cells):
        if cell["cell_type"] == "code" and CODE_BEGIN in source(cell):
            after = cells[index + 1]
            assert after["cell_type"] == "code"
            assert "# NBVAL_CHECK_OUTPUT" in source(after)
            assert "checks.check_" in source(after)
            printed = "".join("".join(o.get("text", "")) for o in after["outputs"])
            assert printed.startswith("correct"), (name, index, printed)


@pytest.mark.parametrize("name", HOMEWORK)
def test_homework_uses_the_offline_model_explicitly(name):
    text = "".join(source(cell) for cell in load(SOLUTIONS / name)["cells"])
    assert 'lk.load_model("toy")' in text
    assert "load_model()" not in text


# --------------------------------------------------------------------------- the gaps raise

@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Every exercise notebook run as a student would first run it: nothing filled in (the
    four kernels run at the same time)."""
    import asyncio

    import nbformat
    from nbclient import NotebookClient

    workdir = tmp_path_factory.mktemp("exercises")
    env = {**os.environ, "LECTUREKIT_MODEL": "toy", "MPLBACKEND": "Agg"}  # the kernels'
    results = {name: nbformat.read(EXERCISES / name, as_version=4) for name in HOMEWORK}
    clients = [NotebookClient(notebook, timeout=600, kernel_name="python3", allow_errors=True,
                              resources={"metadata": {"path": str(workdir)}})
               for notebook in results.values()]

    async def run_all() -> None:
        await asyncio.gather(*(client.async_execute(env=env) for client in clients))

    asyncio.run(run_all())
    return results


def errors(cell):
    return [(o["ename"], o["evalue"]) for o in cell.get("outputs", [])
            if o["output_type"] == "error"]


@pytest.mark.parametrize("name", HOMEWORK)
def test_every_gap_raises_not_implemented_when_run_unfilled(executed, name):
    cells = executed[name].cells
    gaps = [i for i, cell in enumerate(cells)
            if cell.cell_type == "code" and GAP_RAISE in cell.source]
    assert gaps
    for index in gaps:
        raised = errors(cells[index])
        assert raised and raised[0][0] == "NotImplementedError", (name, index, raised)
        check_raised = errors(cells[index + 1])
        assert check_raised and check_raised[0][0] == "CheckFailed", (name, index + 1)
        assert "not filled in" in check_raised[0][1]
    # the setup cells before the first gap run cleanly
    for cell in cells[:gaps[0]]:
        assert not errors(cell), (name, cell.source[:80])


# --------------------------------------------------------------------------- build and check

@pytest.fixture
def copy_of_solutions(tmp_path):
    solutions = tmp_path / "solutions"
    shutil.copytree(SOLUTIONS, solutions)
    exercises_dir = tmp_path / "exercises"
    exercises_dir.mkdir()
    (exercises_dir / "README.md").write_text("hand written\n")
    return solutions, exercises_dir


def test_a_fresh_build_is_in_sync_and_matches_the_repository(copy_of_solutions):
    solutions, exercises_dir = copy_of_solutions
    assert check(solutions, exercises_dir)  # nothing built yet: everything missing
    written = build(solutions, exercises_dir)
    assert sorted(p.name for p in written) == HOMEWORK
    assert check(solutions, exercises_dir) == []
    for name in HOMEWORK:
        assert (exercises_dir / name).read_text() == (EXERCISES / name).read_text()
    assert (exercises_dir / "README.md").read_text() == "hand written\n"
    assert build(solutions, exercises_dir) == []  # a second build changes nothing


def test_editing_a_solution_is_reported_as_drift(copy_of_solutions, capsys):
    solutions, exercises_dir = copy_of_solutions
    build(solutions, exercises_dir)
    path = solutions / "hw2_saliency.ipynb"
    notebook = load(path)
    cell = next(c for c in notebook["cells"] if c["cell_type"] == "markdown")
    cell["source"] = source(cell) + "\nOne more sentence from the teacher."
    path.write_text(json.dumps(notebook, indent=1))

    problems = check(solutions, exercises_dir)
    assert len(problems) == 1
    assert "hw2_saliency.ipynb" in problems[0] and "out of date" in problems[0]
    assert "cell 0 (markdown) differs in source" in problems[0]

    args = ["check", "--solutions", str(solutions), "--exercises", str(exercises_dir)]
    assert exercises.main(args) == 1
    err = capsys.readouterr().err
    assert "out of sync" in err and "hw2_saliency.ipynb" in err
    assert "exercises build" in err

    build(solutions, exercises_dir)
    assert exercises.main(args) == 0


def test_editing_an_exercise_by_hand_is_reported(copy_of_solutions):
    solutions, exercises_dir = copy_of_solutions
    build(solutions, exercises_dir)
    path = exercises_dir / "hw1_relu_rules.ipynb"
    notebook = load(path)
    notebook["cells"][3]["outputs"] = [{"output_type": "stream", "name": "stdout",
                                        "text": ["left over\n"]}]
    path.write_text(json.dumps(notebook))
    problems = check(solutions, exercises_dir)
    assert problems == [f"{path}: out of date with solutions/hw1_relu_rules.ipynb: "
                        f"cell 3 (code) differs in outputs"]


def test_missing_and_stale_exercises_are_reported_and_stale_ones_removed(copy_of_solutions):
    solutions, exercises_dir = copy_of_solutions
    build(solutions, exercises_dir)
    (solutions / "hw4_dream.ipynb").rename(solutions / "hw5_dream.ipynb")
    problems = check(solutions, exercises_dir)
    assert any("hw5_dream.ipynb: missing" in p for p in problems)
    assert any("hw4_dream.ipynb: no solutions/hw4_dream.ipynb (generated earlier" in p
               for p in problems)
    build(solutions, exercises_dir)
    assert not (exercises_dir / "hw4_dream.ipynb").exists()
    assert check(solutions, exercises_dir) == []


def test_build_never_overwrites_a_notebook_it_did_not_generate(copy_of_solutions):
    solutions, exercises_dir = copy_of_solutions
    foreign = exercises_dir / "hw1_relu_rules.ipynb"
    foreign.write_text(json.dumps(code_notebook("print('mine')")))
    with pytest.raises(FileExistsError, match="hw1_relu_rules.ipynb was not generated"):
        build(solutions, exercises_dir)
    assert "mine" in foreign.read_text()
    assert not (exercises_dir / "hw2_saliency.ipynb").exists()  # nothing written at all
    assert any("hw1_relu_rules.ipynb: out of date" in p for p in check(solutions, exercises_dir))


# --------------------------------------------------------------------------- regions

def test_a_code_region_becomes_a_gap_at_its_indentation():
    notebook = code_notebook(
        "def f(x):\n"
        "    \"doc\"\n"
        "    ### BEGIN SOLUTION: square it\n"
        "    y = x * x\n"
        "    return y\n"
        "    ### END SOLUTION\n"
        "\n"
        "print(f(2))")
    cell = build_notebook(notebook, "t.ipynb")["cells"][0]
    assert source(cell) == ("def f(x):\n"
                            "    \"doc\"\n"
                            "    # square it\n"
                            "    # YOUR CODE HERE\n"
                            "    raise NotImplementedError()\n"
                            "\n"
                            "print(f(2))")
    assert cell["outputs"] == [] and cell["execution_count"] is None
    namespace = {}
    with pytest.raises(NotImplementedError):
        exec(source(cell), namespace)


def test_several_regions_and_markdown_answers():
    notebook = code_notebook(
        "a = 1\n### BEGIN SOLUTION\nb = 2\n### END SOLUTION\nc = 3\n### BEGIN SOLUTION\nd = 4\n"
        "### END SOLUTION",
        markdown=["Why?\n\n<!-- BEGIN SOLUTION -->\nBecause.\n<!-- END SOLUTION -->\n",
                  "Plain text, no answer."])
    built = build_notebook(notebook, "t.ipynb")["cells"]
    assert source(built[0]) == ("a = 1\n# YOUR CODE HERE\n" + GAP_RAISE + "\nc = 3\n"
                                "# YOUR CODE HERE\n" + GAP_RAISE)
    assert source(built[1]) == f"Why?\n\n{ANSWER_STUB}\n"
    assert source(built[2]) == "Plain text, no answer."
    assert [count_regions(cell) for cell in notebook["cells"]] == [2, 1, 0]


@pytest.mark.parametrize("text, message", [
    ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
    ("x = 1\n### END SOLUTION\n", "without a ### BEGIN SOLUTION"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "cannot nest"),
    ("x = 1  ### BEGIN SOLUTION\n", "start of its own line"),
    ("# the BEGIN SOLUTION marker, mentioned\n", "start of its own line"),  # nbgrader's marker
    ("<!-- BEGIN SOLUTION -->\n", "in a code cell mark the solution"),
])
def test_malformed_code_regions_name_the_cell_and_line(text, message):
    with pytest.raises(RegionError, match=message) as info:
        build_notebook(code_notebook("pass", text), "bad.ipynb")
    assert "solutions/bad.ipynb, cell 1, line" in str(info.value)


def test_a_markdown_marker_takes_no_prompt():
    notebook = code_notebook(markdown=["Why?\n<!-- BEGIN SOLUTION: in a sentence -->\nBecause."
                                       "\n<!-- END SOLUTION -->\n"])
    with pytest.raises(RegionError, match="put the question in the text above it"):
        build_notebook(notebook, "bad.ipynb")


def test_the_code_marker_in_a_markdown_cell_is_refused():
    notebook = code_notebook(markdown=["### BEGIN SOLUTION\nanswer\n### END SOLUTION\n"])
    with pytest.raises(RegionError, match="in a markdown cell mark the answer with <!--"):
        build_notebook(notebook, "bad.ipynb")


def test_check_reports_a_malformed_solution_instead_of_crashing(copy_of_solutions):
    solutions, exercises_dir = copy_of_solutions
    build(solutions, exercises_dir)
    (solutions / "hw0_bad.ipynb").write_text(json.dumps(code_notebook("### BEGIN SOLUTION\n")))
    problems = check(solutions, exercises_dir)
    assert len(problems) == 1 and "hw0_bad.ipynb: cannot build" in problems[0]
    assert exercises.main(["build", "--solutions", str(solutions),
                           "--exercises", str(exercises_dir)]) == 2

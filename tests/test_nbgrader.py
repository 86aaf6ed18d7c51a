"""nbgrader's own commands on the kit's homework, exactly as the README's "For teachers" shows.

In a temporary course folder with the README's nbgrader_config.py, the test runs the
README's nbgrader command lines in order: the teacher generates and releases hw1, two
students fetch it and submit (alice the teacher's solutions, bob the same with the
Deconvnet rule written as plain backprop, a classic mistake), the teacher collects,
autogrades and exports. nbgrader's gradebook must then give alice every autograded
point and bob all but the points of the one check his mistake fails; grades.csv must
say the same. A second assignment with all four homework notebooks shows that
nbgrader's student version and `exercises/` agree cell for cell.

The exchange folder, which a JupyterHub admin sets for everyone, is a temporary folder
named in a private global nbgrader_config.py; the students' names, which JupyterHub
supplies, are given with --student. Takes about a minute (ten nbgrader processes, the
two students' at the same time, and two autograded notebooks).
"""

from __future__ import annotations

import csv
import os
import re
import shlex
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from browser_support import jupyter_environment
from readme_support import code_blocks, commands, section

from lecturekit.course.regions import CODE_BEGIN, CODE_END, MARKDOWN_BEGIN, MARKDOWN_END

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT, NOTEBOOK = "hw1", "hw1_relu_rules"
BACKPROP_RULE = "return torch.where(f_in > 0, r_out, torch.zeros_like(r_out))"
WRONG_FUNCTION = "def deconvnet_relu"


def _teachers_config() -> str:
    """The nbgrader_config.py the README tells a teacher to write."""
    blocks = [block for block in code_blocks(section("For teachers"), "python")
              if "c.CourseDirectory.course_id" in block]
    assert len(blocks) == 1, "the README's 'For teachers' shows one nbgrader_config.py"
    return blocks[0]


def _steps() -> dict[str, str]:
    """The README's nbgrader command lines, by sub-command."""
    lines = commands(section("For teachers"), "nbgrader")
    steps = {line.split()[1]: line for line in lines}
    assert list(steps) == ["generate_assignment", "release_assignment", "fetch_assignment",
                           "submit", "collect", "autograde", "export"], lines
    return steps


def _nbgrader(line: str, cwd: Path, env: dict[str, str], *extra: str) -> str:
    """Run one nbgrader command line; its output, or a failure quoting it."""
    result = subprocess.run([*shlex.split(line), *extra], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if result.returncode != 0 or "[ERROR]" in result.stdout:
        pytest.fail(f"`{line}` in {cwd} failed (exit code {result.returncode}):\n"
                    f"{result.stdout[-4000:]}", pytrace=False)
    return result.stdout


def _answer(solution: str, wrong: bool) -> str:
    """What a student writes in a solution cell: the teacher's solution (markers removed);
    with ``wrong``, the backprop rule where the Deconvnet rule belongs."""
    if wrong and WRONG_FUNCTION in solution:
        solution = re.sub(rf"( *){re.escape(CODE_BEGIN)}.*?{re.escape(CODE_END)}",
                          lambda m: f"{m.group(1)}{BACKPROP_RULE}", solution, flags=re.S)
    markers = (CODE_BEGIN, CODE_END, MARKDOWN_BEGIN, MARKDOWN_END)
    return "\n".join(line for line in solution.splitlines()
                     if not line.strip().startswith(markers))


def _fill(fetched: Path, source: nbformat.NotebookNode, wrong: bool) -> None:
    """Write a student's answers into the fetched notebook: code and written answers."""
    solutions = {cell.metadata.nbgrader.grade_id: cell.source for cell in source.cells
                 if cell.metadata.nbgrader.solution}
    notebook = nbformat.read(fetched, as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            cell.source = _answer(solutions[grade_id], wrong)
    nbformat.write(notebook, fetched)


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A course folder that went through every step of the README."""
    steps = _steps()
    base = tmp_path_factory.mktemp("nbgrader")
    course, exchange = base / "course", base / "exchange"
    exchange.mkdir(mode=0o777)
    exchange.chmod(0o777)  # as the README says: writable by every user
    env = jupyter_environment(base / "jupyter-home",
                              PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    global_config = Path(env["JUPYTER_CONFIG_DIR"])
    global_config.mkdir(parents=True)
    (global_config / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.Exchange.root = {str(exchange)!r}\n")  # the hub admin's part
    homework = [path.stem for path in sorted((ROOT / "solutions").glob("*.ipynb"))]
    for assignment, names in ((ASSIGNMENT, [NOTEBOOK]), ("all", homework)):
        (course / "source" / assignment).mkdir(parents=True)
        for name in names:
            shutil.copy(ROOT / "solutions" / f"{name}.ipynb", course / "source" / assignment)
    (course / "nbgrader_config.py").write_text(_teachers_config())

    _nbgrader(steps["generate_assignment"], course, env)
    _nbgrader(steps["generate_assignment"].replace(ASSIGNMENT, "all"), course, env)
    _nbgrader(steps["release_assignment"], course, env)
    source = nbformat.read(course / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)

    def student_work(student: str, wrong: bool) -> None:
        home = base / student
        home.mkdir()
        _nbgrader(steps["fetch_assignment"], home, env)
        _fill(home / ASSIGNMENT / f"{NOTEBOOK}.ipynb", source, wrong)
        _nbgrader(steps["submit"], home, env, f"--student={student}")

    with ThreadPoolExecutor() as students:  # each in their own home, at the same time
        list(students.map(student_work, ("alice", "bob"), (False, True)))
    _nbgrader(steps["collect"], course, env)
    _nbgrader(steps["autograde"], course, env)
    _nbgrader(steps["export"], course, env)
    return course


def _points(course: Path) -> tuple[dict[str, float], dict[str, float]]:
    """(points of each autograded test cell, points of each written answer) by grade id,
    from the notebook nbgrader was given."""
    source = nbformat.read(course / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    tests, answers = {}, {}
    for cell in source.cells:
        meta = cell.metadata.nbgrader
        if meta.grade:
            (tests if cell.cell_type == "code" else answers)[meta.grade_id] = meta.points
    return tests, answers


def _failing_check(course: Path) -> str:
    """The grade id of the check cell right after the cell bob got wrong."""
    cells = nbformat.read(course / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4).cells
    index = next(i for i, cell in enumerate(cells) if WRONG_FUNCTION in cell.source)
    return cells[index + 1].metadata.nbgrader.grade_id


def test_autograde_scores_a_correct_and_a_wrong_submission(course: Path) -> None:
    from nbgrader.api import Gradebook

    tests, answers = _points(course)
    failing = _failing_check(course)
    assert len(tests) >= 4 and failing in tests and len(answers) >= 1
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {}
        for student in ("alice", "bob"):
            submission = gradebook.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student)
            scores[student] = {grade.name: grade.score for grade in submission.grades
                               if grade.name in tests}
            assert submission.max_code_score == sum(tests.values())
            assert submission.needs_manual_grade  # the written answers wait for the teacher
    assert scores["alice"] == tests
    assert scores["bob"] == {**tests, failing: 0}


def test_the_failed_check_shows_bob_the_checks_message_not_the_kits_traceback(
        course: Path) -> None:
    """What nbgrader's feedback shows bob for the check he failed: an error (so the cell
    scores 0) that starts with the check's message and passes through none of the kit's
    frames."""
    failing = _failing_check(course)
    graded = nbformat.read(course / "autograded" / "bob" / ASSIGNMENT / f"{NOTEBOOK}.ipynb",
                           as_version=4)
    cell = next(cell for cell in graded.cells
                if cell.metadata.get("nbgrader", {}).get("grade_id") == failing)
    errors = [output for output in cell.outputs if output.output_type == "error"]
    assert len(errors) == 1 and errors[0].ename == "CheckFailed"
    shown = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(errors[0].traceback))
    assert shown.startswith("not yet: "), shown
    assert "that is backprop, not the Deconvnet rule" in shown.splitlines()[0]
    assert "machinery.py" not in shown and "lecturekit" not in shown, shown


def test_export_writes_the_same_scores_to_grades_csv(course: Path) -> None:
    tests, answers = _points(course)
    failing = _failing_check(course)
    with open(course / "grades.csv", newline="") as table:
        rows = {row["student_id"]: row for row in csv.DictReader(table)
                if row["assignment"] == ASSIGNMENT}
    assert float(rows["alice"]["raw_score"]) == sum(tests.values())
    assert float(rows["bob"]["raw_score"]) == sum(tests.values()) - tests[failing]
    assert float(rows["alice"]["max_score"]) == sum(tests.values()) + sum(answers.values())


def test_nbgraders_student_version_is_the_exercise_notebook(course: Path) -> None:
    released = sorted((course / "release" / "all").glob("*.ipynb"))
    exercises = sorted((ROOT / "exercises").glob("*.ipynb"))
    assert [path.name for path in released] == [path.name for path in exercises]
    for theirs, ours in zip(released, exercises):
        their_cells, our_cells = (nbformat.read(path, as_version=4).cells
                                  for path in (theirs, ours))
        assert [(c.cell_type, c.source) for c in their_cells] == \
            [(c.cell_type, c.source) for c in our_cells], theirs.name

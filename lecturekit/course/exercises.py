"""Exercise notebooks generated from the solution notebooks: one source, no drift.

Teachers edit only ``solutions/``. Each solution notebook marks what the
student has to write, as nbgrader does:

* in a **code cell**, the lines between ``### BEGIN SOLUTION`` and
  ``### END SOLUTION`` (each marker on a line of its own, indented like the
  code). Text after ``### BEGIN SOLUTION`` becomes the prompt the student sees.
  The region becomes, at the same indentation::

      # YOUR CODE HERE: <the prompt, if any>
      raise NotImplementedError("fill in this gap")

* in a **markdown cell** (the answer to a written question), the lines
  between ``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION -->``, each on a
  line of its own (``<!-- BEGIN SOLUTION: a prompt -->`` adds a prompt). HTML
  comments are invisible in the rendered solution; the region becomes
  ``**Your answer:** *write it here.*``

A marker anywhere else (inside a line, or the code marker in a markdown cell,
where ``###`` would render as a heading) is an error that names the cell.

:func:`build` writes one exercise notebook per solution notebook with every
region replaced, every output and execution count cleared, and the notebook
marked as generated (``metadata.lecturekit.generated_from``). It removes
exercise notebooks it generated earlier whose solution is gone, refuses to
overwrite a notebook it did not generate, and never touches other files
(``exercises/README.md``). :func:`check` builds in memory and compares with
what is on disk, so CI fails when someone edits a solution without
rebuilding, or edits an exercise by hand.

Commands (``python -m lecturekit exercises ...`` once wired into the main
command line, or ``python -m lecturekit.course.exercises ...``)::

    exercises build [--solutions DIR] [--exercises DIR]
    exercises check [--solutions DIR] [--exercises DIR]   # exit code 1 on drift

This module uses only the standard library: notebooks are read and written
as JSON in the layout nbformat uses (indent 1, sorted keys).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["ANSWER_PROMPT", "CODE_BEGIN", "CODE_END", "GAP_ERROR", "MARKDOWN_BEGIN",
           "MARKDOWN_END", "RegionError", "add_subcommand", "build", "build_notebook", "check",
           "main", "render"]

CODE_BEGIN = "### BEGIN SOLUTION"
CODE_END = "### END SOLUTION"
MARKDOWN_BEGIN = "<!-- BEGIN SOLUTION -->"
MARKDOWN_END = "<!-- END SOLUTION -->"
GAP_PROMPT = "# YOUR CODE HERE"
GAP_ERROR = 'raise NotImplementedError("fill in this gap")'
ANSWER_PROMPT = "**Your answer:** *write it here.*"
METADATA_KEY = "lecturekit"
_MD_BEGIN, _MD_END = "<!-- BEGIN SOLUTION", "<!-- END SOLUTION"  # optional prompt before -->

ROOT = Path(__file__).resolve().parents[2]


class RegionError(ValueError):
    """A solution region is malformed (unclosed, nested, or an END without BEGIN)."""


# --------------------------------------------------------------------------- regions

def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _lines_for_json(text: str) -> list[str]:
    """Notebook source as nbformat stores it: a list of lines keeping their newlines."""
    return text.splitlines(keepends=True)


def _replace_regions(text: str, begin: str, end: str, replacement, where: str) -> tuple[str, int]:
    """Replace every block of lines from one starting with ``begin`` to one starting with
    ``end`` (both included) by ``replacement(indent, prompt)``; return the text and the count."""
    out: list[str] = []
    inside = False
    count = 0
    opened_at = 0
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        stripped = line.strip()
        if stripped.startswith(begin):
            if inside:
                raise RegionError(f"{where}, line {number}: {begin} inside another solution "
                                  f"region (opened on line {opened_at}); regions cannot nest")
            inside, opened_at, count = True, number, count + 1
            indent = line[:len(line) - len(line.lstrip())]
            prompt = stripped[len(begin):].strip()
            if prompt.endswith("-->"):
                prompt = prompt[:-3].strip()
            prompt = prompt.lstrip(":").strip()
            out.append(replacement(indent, prompt))
            continue
        if stripped.startswith(end):
            if not inside:
                raise RegionError(f"{where}, line {number}: {end} without a {begin} before it")
            inside = False
            continue
        if not inside:
            out.append(line)
    if inside:
        raise RegionError(f"{where}, line {opened_at}: {begin} is never closed by {end}")
    result = "".join(out)
    if text and not text.endswith("\n") and result.endswith("\n"):
        result = result[:-1]
    return result, count


def _code_gap(indent: str, prompt: str) -> str:
    comment = f"{GAP_PROMPT}: {prompt}" if prompt else GAP_PROMPT
    return f"{indent}{comment}\n{indent}{GAP_ERROR}\n"


def _answer_gap(indent: str, prompt: str) -> str:
    text = f"{ANSWER_PROMPT} ({prompt})" if prompt else ANSWER_PROMPT
    return f"{indent}{text}\n"


def _check_stray_markers(text: str, markers: tuple[str, ...], where: str,
                         advice: str = "a solution marker must stand at the start of its own "
                                       "line") -> None:
    for number, line in enumerate(text.splitlines(), start=1):
        if any(marker in line for marker in markers):
            raise RegionError(f"{where}, line {number}: {advice}: {line.strip()!r}")


# --------------------------------------------------------------------------- notebooks

_CELL_MARKERS: dict[str, tuple[str, str, Callable[[str, str], str], tuple[str, str], str]] = {
    "code": (CODE_BEGIN, CODE_END, _code_gap, (_MD_BEGIN, _MD_END),
             f"in a code cell mark the solution with {CODE_BEGIN} and {CODE_END}"),
    "markdown": (_MD_BEGIN, _MD_END, _answer_gap, (CODE_BEGIN, CODE_END),
                 f"in a markdown cell mark the answer with {MARKDOWN_BEGIN} and {MARKDOWN_END}"),
}
"""Per cell kind: its solution markers, how a gap reads, the other kind's markers (which
must not appear in it) and the advice when they do."""

def build_notebook(solution: dict[str, Any], name: str) -> dict[str, Any]:
    """The exercise version of a solution notebook (a JSON dict), for file ``name``."""
    exercise = json.loads(json.dumps(solution))  # a deep copy
    for index, cell in enumerate(exercise.get("cells", [])):
        where = f"solutions/{name}, cell {index}"
        text = _source(cell)
        kind = cell.get("cell_type")
        if kind in _CELL_MARKERS:
            begin, end, gap, foreign, advice = _CELL_MARKERS[kind]
            _check_stray_markers(text, foreign, where, advice)
            text, _ = _replace_regions(text, begin, end, gap, where)
            _check_stray_markers(text, (begin, end), where)
        if kind == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
            cell.get("metadata", {}).pop("execution", None)
        cell["source"] = _lines_for_json(text)
    metadata = exercise.setdefault("metadata", {})
    metadata[METADATA_KEY] = {
        "generated_from": f"solutions/{name}",
        "note": "Generated by `python -m lecturekit exercises build`: edit the solution "
                "notebook, not this one.",
    }
    return exercise


def render(notebook: dict[str, Any]) -> str:
    """A notebook as text, in nbformat's layout (indent 1, sorted keys, final newline)."""
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def count_regions(notebook: dict[str, Any]) -> tuple[int, int]:
    """(code regions, markdown regions) in a solution notebook."""
    code = markdown = 0
    for cell in notebook.get("cells", []):
        text = _source(cell)
        if cell.get("cell_type") == "code":
            code += _replace_regions(text, CODE_BEGIN, CODE_END, _code_gap, "")[1]
        elif cell.get("cell_type") == "markdown":
            markdown += _replace_regions(text, _MD_BEGIN, _MD_END, _answer_gap, "")[1]
    return code, markdown


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not a valid notebook (JSON error: {error})") from error


def _generated(path: Path) -> bool:
    try:
        return METADATA_KEY in _read(path).get("metadata", {})
    except (OSError, ValueError):
        return False


def _dirs(solutions_dir: str | Path | None,
          exercises_dir: str | Path | None) -> tuple[Path, Path]:
    solutions = Path(solutions_dir) if solutions_dir is not None else ROOT / "solutions"
    exercises = Path(exercises_dir) if exercises_dir is not None else ROOT / "exercises"
    if not solutions.is_dir():
        raise FileNotFoundError(f"solutions folder {solutions} does not exist; pass --solutions")
    return solutions, exercises


def _expected(solutions: Path) -> dict[str, str]:
    """File name -> exercise notebook text, for every solution notebook."""
    return {path.name: render(build_notebook(_read(path), path.name))
            for path in sorted(solutions.glob("*.ipynb"))}


def build(solutions_dir: str | Path | None = None,
          exercises_dir: str | Path | None = None) -> list[Path]:
    """Write ``exercises_dir/<name>.ipynb`` for every ``solutions_dir/<name>.ipynb``.

    Notebooks generated earlier whose solution is gone are removed. A notebook
    in ``exercises_dir`` that this function did not generate is never
    overwritten (FileExistsError); other files are left alone. Returns the
    paths written or removed.
    """
    solutions, exercises = _dirs(solutions_dir, exercises_dir)
    expected = _expected(solutions)  # everything is built before anything is written
    exercises.mkdir(parents=True, exist_ok=True)
    foreign = [exercises / name for name in expected
               if (exercises / name).exists() and not _generated(exercises / name)]
    if foreign:
        raise FileExistsError(
            f"{', '.join(str(p) for p in foreign)} {'was' if len(foreign) == 1 else 'were'} not "
            f"generated from {solutions}; move {'it' if len(foreign) == 1 else 'them'} to "
            f"solutions/ (with solution regions) or delete {'it' if len(foreign) == 1 else 'them'}"
            f", then build again")
    changed = []
    for name, text in expected.items():
        path = exercises / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    for path in sorted(exercises.glob("*.ipynb")):
        if path.name not in expected and _generated(path):
            path.unlink()
            changed.append(path)
    return changed


def _first_cell_difference(want: dict[str, Any], have: dict[str, Any]) -> str:
    want_cells, have_cells = want.get("cells", []), have.get("cells", [])
    if len(want_cells) != len(have_cells):
        return f"{len(have_cells)} cells on disk, {len(want_cells)} in the build"
    for index, (w, h) in enumerate(zip(want_cells, have_cells)):
        if w != h:
            parts = [key for key in sorted(set(w) | set(h)) if w.get(key) != h.get(key)]
            return f"cell {index} ({w.get('cell_type')}) differs in {', '.join(parts)}"
    parts = [key for key in sorted(set(want) | set(have)) if key != "cells"
             and want.get(key) != have.get(key)]
    return f"notebook {', '.join(parts) or 'content'} differs"


def check(solutions_dir: str | Path | None = None,
          exercises_dir: str | Path | None = None) -> list[str]:
    """What differs between ``exercises_dir`` and a fresh build; empty when in sync.

    The comparison is of the notebooks' JSON content, with nothing ignored:
    any change that a rebuild would undo is reported. Malformed solution
    regions are reported too, as are exercise notebooks without a solution.
    """
    solutions, exercises = _dirs(solutions_dir, exercises_dir)
    problems: list[str] = []
    expected: dict[str, str] = {}
    for path in sorted(solutions.glob("*.ipynb")):
        try:
            expected[path.name] = render(build_notebook(_read(path), path.name))
        except (RegionError, ValueError) as error:
            problems.append(f"{path}: cannot build: {error}")
    for name, text in expected.items():
        path = exercises / name
        if not path.exists():
            problems.append(f"{path}: missing (solutions/{name} has no exercise version)")
            continue
        try:
            have = _read(path)
        except ValueError as error:
            problems.append(f"{path}: {error}")
            continue
        want = json.loads(text)
        if have != want:
            problems.append(f"{path}: out of date with solutions/{name}: "
                            f"{_first_cell_difference(want, have)}")
    for path in sorted(exercises.glob("*.ipynb")) if exercises.is_dir() else []:
        if path.name not in expected:
            what = ("generated earlier, but its solution is gone" if _generated(path)
                    else "not generated from solutions/")
            problems.append(f"{path}: no solutions/{path.name} ({what})")
    return problems


# --------------------------------------------------------------------------- command line

def _run(args: argparse.Namespace) -> int:
    try:
        if args.action == "build":
            changed = build(args.solutions, args.exercises)
            for path in changed:
                print(f"{'wrote' if path.exists() else 'removed'} {path}")
            if not changed:
                print("exercises are up to date")
            return 0
        problems = check(args.solutions, args.exercises)
    except (FileNotFoundError, FileExistsError, RegionError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if problems:
        print(f"exercises/ is out of sync with solutions/ ({len(problems)} "
              f"problem{'s' if len(problems) != 1 else ''}):", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        print("edit solutions/ only, then run: python -m lecturekit exercises build",
              file=sys.stderr)
        return 1
    print("exercises/ is in sync with solutions/")
    return 0


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    for action, text in (("build", "write exercises/ from solutions/"),
                         ("check", "exit 1 if exercises/ differs from a fresh build")):
        sub = actions.add_parser(action, help=text, description=text)
        sub.add_argument("--solutions", default=None, metavar="DIR",
                         help=f"solution notebooks (default: {ROOT / 'solutions'})")
        sub.add_argument("--exercises", default=None, metavar="DIR",
                         help=f"exercise notebooks (default: {ROOT / 'exercises'})")
    parser.set_defaults(run=_run)


def add_subcommand(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``exercises build|check`` to a command line's sub-commands; ``args.run(args)``
    then runs it and returns the exit code."""
    parser = subparsers.add_parser("exercises", help="build or check exercises/ from solutions/",
                                   description=__doc__.split("\n\n")[0])
    _add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """``python -m lecturekit.course.exercises build|check [--solutions DIR] [--exercises DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m lecturekit.course.exercises",
                                     description=__doc__.split("\n\n")[0])
    _add_arguments(parser)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())

"""The solution regions of a homework notebook, marked as nbgrader marks them.

A teacher writes the solution notebooks in ``solutions/`` and marks what the
student has to write:

* in a **code cell**, the lines between ``### BEGIN SOLUTION`` and
  ``### END SOLUTION``, each marker on a line of its own, indented like the
  code. The region becomes nbgrader's default stub at the same indentation::

      # YOUR CODE HERE
      raise NotImplementedError()

  ``### BEGIN SOLUTION: a prompt`` is shorthand for a comment line
  ``# a prompt`` right above the marker (:func:`move_prompts` writes it out,
  because nbgrader drops the marker line and everything on it).
* in a **markdown cell** (a written answer), the lines between
  ``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION -->``, each on a line of
  its own; HTML comments are invisible in the rendered solution. The region
  becomes nbgrader's ``YOUR ANSWER HERE``.

These are the markers and stubs of nbgrader's ``ClearSolutions`` with its
default settings, so ``exercises build`` and nbgrader's ``generate_assignment``
give students the same cells. A marker anywhere else (inside a line, a prompt
on a markdown marker, the code marker in a markdown cell, where ``###`` would
render as a heading) is an error that names the cell and line.

Notebooks are read and written as JSON in nbformat's layout (indent 1, sorted
keys) with the standard library only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["ANSWER_STUB", "CODE_BEGIN", "CODE_END", "CODE_STUB", "MARKDOWN_BEGIN",
           "MARKDOWN_END", "RegionError", "clear_regions", "count_regions", "move_prompts",
           "lines_for_json", "read_notebook", "render", "source"]

CODE_BEGIN = "### BEGIN SOLUTION"
CODE_END = "### END SOLUTION"
MARKDOWN_BEGIN = "<!-- BEGIN SOLUTION -->"
MARKDOWN_END = "<!-- END SOLUTION -->"
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
"""What a code region becomes: nbgrader's default ``ClearSolutions.code_stub`` for Python."""
ANSWER_STUB = "YOUR ANSWER HERE"
"""What a markdown region becomes: nbgrader's default ``ClearSolutions.text_stub``."""
_MD_BEGIN, _MD_END = "<!-- BEGIN SOLUTION", "<!-- END SOLUTION"
_ANY_MARKER = ("BEGIN SOLUTION", "END SOLUTION")
"""What nbgrader takes for a marker: any line that contains one of these."""


class RegionError(ValueError):
    """A solution region is malformed (unclosed, nested, or an END without BEGIN)."""


def source(cell: dict[str, Any]) -> str:
    """A cell's source as one string (nbformat stores a string or a list of lines)."""
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def _stub(indent: str, stub: str) -> str:
    return "".join(f"{indent}{line}\n" for line in stub.split("\n"))


def _replace(text: str, begin: str, end: str, stub: str, where: str) -> tuple[str, int]:
    """Replace every block of lines from one starting with ``begin`` to one starting with
    ``end`` (both included) by ``stub`` at the begin line's indentation; return the text
    and the number of blocks."""
    out: list[str] = []
    inside = False
    count = opened_at = 0
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        stripped = line.strip()
        if stripped.startswith(begin):
            if inside:
                raise RegionError(f"{where}, line {number}: {begin} inside another solution "
                                  f"region (opened on line {opened_at}); regions cannot nest")
            inside, opened_at, count = True, number, count + 1
            out.append(_stub(line[:len(line) - len(line.lstrip())], stub))
        elif stripped.startswith(end):
            if not inside:
                raise RegionError(f"{where}, line {number}: {end} without a {begin} before it")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise RegionError(f"{where}, line {opened_at}: {begin} is never closed by {end}")
    result = "".join(out)
    if text and not text.endswith("\n") and result.endswith("\n"):
        result = result[:-1]
    return result, count


def _check_markers(text: str, markers: tuple[str, ...], where: str, advice: str) -> None:
    for number, line in enumerate(text.splitlines(), start=1):
        if any(marker in line for marker in markers):
            raise RegionError(f"{where}, line {number}: {advice}: {line.strip()!r}")


_AT_LINE_START = "a solution marker must stand at the start of its own line"
_KINDS: dict[str, tuple[str, str, str, tuple[str, str], str]] = {
    "code": (CODE_BEGIN, CODE_END, CODE_STUB, (_MD_BEGIN, _MD_END),
             f"in a code cell mark the solution with {CODE_BEGIN} and {CODE_END}"),
    "markdown": (_MD_BEGIN, _MD_END, ANSWER_STUB, (CODE_BEGIN, CODE_END),
                 f"in a markdown cell mark the answer with {MARKDOWN_BEGIN} and {MARKDOWN_END}"),
}
"""Per cell kind: its markers, its stub, the other kind's markers (which must not appear
in it) and the advice when they do."""


def move_prompts(text: str, cell_type: str, where: str) -> str:
    """``text`` with every ``### BEGIN SOLUTION: prompt`` line of a code cell written out as
    ``# prompt`` above a bare marker, at the marker's indentation. A markdown marker takes no
    prompt (RegionError): the question belongs in the text above it."""
    out = []
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        stripped = line.strip()
        indent = line[:len(line) - len(line.lstrip())]
        if cell_type == "markdown" and stripped.startswith(_MD_BEGIN) \
                and stripped != MARKDOWN_BEGIN:
            raise RegionError(f"{where}, line {number}: write the answer's marker as "
                              f"{MARKDOWN_BEGIN} with nothing inside it (nbgrader would drop a "
                              f"prompt there); put the question in the text above it")
        if cell_type == "code" and stripped.startswith(CODE_BEGIN) and stripped != CODE_BEGIN:
            prompt = stripped[len(CODE_BEGIN):].strip().lstrip(":").strip()
            newline = "\n" if line.endswith("\n") else ""
            out.append(f"{indent}# {prompt}\n" if prompt else "")
            out.append(f"{indent}{CODE_BEGIN}{newline}")
            continue
        out.append(line)
    return "".join(out)


def _regions(cell: dict[str, Any], where: str) -> tuple[str, int]:
    """The cell's source with every region replaced by its stub, and the region count."""
    text = source(cell)
    kind = cell.get("cell_type")
    if kind not in _KINDS:
        return text, 0
    begin, end, stub, foreign, advice = _KINDS[kind]
    _check_markers(text, foreign, where, advice)
    text, count = _replace(move_prompts(text, kind, where), begin, end, stub, where)
    _check_markers(text, _ANY_MARKER, where, _AT_LINE_START)
    return text, count


def clear_regions(cell: dict[str, Any], where: str) -> str:
    """The cell's source as a student gets it: every solution region replaced by its stub.
    ``where`` (for example ``solutions/hw1.ipynb, cell 3``) starts every error message."""
    return _regions(cell, where)[0]


def count_regions(cell: dict[str, Any], where: str = "cell") -> int:
    """How many solution regions the cell has (checking that they are well formed)."""
    return _regions(cell, where)[1]


def read_notebook(path: Path) -> dict[str, Any]:
    """A notebook file as a JSON dict; ValueError naming the file when it is not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not a valid notebook (JSON error: {error})") from error


def render(notebook: dict[str, Any]) -> str:
    """A notebook as text, in nbformat's layout (indent 1, sorted keys, final newline)."""
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def lines_for_json(text: str) -> list[str]:
    """Notebook source as nbformat stores it: a list of lines keeping their newlines."""
    return text.splitlines(keepends=True)

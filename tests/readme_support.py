"""The sections and code blocks of the README and of docs/, for tests that run the steps
these documents show.

A test that proves a documented step imports the command from here (or asserts that
the command it runs is there), so the documents cannot drift from what was run.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
TEACHING = DOCS / "teaching.md"  # for teachers: homework, nbgrader, lecture hall, wheel
TESTING = DOCS / "testing.md"  # the test suite, storing a notebook's outputs
REFERENCE = DOCS / "reference.md"  # set-up, networks, errors, scenes, command line
MEASURED = DOCS / "measured.md"  # the measured claims and speed


def section(title: str, document: Path = README) -> str:
    """The text of the section ``## title`` of ``document`` (the README unless named) up
    to the next ``## `` heading."""
    text = document.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"{document.relative_to(ROOT)} has no section '## {title}'"
    return match.group(1)


def code_blocks(text: str, language: str) -> list[str]:
    """The fenced code blocks of ``language`` in ``text``."""
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.M | re.S)


def commands(text: str, program: str) -> list[str]:
    """The command lines in ``text``'s bash blocks that start with ``program``, without
    their trailing comments."""
    lines = [line.split("  #")[0].strip() for block in code_blocks(text, "bash")
             for line in block.splitlines()]
    return [line for line in lines if line.startswith(f"{program} ")]

"""The README's sections and code blocks, for tests that run the steps the README shows.

A test that proves a README step imports the command from here (or asserts that
the command it runs is there), so the README cannot drift from what was run.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def section(title: str) -> str:
    """The text of the README section ``## title`` up to the next ``## `` heading."""
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"README.md has no section '## {title}'"
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

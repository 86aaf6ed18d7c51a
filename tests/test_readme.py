"""The README opens with a short quick start, and the documents link only to what exists.

The quick start is at most 15 lines (non-blank, between its heading and the next): the
two commands, the address the Lab opens, how long set-up and the notebooks take, where
students and teachers read on. Its durations come from docs/measured.md, its address
from the `lab` command. Every relative link in the README, in docs/ and in the other
Markdown files of the checkout leads to a file that exists, and a link's #heading to a
heading of that file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from readme_support import (DOCS, MEASURED, README, REFERENCE, ROOT, TESTING, code_blocks,
                            commands, section)

QUICK_START_LINES = 15
COMMANDS = ["bash scripts/lab.sh", "bash scripts/test.sh"]
DOCUMENTS = sorted([README, *DOCS.glob("*.md"), ROOT / "benchmarks" / "RESULTS.md",
                    ROOT / "exercises" / "README.md", ROOT / "solutions" / "README.md"])
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _quick_start() -> str:
    return section("Quick start")


def _prose(text: str) -> str:
    """``text`` without its fenced code blocks and inline code."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def _anchors(document: Path) -> set[str]:
    """The anchors GitHub gives the headings of ``document``."""
    headings = re.findall(r"^#{1,6} (.+)$", _prose(document.read_text(encoding="utf-8")), re.M)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
            for heading in headings}


def test_the_readme_opens_with_a_quick_start_of_at_most_15_lines():
    text = README.read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", _prose(text), re.M)
    assert headings[0] == "Quick start", headings
    lines = [line for line in _quick_start().splitlines() if line.strip()]
    assert len(lines) <= QUICK_START_LINES, f"{len(lines)} lines:\n" + "\n".join(lines)


def test_the_quick_start_holds_both_commands_and_they_exist():
    quick = _quick_start()
    assert commands(quick, "bash") == COMMANDS
    for command in COMMANDS:
        assert (ROOT / command.split()[1]).is_file(), command
    # the same lines, comments included, where set-up and the test suite are described
    lines = [line for block in code_blocks(quick, "bash") for line in block.splitlines()]
    assert lines[1] in code_blocks(section("Running it", TESTING), "bash")[0]
    for command in COMMANDS:
        assert f"`{command}`" in section("Set-up", REFERENCE), command


def test_the_quick_start_names_the_address_the_lab_opens():
    from lecturekit.course.lab import landing_url_path

    assert f"http://localhost:8888{landing_url_path()}`" in _quick_start()


def test_the_quick_start_durations_are_measured():
    quick = _prose(_quick_start())
    durations = re.findall(r"(\d+(?:-\d+)?) s\b", quick)
    assert len(durations) >= 4, durations
    measured = MEASURED.read_text(encoding="utf-8") + (ROOT / "benchmarks" /
                                                       "RESULTS.md").read_text(encoding="utf-8")
    for duration in durations:
        assert re.search(rf"\b{duration} s\b", measured), duration
    assert "a few minutes" in quick and "a few minutes" in section("Set-up", REFERENCE)


def test_the_quick_start_sends_students_and_teachers_on():
    links = LINK.findall(_quick_start())
    assert "#for-students" in links and "docs/teaching.md" in links, links


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_leads_to_an_existing_file_and_heading(document):
    broken = []
    for target in LINK.findall(_prose(document.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        linked = (document.parent / path).resolve() if path else document
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"{target}: no such heading")
    assert not broken, broken

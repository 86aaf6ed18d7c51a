"""The house's floors: every import of the package points down (DESIGN.md).

The layering is written down once, here, as data: each module of ``lecturekit`` belongs to
one floor, and a module may import only from its own floor or below. The two halves of
the lecture (``gradient`` and ``optimise``) share a floor and never import each other.
The test reads every module's imports from its source (nothing is run), so it names the
file and the import that runs back up.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lecturekit"

FLOORS: tuple[tuple[str, ...], ...] = (
    # ground floor: argument checks, devices, progress bars, the disk cache, images, filters
    # and image measures, the generated worlds
    ("lecturekit.validation", "lecturekit.devices", "lecturekit.progress",
     "lecturekit.result_cache", "lecturekit.images",
     "lecturekit.filters", "lecturekit.similarity", "lecturekit.scenes",
     "lecturekit.photo_scenes"),
    ("lecturekit.models",),                                  # the networks
    ("lecturekit.targets", "lecturekit.examples"),           # pseudo-losses; what to show
    ("lecturekit.gradient", "lecturekit.optimise"),          # the lecture's two halves
    ("lecturekit.measure",),                                 # the claims, measured
    ("lecturekit.ui",),                                      # figures and widgets
    ("lecturekit.course", "lecturekit.__init__", "lecturekit.__main__"),  # course tooling
)
"""Floors from the ground up; a name stands for the module or the folder of that name."""

APART = (("lecturekit.gradient", "lecturekit.optimise"),)
"""Rooms on one floor that must not import each other."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1]) if parts[-1] == "__init__" and len(parts) > 2 else ".".join(parts)


def _room(module: str) -> str:
    """The entry of :data:`FLOORS` that ``module`` belongs to (its longest prefix)."""
    if module == "lecturekit":
        return "lecturekit.__init__"
    names = [name for floor in FLOORS for name in floor
             if module == name or module.startswith(name + ".")]
    if not names:
        raise AssertionError(f"{module} stands on no floor of FLOORS: add it")
    return max(names, key=len)


def _floor(module: str) -> int:
    room = _room(module)
    return next(i for i, floor in enumerate(FLOORS) if room in floor)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported lecturekit module) for every import in the file; ``from lecturekit
    import scenes`` imports the module ``lecturekit.scenes``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names
                      if alias.name.startswith("lecturekit")]
        elif isinstance(node, ast.ImportFrom) and node.module and \
                node.module.startswith("lecturekit") and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                is_module = (PACKAGE.parent / candidate.replace(".", "/")).with_suffix(
                    ".py").is_file() or (PACKAGE.parent / candidate.replace(".", "/")).is_dir()
                found.append((node.lineno, candidate if is_module else node.module))
    return found


MODULES = sorted(path for path in PACKAGE.rglob("*.py") if "jupyter_config" not in path.parts)
"""The package's modules (the Jupyter configuration files it ships are not modules)."""


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_every_import_points_down(path: Path) -> None:
    module = _module_name(path)
    own = _floor(module)
    upward = [f"line {line}: {name} (floor {_floor(name)})" for line, name in _imports(path)
              if _floor(name) > own]
    assert not upward, f"{module} (floor {own}) imports from above: {'; '.join(upward)}"
    for left, right in APART:
        for a, b in ((left, right), (right, left)):
            if _room(module) == a:
                across = [name for _, name in _imports(path) if _room(name) == b]
                assert not across, f"{module} imports {across}: {a} and {b} stay apart"


def test_every_module_imports():
    for path in MODULES:
        name = _module_name(path)
        if name.startswith("lecturekit.ui.widgets") or name == "lecturekit.__main__":
            continue  # ipywidgets are optional; __main__ runs the command line
        importlib.import_module(name)


def test_the_layering_can_fail():
    """A made-up module on the ground floor that imports the networks is caught."""
    assert _floor("lecturekit.images") < _floor("lecturekit.models.network")
    assert _floor("lecturekit.optimise.loop") == _floor("lecturekit.gradient.saliency")
    with pytest.raises(AssertionError, match="stands on no floor"):
        _floor("lecturekit.attic")

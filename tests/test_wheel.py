"""The kit as a wheel, installed outside the repository: weights, sample images, commands.

What this proves and how. The wheel is built from a copy of the files a build needs
(pyproject.toml, README.md, lecturekit/), so nothing is written into the checkout,
offline with the test environment's setuptools (``--no-build-isolation``), as the
README's ``pip wheel`` line with that flag added. It is installed, not editable and
without dependencies, into a fresh virtual environment made with ``venv
--without-pip``. That environment sees the test environment's packages (PyTorch,
Jupyter, ...) through a ``.pth`` file that lists their site-packages folders as plain
paths: such folders come after the environment's own site-packages, and their own
``.pth`` files are not run, so an editable install of the checkout in the test
environment cannot be picked up. Then, from a temporary folder and without
PYTHONPATH, the test checks that ``lecturekit`` is imported from the new environment
and no other folder on ``sys.path`` holds a ``lecturekit`` package, runs
``lecturekit doctor`` (the console script) and notebooks/00_getting_started on the toy network in a kernel of
the new environment, and ``lecturekit exercises check`` on a copy of the homework.
The alternative, a venv with ``--system-site-packages``, would see the base Python's
packages, which have no PyTorch, and installing the dependencies would download
PyTorch again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import nbformat
import pytest
from readme_support import commands, section

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "00_getting_started.ipynb"


def _run(command: list[str], cwd: Path, env: dict[str, str],
         timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=env, text=True, capture_output=True,
                            timeout=timeout)
    assert result.returncode == 0, (f"{' '.join(map(str, command))} failed in {cwd}:\n"
                                    f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The wheel, a fresh environment with it installed, and a folder outside the checkout."""
    base = tmp_path_factory.mktemp("wheel")
    source, dist, venv, elsewhere = (base / name
                                     for name in ("source", "dist", "venv", "elsewhere"))
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    shutil.copytree(ROOT / "lecturekit", source / "lecturekit",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "--no-index", "-w", str(dist), str(source)], base, env)
    wheel = next(dist.glob("lecturekit-*.whl"))

    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], base, env)
    python = venv / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(_run([str(python), "-c", purelib], base, env).stdout.strip())
    ours = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (site / "test_environment_packages.pth").write_text("\n".join(ours) + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
          "--no-index", str(wheel)], base, env)

    elsewhere.mkdir()
    env = dict(env, PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}", LECTUREKIT_MODEL="toy",
               MPLBACKEND="Agg")
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        env[name] = str(base / "jupyter" / name.lower())
    return {"wheel": wheel, "venv": venv, "python": python, "site": site,
            "elsewhere": elsewhere, "env": env}


def test_the_readme_builds_and_installs_a_wheel():
    lines = commands(section("For teachers"), "python")
    assert "python -m pip wheel --no-deps -w dist ." in lines
    assert any(line.startswith("pip install") for line in
               commands(section("For teachers"), "pip"))


def test_the_wheel_holds_the_weights_the_presentation_page_and_the_jupyter_config(installed):
    from lecturekit.course.lab import CONFIG

    names = zipfile.ZipFile(installed["wheel"]).namelist()
    configs = [f"lecturekit/course/{path.relative_to(CONFIG.parent).as_posix()}"
               for path in CONFIG.rglob("*") if path.is_file() and path.suffix in (".json", ".py")]
    assert len(configs) == 5, configs  # the Labs' four JSON files and the page's voila.py
    for needed in ("lecturekit/weights/toy_alexnet.pt", "lecturekit/weights/toy_alexnet.json",
                   "lecturekit/course/present.ipynb", "lecturekit/__main__.py", *configs):
        assert needed in names, needed
    assert not [name for name in names if name.startswith(("tests/", "notebooks/", "solutions/"))]


def test_the_installed_kit_is_imported_from_the_new_environment(installed):
    # every folder on sys.path that holds a lecturekit package (the test environment's own
    # site-packages may lie inside the checkout, as CI's .venv does, but holds none)
    code = ("import json, os, sys, lecturekit; print(lecturekit.__file__); "
            "print(json.dumps([p for p in sys.path "
            "if os.path.isdir(os.path.join(p or '.', 'lecturekit'))]))")
    out = _run([str(installed["python"]), "-c", code], installed["elsewhere"],
               installed["env"]).stdout.splitlines()
    assert Path(out[0]).is_relative_to(installed["site"]), out[0]
    holders = [Path(p).resolve() for p in json.loads(out[1])]
    assert holders == [installed["site"].resolve()], holders


def test_doctor_runs_from_any_folder(installed):
    out = _run(["lecturekit", "doctor"], installed["elsewhere"], installed["env"]).stdout
    weights = installed["site"] / "lecturekit" / "weights" / "toy_alexnet.pt"
    assert f"model toy     available: {weights}" in out
    assert "lecturekit    0.1.0" in out


def test_a_lecture_notebook_runs_on_the_installed_kit(installed):
    notebook = nbformat.read(ROOT / "notebooks" / NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(
        "import lecturekit, sys\nprint(lecturekit.__file__)\nprint(sys.executable)"))
    copy = installed["elsewhere"] / NOTEBOOK
    nbformat.write(notebook, copy)
    _run([str(installed["python"]), "-m", "nbconvert", "--to", "notebook",
          "--execute", "--inplace", "--ExecutePreprocessor.timeout=600", NOTEBOOK],
         installed["elsewhere"], installed["env"])
    ran = nbformat.read(copy, as_version=4)
    errors = [output for cell in ran.cells for output in cell.get("outputs", [])
              if output.output_type == "error"]
    assert not errors, errors
    where, executable = ran.cells[-1].outputs[0].text.split()
    assert Path(where).is_relative_to(installed["site"]) and \
        Path(executable).parent == installed["venv"] / "bin"


def test_exercises_check_acts_on_the_course_folder_not_on_site_packages(installed):
    course = installed["elsewhere"] / "course"
    for folder in ("solutions", "exercises"):
        shutil.copytree(ROOT / folder, course / folder)
    result = _run(["lecturekit", "exercises", "check"], course / "exercises", installed["env"])
    assert "in sync" in result.stdout
    (course / "exercises" / "hw4_dream.ipynb").unlink()
    failed = subprocess.run(["lecturekit", "exercises", "check"], cwd=course,
                            env=installed["env"], text=True, capture_output=True)
    assert failed.returncode == 1 and f"{course.resolve()}/exercises/hw4_dream.ipynb: missing" \
        in failed.stderr

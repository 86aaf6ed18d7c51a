"""The main command's Lab and the landing page: the course folder as root, every notebook linked.

The Lab in a browser (landing page, file browser, an exercise opened from a link)
is tested in tests/test_browser.py; here are the parts that need no server.
"""

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lecturekit.course.folders import course_folder
from lecturekit.course.lab import (CONFIG, HIDDEN_FOR_STUDENTS, LANDING_PAGE, config_folders,
                                   lab_arguments, lab_environment, landing_url_path)

ROOT = Path(__file__).resolve().parents[1]


def _links(notebook_path: Path) -> list[str]:
    """The targets of the markdown links in a notebook."""
    cells = json.loads(notebook_path.read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown")
    return re.findall(r"\]\(([^)]+)\)", text)


def test_the_landing_page_links_every_lecture_notebook_and_exercise():
    links = _links(ROOT / LANDING_PAGE)
    wanted = [str(path.relative_to(ROOT)) for pattern in ("notebooks/*.ipynb", "exercises/*.ipynb")
              for path in sorted(ROOT.glob(pattern))]
    assert [link for link in links if link.endswith(".ipynb")] == wanted
    assert not [link for link in links if not (ROOT / link).is_file()]
    assert "solutions/" not in "".join(links)  # a teacher may hide them


def test_the_landing_page_shows_the_gap_and_the_check_as_the_exercises_have_them():
    text = (ROOT / LANDING_PAGE).read_text(encoding="utf-8")
    exercise = (ROOT / "exercises" / "hw1_relu_rules.ipynb").read_text(encoding="utf-8")
    for phrase in ("# YOUR CODE HERE", "raise NotImplementedError()", "YOUR ANSWER HERE"):
        assert phrase in text and phrase in exercise, phrase
    assert "correct: ..." in text


def test_lab_serves_the_whole_course_folder_and_opens_the_landing_page():
    arguments = lab_arguments(ROOT)
    assert arguments == [f"--ServerApp.root_dir={ROOT}",
                         f"--LabApp.default_url=/lab/tree/{LANDING_PAGE}"]
    assert landing_url_path() == "/lab/tree/START_HERE.ipynb"


def test_the_landing_pages_links_read_as_links_not_as_code():
    cells = json.loads((ROOT / LANDING_PAGE).read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown")
    titles = re.findall(r"\[([^\]]*)\]\(", text)
    assert len(titles) >= 10
    assert not [title for title in titles if "`" in title or "/" in title], titles


def test_hide_solutions_adds_them_to_the_servers_hidden_globs(tmp_path):
    (tmp_path / "notebooks").mkdir()
    arguments = lab_arguments(tmp_path, hide_solutions=True)
    assert arguments[0] == f"--ServerApp.root_dir={tmp_path.resolve()}"
    assert len(arguments) == 2  # no landing page in this folder: nothing to open
    option, value = arguments[1].split("=", 1)
    assert option == "--ContentsManager.hide_globs"
    globs = ast.literal_eval(value)  # a Python list literal, as traitlets reads it
    assert set(HIDDEN_FOR_STUDENTS) <= set(globs) and "__pycache__" in globs


def test_the_course_folder_is_found_from_a_subfolder(tmp_path):
    (tmp_path / "solutions").mkdir()
    deep = tmp_path / "exercises" / "mine"
    deep.mkdir(parents=True)
    assert course_folder("solutions", deep) == tmp_path.resolve()
    with pytest.raises(FileNotFoundError, match="no notebooks/ folder in .* or any folder above"):
        course_folder("notebooks", deep)


def test_lab_outside_a_course_folder_says_what_to_do(tmp_path):
    result = subprocess.run([sys.executable, "-m", "lecturekit", "lab", "--no-browser"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    assert "no notebooks/ folder" in result.stderr and "--root" in result.stderr


def test_other_commands_still_refuse_unknown_options():
    result = subprocess.run([sys.executable, "-m", "lecturekit", "doctor", "--port", "1"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2 and "unrecognized arguments: --port 1" in result.stderr


def test_lab_sh_runs_the_lab_command_and_the_readme_shows_its_teacher_option():
    from readme_support import section

    lines = (ROOT / "scripts" / "lab.sh").read_text().splitlines()
    assert lines[-1] == 'exec python -m lecturekit lab "$@"'
    assert "bash scripts/lab.sh --hide-solutions" in section("For teachers")


def _exec_of_lab(monkeypatch, tmp_path, *options: str) -> tuple[list[str], dict[str, str]]:
    """The command line and environment `python -m lecturekit lab` would replace itself by."""
    from lecturekit.course import cli

    called = {}
    monkeypatch.setattr("os.execve", lambda path, argv, env: called.update(argv=argv, env=env))
    (tmp_path / "notebooks").mkdir(exist_ok=True)
    assert cli.main(["lab", *options, f"--root={tmp_path}", "--no-browser"]) == 0
    return called["argv"], called["env"]


def test_a_students_lab_gets_the_kits_config_in_front_of_the_users(monkeypatch, tmp_path):
    pytest.importorskip("nbgrader")
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", "/somewhere/else")
    argv, env = _exec_of_lab(monkeypatch, tmp_path)
    assert argv[1:4] == ["-m", "jupyter", "lab"] and argv[-1] == "--no-browser"
    assert env["JUPYTER_CONFIG_PATH"].split(os.pathsep) == \
        [str(CONFIG / "student"), str(CONFIG / "quiet"), "/somewhere/else"]
    _, teachers = _exec_of_lab(monkeypatch, tmp_path, "--teacher")
    assert teachers["JUPYTER_CONFIG_PATH"].split(os.pathsep) == \
        [str(CONFIG / "quiet"), "/somewhere/else"]


def test_without_nbgrader_there_is_nothing_to_hide(monkeypatch):
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    assert config_folders() == config_folders(teacher=True) == [CONFIG / "quiet"]
    assert lab_environment(environ={})["JUPYTER_CONFIG_PATH"] == str(CONFIG / "quiet")


def test_the_students_config_hides_nbgraders_teacher_tools_but_not_the_assignment_list():
    def read(*parts):
        return json.loads((CONFIG / "student").joinpath(*parts).read_text(encoding="utf-8"))

    disabled = read("labconfig", "page_config.json")["disabledExtensions"]
    assert {name.split(":")[1] for name, off in disabled.items() if off} == \
        {"menu", "formgrader", "create-assignment", "validate-assignment", "course-list"}
    servers = read("jupyter_server_config.json")["ServerApp"]["jpserver_extensions"]
    assert not any(servers.values()) and "nbgrader.server_extensions.assignment_list" not in servers
    menu, = read("labconfig", "default_setting_overrides.json")[
        "@jupyterlab/mainmenu-extension:plugin"]["menus"]
    assert menu["label"] == "Assignments"
    assert menu["items"] == [{"command": "nbgrader:open-assignment-list"}]
    quiet = json.loads((CONFIG / "quiet" / "labconfig" / "default_setting_overrides.json")
                       .read_text(encoding="utf-8"))
    assert quiet["@jupyterlab/apputils-extension:notification"] == \
        {"checkForUpdates": False, "fetchNews": "false"}

"""A class on the course's JupyterHub: deploy/jupyterhub_config.py, as `bash scripts/hub.sh`
starts it, with two students and the teacher.

One hub for the module (free ports, temporary state folder with the homes and the nbgrader
exchange, toy model), through its own configurable-http-proxy; a test-only configuration
file loads deploy/jupyterhub_config.py unchanged and adds an API token with the admin
scopes the checks need, and `window.jupyterapp` in the Lab.

* Two students log in at the same time in two contexts of one Chromium; each lands on
  START_HERE.ipynb in a Lab of their own, with the course (no solutions) in their home,
  follows its link to notebook 01, clears its outputs and runs it to the end from the
  Run menu, both runs under way at once. Each saved notebook, in each one's home, has new
  outputs, an execution count in every code cell and no error. Each notebook's kernel says
  it is that student's (JUPYTERHUB_USER) and is a child of that student's single-user
  server, which the hub's REST API reports running; the two kernels differ.
* Homework across hub users through the shared exchange: the teacher (whose Lab has the
  formgrader, a student's has not) generates and releases hw1 with nbgrader's command line
  in the teacher's server's own environment; each student fetches and submits through
  nbgrader's assignment-list endpoints of their own server (through the hub's proxy,
  with the token); alice answers with the solutions, bob with the Deconvnet rule written as
  backprop. The teacher collects and autogrades: alice gets every autograded point, bob
  all but one.

At the end the hub is stopped and no process it started (proxy, servers, kernels) may be
left. About 2 minutes on a 2-core machine. Without Chromium, Playwright, JupyterHub or
configurable-http-proxy the tests skip, and fail under CI=true.

Without a browser: a wrong setting stops the hub at once with one line that names it, and
scripts/hub.sh refuses a configuration file of its own.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from browser_support import artifacts  # noqa: F401  (fixture)
from browser_support import (CHROMIUM, CHROMIUM_FLAGS, ROOT, Browser, artifacts_folder,
                             free_port, jupyter_environment, require_browser, save_evidence,
                             serve, unavailable)
from test_browser import _run_all_cells, _wait_for_idle_kernel
from test_nbgrader import ASSIGNMENT, NOTEBOOK as HOMEWORK, _fill, _nbgrader, _steps

from lecturekit.course.lab import LANDING_PAGE

CONFIG = ROOT / "deploy" / "jupyterhub_config.py"
PROXY = "configurable-http-proxy"
LECTURE = "notebooks/01_input_gradients.ipynb"
STUDENTS = ("alice", "bob")
TEACHER = "teacher"
PASSWORD, TEACHER_PASSWORD = "class-of-2026", "at-least-32-characters-for-an-admin"
COURSE_ID = "cnnvis"
TOKEN = secrets.token_hex(16)
SPAWN_TIMEOUT_S = 120
PAGE_TIMEOUT_MS = 120_000         # log-in, first spawn and the Lab's first load
RUN_ALL_TIMEOUT_MS = 240_000      # notebook 01 twice at once: about 17 s on 2 cores
STOP_TIMEOUT_S = 30


# --------------------------------------------------------------------------- the hub

def proxy_command() -> str | None:
    """configurable-http-proxy as the hub's configuration finds it: on PATH, else .hub/."""
    local = ROOT / ".hub" / "node_modules" / ".bin" / PROXY
    return shutil.which(PROXY) or (str(local) if os.access(local, os.X_OK) else None)


def require_hub() -> None:
    """Skip (locally) or fail (CI=true) unless Chromium, Playwright, JupyterHub, nbgrader and
    the proxy are installed."""
    require_browser("jupyterhub", "nbgrader", "psutil")
    if proxy_command() is None:
        unavailable(f"{PROXY} (npm)", "run `bash scripts/hub.sh --install-only`, which "
                                      "installs it into .hub/ with npm")


def call(url: str, method: str = "GET", body: dict | None = None, form: bool = False,
         timeout: float = 60) -> dict | list | str:
    """The answer of the hub's REST API or a user's server at ``url`` (parsed when JSON),
    with the test's admin token; ``body`` is sent as JSON, or form-encoded with ``form``."""
    headers = {"Authorization": f"token {TOKEN}"}
    data = None
    if body is not None:
        data = (urllib.parse.urlencode(body) if form else json.dumps(body)).encode()
        headers["Content-Type"] = ("application/x-www-form-urlencoded" if form
                                   else "application/json")
    with urllib.request.urlopen(urllib.request.Request(url, data, headers, method=method),
                                timeout=timeout) as response:
        text = response.read().decode()
    try:
        return json.loads(text) if text.strip() else {}
    except ValueError:  # a page (nbgrader's endpoints answer JSON as text/html, too)
        return text


@dataclass
class Hub:
    """A running hub: its public URL, its state folder and its log."""
    url: str
    state: Path
    log: Path

    def home(self, user: str) -> Path:
        """The user's home folder (SimpleLocalProcessSpawner's, under the state folder)."""
        return self.state / "homes" / user

    def server(self, user: str) -> dict:
        """The user's default server as the hub's REST API describes it ({} when none)."""
        return call(f"{self.url}/hub/api/users/{user}")["servers"].get("", {})

    def wait_for_server(self, user: str) -> dict:
        """Start the user's server unless it runs (creating the user if need be), and wait
        until the hub reports it ready; its description."""
        users = {entry["name"] for entry in call(f"{self.url}/hub/api/users")}
        if user not in users:
            call(f"{self.url}/hub/api/users/{user}", method="POST", body={})
        if not self.server(user):
            call(f"{self.url}/hub/api/users/{user}/server", method="POST", body={})
        deadline = time.monotonic() + SPAWN_TIMEOUT_S
        while not (server := self.server(user)).get("ready"):
            assert time.monotonic() < deadline, f"{user}'s server is not ready: {server}"
            time.sleep(0.5)
        return server

    def settle(self) -> None:
        """Wait (a while) until no server is starting or stopping: a hub told to stop leaves
        a server running whose start it has not seen finish."""
        deadline = time.monotonic() + SPAWN_TIMEOUT_S
        while time.monotonic() < deadline and any(
                server.get("pending") for user in call(f"{self.url}/hub/api/users")
                for server in user["servers"].values()):
            time.sleep(0.5)

    def user_url(self, user: str) -> str:
        """The base URL of the user's server, through the hub's proxy."""
        return f"{self.url}/user/{user}"


def _test_config(folder: Path) -> Path:
    """A configuration that loads deploy/jupyterhub_config.py unchanged, then adds what only
    the test needs: an API token (a service) with admin scopes, the Lab's app in the page."""
    path = folder / "jupyterhub_config.py"
    path.write_text(f"""c = get_config()
load_subconfig({str(CONFIG)!r})
c.JupyterHub.services = [{{"name": "lecturekit-test", "api_token": {TOKEN!r}}}]
c.JupyterHub.load_roles = [{{"name": "lecturekit-test", "services": ["lecturekit-test"],
    "scopes": ["admin:users", "admin:servers", "admin:server_state", "access:servers"]}}]
c.Spawner.args = [*c.Spawner.args, "--LabApp.expose_app_in_browser=True"]
""")
    return path


def _hub_environment(base: Path, ports: list[int]) -> dict[str, str]:
    """The hub's environment: deploy/jupyterhub_config.py's settings for a test hub."""
    return jupyter_environment(
        base / "hub-home", LECTUREKIT_HUB_STATE=str(base / "state"),
        LECTUREKIT_HUB_PORT=str(ports[0]), LECTUREKIT_HUB_API_PORT=str(ports[1]),
        LECTUREKIT_HUB_PROXY_API_PORT=str(ports[2]), LECTUREKIT_HUB_PASSWORD=PASSWORD,
        LECTUREKIT_HUB_TEACHER=TEACHER, LECTUREKIT_HUB_TEACHER_PASSWORD=TEACHER_PASSWORD,
        LECTUREKIT_PROGRESS="0", PATH=f"{Path(sys.executable).parent}{os.pathsep}"
                                     f"{os.environ['PATH']}")


def _assert_all_gone(processes: list, what: str) -> None:
    """Wait for ``processes`` (psutil) to end; kill and name any that is left."""
    import psutil

    _, alive = psutil.wait_procs(processes, timeout=STOP_TIMEOUT_S)
    left = []
    for process in alive:
        try:
            left.append(" ".join(process.cmdline())[:200])
            process.kill()
        except psutil.NoSuchProcess:
            continue
    assert not left, f"still running after the hub stopped ({what}), now killed: {left}"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """The course's hub on free ports with a temporary state folder; stopped at the end, when
    every process it started (proxy, servers, kernels) must have ended."""
    import psutil

    require_hub()
    base = tmp_path_factory.mktemp("hub")
    ports = [free_port() for _ in range(3)]
    env = _hub_environment(base, ports)
    url = f"http://127.0.0.1:{ports[0]}"
    log = artifacts_folder(base) / "jupyterhub.log"
    command = [sys.executable, "-m", "jupyterhub", "-f", str(_test_config(base))]
    children: list = []
    with serve(command, f"{url}/hub/api", log, base, env) as process:
        running = Hub(url, base / "state", log)
        try:
            yield running
        finally:
            running.settle()
            children = psutil.Process(process.pid).children(recursive=True)
    _assert_all_gone(children, f"log: {log}")


# --------------------------------------------------------------------------- the students

@pytest.fixture
def classroom(tmp_path: Path, artifacts: Path) -> Iterator[dict[str, Browser]]:  # noqa: F811
    """One headless Chromium with a context (own cookies, own log-in) per student; each
    page's console recorded; closed, their logs saved, in every outcome."""
    require_hub()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=list(CHROMIUM_FLAGS))
        pages = {}
        try:
            for student in STUDENTS:
                (artifacts / student).mkdir(exist_ok=True)
                context = chromium.new_context(viewport={"width": 1400, "height": 1000})
                pages[student] = Browser(context.new_page())
                pages[student].page.on("console", pages[student].record_console)
                pages[student].page.on("pageerror", pages[student].record_page_error)
                pages[student].page.set_default_timeout(PAGE_TIMEOUT_MS)
            yield pages
        finally:
            for student, browser in pages.items():
                browser.save_log(artifacts / student)
            chromium.close()


def _log_in(page, hub: Hub, user: str, password: str) -> None:
    """Fill in the hub's log-in form and send it (the first spawn follows; not waited for)."""
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", password)
    page.click("#login_submit")


def _wait_for_open(page, path: str) -> None:
    """Wait until the Lab shows the notebook ``path`` (relative to the server's root)."""
    page.wait_for_function(f"() => window.jupyterapp?.shell?.currentWidget?.context?.path "
                           f"=== {path!r}")


RUN_FINISHED = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const kernel = panel.sessionContext.session?.kernel;
    const cells = Array.from(panel.content.model.cells).filter(cell => cell.type === "code");
    const failed = cells.some(cell => cell.outputs.toJSON().some(o => o.output_type === "error"));
    return kernel?.status === "idle"
           && (failed || cells.every(cell => cell.executionCount !== null));
}"""

WHO_AM_I = """async code => {
    const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    const future = kernel.requestExecute({code, store_history: false});
    let text = "";
    future.onIOPub = message => {
        if (message.header.msg_type === "stream") text += message.content.text;
    };
    await future.done;
    return {id: kernel.id, answer: text};
}"""
WHO_AM_I_CODE = ("import json, os; print(json.dumps({'user': os.environ['JUPYTERHUB_USER'], "
                 "'pid': os.getpid(), 'parent': os.getppid(), 'cwd': os.getcwd(), "
                 "'model': os.environ.get('LECTUREKIT_MODEL'), "
                 "'progress': os.environ.get('LECTUREKIT_PROGRESS')}))")


def _open_the_lecture(page) -> None:
    """Follow the landing page's link to the lecture, wait for its kernel, clear every output
    (so that what is saved later was made now) and choose Run All Cells."""
    page.locator(f'.jp-RenderedMarkdown a[href*="/files/{LECTURE}"]').click()
    _wait_for_open(page, LECTURE)
    _wait_for_idle_kernel(page)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    counts = page.evaluate("""() => Array.from(window.jupyterapp.shell.currentWidget.content
                                  .model.cells).map(cell => cell.executionCount ?? null)""")
    assert not any(counts), f"outputs not cleared: execution counts {counts}"
    _run_all_cells(page)


def _assert_saved_run(home: Path, user: str) -> None:
    """The lecture as saved in ``home``: outputs, a count in every code cell, no error."""
    notebook = nbformat.read(home / LECTURE, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    errors = [output.get("ename") for cell in code for output in cell.outputs
              if output.output_type == "error"]
    assert not errors, f"{user}'s run of {LECTURE} raised {errors}"
    assert all(cell.execution_count for cell in code), \
        f"{user}'s saved {LECTURE} has code cells that did not run: " \
        f"{[cell.execution_count for cell in code]}"
    assert sum(len(cell.outputs) for cell in code) >= len(code) // 2, f"{user}: few outputs"


def _assert_course_copied(home: Path, user: str) -> None:
    """The course in a student's home: the landing page, every lecture notebook and every
    exercise, no solutions."""
    for pattern in (LANDING_PAGE, "notebooks/*.ipynb", "exercises/*.ipynb"):
        for path in ROOT.glob(pattern):
            assert (home / path.relative_to(ROOT)).is_file(), \
                f"{path.relative_to(ROOT)} was not copied into {user}'s home {home}"
    assert not (home / "solutions").exists(), f"solutions/ was copied into {user}'s home"


@pytest.mark.browser
def test_two_students_run_a_lecture_at_once(hub: Hub, classroom: dict[str, Browser],
                                            artifacts: Path) -> None:  # noqa: F811
    """Log in, land on START_HERE.ipynb, run notebook 01 to the end, both at once; each run is
    its student's own (about 60 s)."""
    timings: dict[str, float] = {}
    try:
        start = time.monotonic()
        for student, browser in classroom.items():
            _log_in(browser.page, hub, student, PASSWORD)
        for student, browser in classroom.items():
            _wait_for_open(browser.page, LANDING_PAGE)
            timings[f"log-in to landing page, {student}"] = time.monotonic() - start
            _assert_course_copied(hub.home(student), student)
        start = time.monotonic()
        for browser in classroom.values():
            _open_the_lecture(browser.page)
        for student, browser in classroom.items():
            browser.page.wait_for_function(RUN_FINISHED, timeout=RUN_ALL_TIMEOUT_MS)
            timings[f"notebook 01 run, {student}"] = time.monotonic() - start
            browser.page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        kernels = {}
        for student, browser in classroom.items():
            browser.page.wait_for_function("() => !window.jupyterapp.shell.currentWidget"
                                           ".context.model.dirty")
            _assert_saved_run(hub.home(student), student)
            ran = browser.page.evaluate(WHO_AM_I, WHO_AM_I_CODE)
            kernels[student] = {"id": ran["id"], **json.loads(ran["answer"])}
    except Exception:
        for student, browser in classroom.items():
            save_evidence(browser, artifacts / student, ".jp-NotebookPanel")
        raise
    finally:
        (artifacts / "timings.json").write_text(json.dumps(timings, indent=1))
        print("hub timings (s):", {name: round(value, 1) for name, value in timings.items()})

    for student, kernel in kernels.items():
        server = hub.server(student)
        assert server.get("ready"), f"the hub does not report {student}'s server: {server}"
        assert kernel["user"] == student, f"{student}'s kernel belongs to {kernel['user']}"
        assert kernel["parent"] == server["state"]["pid"], \
            f"{student}'s kernel is no child of {student}'s server: {kernel}, {server}"
        assert Path(kernel["cwd"]) == hub.home(student) / "notebooks", kernel
        assert (kernel["model"], kernel["progress"]) == ("toy", "0"), \
            f"LECTUREKIT_MODEL, LECTUREKIT_PROGRESS did not reach the kernel: {kernel}"
        theirs = {entry["id"] for entry in call(f"{hub.user_url(student)}/api/kernels")}
        assert kernel["id"] in theirs, f"{student}'s server does not run {student}'s kernel"
    alice, bob = (kernels[student] for student in STUDENTS)
    assert alice["pid"] != bob["pid"] and alice["parent"] != bob["parent"], kernels
    for student, browser in classroom.items():
        browser.assert_no_errors(artifacts / student)


# --------------------------------------------------------------------------- homework

def _server_environment(hub: Hub, user: str) -> dict[str, str]:
    """The environment of the user's running single-user server (what its terminal and its
    kernels get): the hub's settings for that user, JUPYTER_CONFIG_PATH and HOME included."""
    import psutil

    return psutil.Process(hub.server(user)["state"]["pid"]).environ()


def _assignment_action(hub: Hub, student: str, action: str) -> list:
    """POST to nbgrader's assignment-list endpoint of the student's own server (what the Lab's
    Assignments list does on Fetch and Submit), through the hub's proxy."""
    answer = call(f"{hub.user_url(student)}/assignments/{action}", method="POST",
                  body={"course_id": COURSE_ID, "assignment_id": ASSIGNMENT}, form=True)
    assert isinstance(answer, dict) and answer.get("success"), \
        f"{action} for {student} failed: {str(answer)[-2000:]}"
    return answer["value"]


@pytest.mark.browser
def test_homework_goes_from_the_teacher_to_two_students_and_back(hub: Hub) -> None:
    """Release, fetch, submit, collect and autograde hw1 across three hub users through the
    shared exchange (about 60 s)."""
    from nbgrader.api import Gradebook

    steps = _steps()
    for user in (TEACHER, *STUDENTS):
        hub.wait_for_server(user)
    teacher_home = hub.home(TEACHER)
    call(f"{hub.user_url(TEACHER)}/formgrader")  # the teacher's Lab has nbgrader's tools
    with pytest.raises(urllib.error.HTTPError, match="404"):
        call(f"{hub.user_url(STUDENTS[0])}/formgrader")  # a student's has not
    assert (teacher_home / "solutions").is_dir()
    course, env = teacher_home / "course", _server_environment(hub, TEACHER)
    _nbgrader(steps["generate_assignment"], course, env)
    _nbgrader(steps["release_assignment"], course, env)

    source = nbformat.read(course / "source" / ASSIGNMENT / f"{HOMEWORK}.ipynb", as_version=4)
    for student, wrong in zip(STUDENTS, (False, True)):
        _assignment_action(hub, student, "fetch")
        _fill(hub.home(student) / ASSIGNMENT / f"{HOMEWORK}.ipynb", source, wrong)
        _assignment_action(hub, student, "submit")

    _nbgrader(steps["collect"], course, env)
    _nbgrader(steps["autograde"], course, env)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {student: gradebook.find_submission_notebook(HOMEWORK, ASSIGNMENT, student)
                  for student in STUDENTS}
        points = {student: (notebook.code_score, notebook.max_code_score)
                  for student, notebook in scores.items()}
    full = points["alice"][1]
    assert full >= 4 and points == {"alice": (full, full), "bob": (full - 1, full)}, points


# --------------------------------------------------------------------------- bad input

BAD_SETTINGS = [
    ({"LECTUREKIT_HUB_PORT": "80a"}, "LECTUREKIT_HUB_PORT='80a' is not valid: a port number"),
    ({"LECTUREKIT_HUB_PASSWORD": "short"}, "LECTUREKIT_HUB_PASSWORD='*****' is not valid: "
                                           "a password of at least 8 characters"),
    ({"LECTUREKIT_MODEL": "resnet"}, "LECTUREKIT_MODEL='resnet' is not valid: one of auto,"),
]


@pytest.mark.parametrize(("settings", "message"), BAD_SETTINGS,
                         ids=[next(iter(settings)) for settings, _ in BAD_SETTINGS])
def test_a_wrong_setting_stops_the_hub_with_one_line(tmp_path: Path, settings: dict[str, str],
                                                     message: str) -> None:
    """deploy/jupyterhub_config.py read by jupyterhub with one wrong setting: exit code 1 and
    a last line that names the variable, the value and what is valid (about 3 s each)."""
    pytest.importorskip("jupyterhub")
    env = _hub_environment(tmp_path, [free_port(), free_port(), free_port()])
    env.update(settings)
    result = subprocess.run([sys.executable, "-m", "jupyterhub", "-f", str(CONFIG)], env=env,
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and lines, result
    assert lines[-1].startswith(f"lecturekit hub: {message}"), result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-2000:]


def test_hub_sh_refuses_another_configuration() -> None:
    """`bash scripts/hub.sh -f other.py` stops before installing anything: exit code 2."""
    result = subprocess.run(["bash", str(ROOT / "scripts" / "hub.sh"), "-f", "other.py"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2, result
    assert result.stderr.startswith("lecturekit hub: -f: the configuration is "
                                    "deploy/jupyterhub_config.py"), result.stderr

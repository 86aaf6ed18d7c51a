"""The inversion explorer in a real browser: JupyterLab, a kernel and headless Chromium.

The widget tests drive the explorers from Python; this one checks what a student
does: open notebooks/05_inversion.ipynb in JupyterLab, run all cells, move the
layer slider with the keyboard and pick another prior, and see the caption and
the reconstruction change. It starts its own JupyterLab on a free port in a
temporary folder (toy model, no token) and Debian's Chromium through Playwright.

Artifacts (a screenshot of the explorer after the slider move; on failure also a
full-page screenshot; the browser console log and the server log) go to
``$LECTUREKIT_BROWSER_ARTIFACTS`` or else ``<tmp_path>/browser-artifacts``; the
test prints the folder. Without /usr/bin/chromium or Playwright it is skipped,
except under ``CI=true``, where it fails and says how to install Chromium.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "05_inversion.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run")
SERVER_START_TIMEOUT_S = 60
SERVER_STOP_TIMEOUT_S = 20
PAGE_TIMEOUT_MS = 60_000          # JupyterLab loaded, kernel idle
RUN_ALL_TIMEOUT_MS = 240_000      # 30-40 s on an idle 2-core machine; room for a busy one
CHANGE_TIMEOUT_MS = 60_000        # one inversion of 80 steps after a control moved

EXPLORER = ".lecturekit-inversion-explorer"
CAPTION = f"{EXPLORER} .lecturekit-caption"
RECONSTRUCTION = f"{EXPLORER} img.lecturekit-reconstruction"

IGNORED_CONSOLE_ERRORS: tuple[str, ...] = ()
"""Substrings of console errors to ignore as unrelated noise. Empty on purpose: with news,
update checks and the extension manager switched off, a clean run logs only two debug
lines (application start, kernel WebSocket), so every console error and every uncaught
page exception fails the test."""


# --------------------------------------------------------------------------- requirements

def _require_browser() -> None:
    """Skip (locally) or fail (CI=true) unless Chromium, Playwright and JupyterLab exist."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"Debian's Chromium at {CHROMIUM}")
    for module in ("playwright", "jupyterlab"):
        try:
            __import__(module)
        except ImportError:
            missing.append(f"the Python package {module}")
    if not missing:
        return
    what = " and ".join(missing)
    if os.environ.get("CI") == "true":
        pytest.fail(f"the browser test needs {what}: run `apt-get install -y chromium` "
                    f"(and `pip install -e '.[test]'` for the Python packages)", pytrace=False)
    pytest.skip(f"browser test skipped: {what} not installed (apt-get install -y chromium)")


# --------------------------------------------------------------------------- JupyterLab

def _free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _copy_notebook(root: Path) -> None:
    """Copy the notebook under test into ``root`` without outputs or saved widget state,
    so that whatever the browser shows was made by this run; the stored figures its
    markdown shows come along (a missing one is a console error)."""
    import shutil

    import nbformat
    notebook = nbformat.read(ROOT / "notebooks" / NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    notebook.metadata.pop("widgets", None)
    nbformat.write(notebook, root / NOTEBOOK)
    shutil.copytree(ROOT / "notebooks" / "figures", root / "figures")


def _write_lab_settings(settings: Path) -> None:
    """User settings that keep JupyterLab quiet: no news or update checks, no toasts."""
    folder = settings / "@jupyterlab" / "apputils-extension"
    folder.mkdir(parents=True)
    (folder / "notification.jupyterlab-settings").write_text(json.dumps(
        {"fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True}))


def _lab_command(port: int, root: Path, settings: Path, workspaces: Path) -> list[str]:
    """The command line of a token-less JupyterLab that opens nothing by itself."""
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
               "--ServerApp.ip=127.0.0.1", "--ServerApp.token=", "--ServerApp.password=",
               f"--ServerApp.root_dir={root}",
               # the clean-up's REST calls (DELETE kernels, POST shutdown) carry no XSRF
               # cookie; the server has no token anyway and listens on 127.0.0.1 only
               "--ServerApp.disable_check_xsrf=True",
               "--LabApp.news_url=None",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--LabApp.extension_manager=readonly",
               "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: the kernel's state
               f"--LabApp.user_settings_dir={settings}",
               f"--LabApp.workspaces_dir={workspaces}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    return command


def _lab_environment(home: Path) -> dict[str, str]:
    """The server's (and so the kernel's) environment: toy model, Agg, private config dirs."""
    env = dict(os.environ, LECTUREKIT_MODEL="toy", MPLBACKEND="Agg")
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        env[name] = str(home / name.lower())
    return env


def _request(url: str, method: str = "GET", timeout: float = 5) -> bytes:
    """The body of an HTTP request to the server."""
    with urllib.request.urlopen(urllib.request.Request(url, method=method),
                                timeout=timeout) as response:
        return response.read()


def _wait_for_server(url: str, process: subprocess.Popen, log: Path) -> None:
    """Poll ``url``/api until it answers; fail at once if the server exits, or after the
    start timeout, quoting the end of the server log."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            _request(f"{url}/api", timeout=2)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        try:
            process.wait(timeout=0.25)  # the pause between polls; returns if the server died
        except subprocess.TimeoutExpired:
            continue
        break
    tail = log.read_text(errors="replace")[-3000:]
    pytest.fail(f"JupyterLab did not answer on {url}/api within {SERVER_START_TIMEOUT_S} s "
                f"(exit code {process.poll()}); end of its log {log}:\n{tail}", pytrace=False)


def _stop_server(url: str, process: subprocess.Popen) -> None:
    """Shut down every kernel and then the server through the REST API; if the server is
    still running after the stop timeout, terminate (then kill) its process group."""
    with contextlib.suppress(OSError, ValueError):
        for kernel in json.loads(_request(f"{url}/api/kernels")):
            _request(f"{url}/api/kernels/{kernel['id']}", method="DELETE", timeout=15)
    with contextlib.suppress(OSError):
        _request(f"{url}/api/shutdown", method="POST")
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            process.wait(timeout=SERVER_STOP_TIMEOUT_S)
            return
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
    process.wait(timeout=SERVER_STOP_TIMEOUT_S)


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """The folder for screenshots and logs ($LECTUREKIT_BROWSER_ARTIFACTS or tmp_path)."""
    folder = Path(os.environ.get("LECTUREKIT_BROWSER_ARTIFACTS") or tmp_path / "browser-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"browser test artifacts: {folder}")
    return folder


@pytest.fixture
def lab_server(tmp_path: Path, artifacts: Path) -> Iterator[str]:
    """A JupyterLab serving a copy of the notebook; yields its base URL, stops it after."""
    _require_browser()
    root, home = tmp_path / "notebooks", tmp_path / "jupyter-home"
    root.mkdir()
    _copy_notebook(root)
    _write_lab_settings(home / "settings")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = artifacts / "jupyterlab.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            _lab_command(port, root, home / "settings", home / "workspaces"), cwd=root,
            env=_lab_environment(home), stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True)  # its own process group, for the clean-up
    try:
        _wait_for_server(url, process, log)
        yield url
    finally:
        _stop_server(url, process)


# --------------------------------------------------------------------------- Chromium

@dataclass
class Browser:
    """The page under test and every console message and uncaught error it produced."""
    page: object
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def record_console(self, message) -> None:
        """Keep one console message; errors (not on the ignore list) also as errors."""
        url = (message.location or {}).get("url")
        line = f"[{message.type}] {message.text}" + (f" ({url})" if url else "")
        self.console.append(line)
        if message.type == "error" and not any(s in message.text for s in IGNORED_CONSOLE_ERRORS):
            self.errors.append(line)

    def record_page_error(self, error) -> None:
        """Keep an uncaught exception of the page."""
        line = f"[pageerror] {error}"
        self.console.append(line)
        self.errors.append(line)

    def save_log(self, folder: Path) -> Path:
        """Write the console log to ``folder``/console.log and return its path."""
        path = folder / "console.log"
        path.write_text("\n".join(self.console) + "\n")
        return path


@pytest.fixture
def browser(tmp_path: Path, artifacts: Path) -> Iterator[Browser]:
    """Headless Chromium with a fresh profile; closed (and its log saved) in every outcome."""
    _require_browser()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tmp_path / "chromium-profile", executable_path=str(CHROMIUM), headless=True,
            args=list(CHROMIUM_FLAGS), viewport={"width": 1400, "height": 1000})
        result = Browser(context.pages[0] if context.pages else context.new_page())
        result.page.on("console", result.record_console)
        result.page.on("pageerror", result.record_page_error)
        try:
            yield result
        finally:
            result.save_log(artifacts)
            context.close()


# --------------------------------------------------------------------------- the steps

def _wait_for_idle_kernel(page) -> None:
    """Wait until the open notebook is connected to a kernel and that kernel is idle (the
    toolbar's status circle reads "idle" before any kernel is attached, so ask the app)."""
    page.wait_for_function(
        """() => {
               const kernel = window.jupyterapp?.shell?.currentWidget?.sessionContext
                                 ?.session?.kernel;
               return kernel?.connectionStatus === "connected" && kernel.status === "idle";
           }""")


def _run_all_cells(page) -> None:
    """Open the notebook's Run menu and choose Run All Cells, as a student would."""
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-content").get_by_role("menuitem", name="Run All Cells",
                                                 exact=True).click()


def _control(explorer, kind: str, description: str):
    """The explorer's control of CSS class ``kind`` whose label reads ``description``."""
    label = explorer.page.locator(".widget-label", has_text=re.compile(f"^{description}$"))
    return explorer.locator(kind).filter(has=label)


def _explorer_state(page) -> dict[str, str]:
    """The explorer's caption text and reconstruction image source right now."""
    return page.evaluate(
        """([caption, image]) => ({caption: document.querySelector(caption).innerText.trim(),
                                   src: document.querySelector(image).src})""",
        [CAPTION, RECONSTRUCTION])


def _wait_for_new_result(page, before: dict[str, str]) -> dict[str, str]:
    """Wait until caption and image both differ from ``before`` and the caption is a
    finished result (not the "inverting …" note); return the new state."""
    page.wait_for_function(
        """([caption, image, before]) => {
               const text = document.querySelector(caption).innerText.trim();
               const src = document.querySelector(image).src;
               return text !== before.caption && src !== before.src
                      && text.includes("SSIM") && !text.startsWith("inverting");
           }""",
        arg=[CAPTION, RECONSTRUCTION, before], timeout=CHANGE_TIMEOUT_MS)
    return _explorer_state(page)


@contextlib.contextmanager
def _evidence_on_failure(browser: Browser, folder: Path) -> Iterator[None]:
    """On any failure inside, save a full-page screenshot, one of the explorer (if it is
    on the page) and the console log to ``folder`` and fail with a message that names it."""
    try:
        yield
    except Exception as error:
        with contextlib.suppress(Exception):
            browser.page.screenshot(path=folder / "failure-full-page.png", full_page=True)
        with contextlib.suppress(Exception):
            browser.page.locator(EXPLORER).screenshot(path=folder / "failure-explorer.png",
                                                      timeout=5_000)
        browser.save_log(folder)
        message = (f"{type(error).__name__}: {error}\nscreenshots, console log and server log "
                   f"in {folder}")
        raise pytest.fail.Exception(message, pytrace=False) from None


def test_inversion_explorer_reacts_in_jupyterlab(lab_server: str, browser: Browser,
                                                 artifacts: Path) -> None:
    """Run notebook 05 in JupyterLab, then move the layer slider by keyboard and pick the
    TV prior: each time the caption and the reconstruction must change (about 45 s)."""
    page = browser.page
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    with _evidence_on_failure(browser, artifacts):
        page.goto(f"{lab_server}/lab/tree/{NOTEBOOK}")
        _wait_for_idle_kernel(page)
        _run_all_cells(page)
        explorer = page.locator(EXPLORER)
        explorer.wait_for(state="visible", timeout=RUN_ALL_TIMEOUT_MS)
        page.locator(CAPTION).filter(has_text="SSIM").wait_for()
        first = _explorer_state(page)
        assert first["caption"].startswith("conv1"), \
            f"the explorer should open on conv1; its caption reads {first['caption']!r}"

        _control(explorer, ".widget-slider", "layer").locator(".noUi-handle").focus()
        page.keyboard.press("ArrowRight")
        moved = _wait_for_new_result(page, first)
        explorer.screenshot(path=artifacts / "explorer-after-slider.png")
        assert moved["caption"].startswith("relu1"), \
            f"ArrowRight on the layer slider should show relu1; caption: {moved['caption']!r}"

        _control(explorer, ".widget-dropdown", "prior").locator("select").select_option("tv")
        prior = _wait_for_new_result(page, moved)
        assert "prior tv" in prior["caption"] and prior["caption"].startswith("relu1"), \
            f"choosing prior tv should show relu1 with tv; caption: {prior['caption']!r}"
    log = browser.save_log(artifacts)
    assert not browser.errors, (f"the browser console shows JavaScript errors (full log "
                                f"{log}):\n" + "\n".join(browser.errors))

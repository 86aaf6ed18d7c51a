"""What the browser tests share: a Jupyter server of our own, headless Chromium, evidence.

Used by tests/test_browser.py (JupyterLab) and tests/test_present.py (Voilà).
A test starts a server with :func:`serve` on a free port with private Jupyter
folders, drives Debian's Chromium through Playwright with the ``browser``
fixture, and on failure leaves screenshots and logs in the ``artifacts``
folder (``$LECTUREKIT_BROWSER_ARTIFACTS``, else ``<tmp_path>/browser-artifacts``),
which it prints. Without /usr/bin/chromium or Playwright a browser test is
skipped, except under ``CI=true``, where it fails and says how to install it.
Test modules import the fixtures by name (``from browser_support import
artifacts, browser``) so that pytest finds them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run")
SERVER_START_TIMEOUT_S = 90
SERVER_STOP_TIMEOUT_S = 20
CHANGE_TIMEOUT_MS = 60_000        # one inversion of 80 steps after a control moved

INVERSION = ".lecturekit-inversion-explorer"
INVERSION_CAPTION = f"{INVERSION} .lecturekit-caption"
RECONSTRUCTION = f"{INVERSION} img.lecturekit-reconstruction"

IGNORED_CONSOLE_ERRORS: tuple[str, ...] = ()
"""Substrings of console errors to ignore as unrelated noise. Empty on purpose: with news,
update checks and the extension manager switched off, a clean run logs only debug lines,
so every console error and every uncaught page exception fails a test."""


# --------------------------------------------------------------------------- requirements

def require_browser(*modules: str) -> None:
    """Skip (locally) or fail (CI=true) unless Chromium, Playwright and ``modules`` exist."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"Debian's Chromium at {CHROMIUM}")
    for module in ("playwright", *modules):
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


# --------------------------------------------------------------------------- servers

def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def jupyter_environment(home: Path, **variables: str) -> dict[str, str]:
    """An environment for a Jupyter process (and so its kernels): toy model, Agg, private
    Jupyter and IPython folders under ``home`` (so no user setting leaks in), plus
    ``variables``."""
    env = dict(os.environ, LECTUREKIT_MODEL="toy", MPLBACKEND="Agg")
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        env[name] = str(home / name.lower())
    env.update(variables)
    return env


def request(url: str, method: str = "GET", timeout: float = 5) -> bytes:
    """The body of an HTTP request to a server."""
    with urllib.request.urlopen(urllib.request.Request(url, method=method),
                                timeout=timeout) as response:
        return response.read()


def _wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    """Poll ``url`` until it answers; fail at once if the server exits, or after the start
    timeout, quoting the end of the server log."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            request(url, timeout=2)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        try:
            process.wait(timeout=0.25)  # the pause between polls; returns if the server died
        except subprocess.TimeoutExpired:
            continue
        break
    tail = log.read_text(errors="replace")[-3000:]
    pytest.fail(f"the server did not answer on {url} within {SERVER_START_TIMEOUT_S} s "
                f"(exit code {process.poll()}); end of its log {log}:\n{tail}", pytrace=False)


def shut_down_kernels(url: str) -> None:
    """Shut down every kernel of the Jupyter server at ``url`` (REST API)."""
    with contextlib.suppress(OSError, ValueError):
        for kernel in json.loads(request(f"{url}/api/kernels")):
            request(f"{url}/api/kernels/{kernel['id']}", method="DELETE", timeout=15)


def _stop(process: subprocess.Popen, rest_url: str | None) -> None:
    """Shut down a server: through the Jupyter REST API when ``rest_url`` is given (every
    kernel, then the server); if it still runs, terminate (and at last kill) its process
    group. Kernels that lose their server exit by themselves (ipykernel watches its parent)."""
    if rest_url:
        shut_down_kernels(rest_url)
        with contextlib.suppress(OSError):
            request(f"{rest_url}/api/shutdown", method="POST")
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=SERVER_STOP_TIMEOUT_S)
            return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=SERVER_STOP_TIMEOUT_S)
            return


@contextlib.contextmanager
def serve(command: list[str], ready_url: str, log: Path, cwd: Path, env: dict[str, str],
          rest_url: str | None = None) -> Iterator[subprocess.Popen]:
    """Run ``command`` (a server) in its own process group with its output in ``log``; wait
    until ``ready_url`` answers, yield the process, and stop the server in every outcome
    (through the REST API at ``rest_url`` when given)."""
    with open(log, "w") as output:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_until_up(ready_url, process, log)
        yield process
    finally:
        _stop(process, rest_url)


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

    def assert_no_errors(self, folder: Path) -> None:
        """Fail, naming the saved console log, if the page logged an error."""
        log = self.save_log(folder)
        assert not self.errors, (f"the browser console shows JavaScript errors (full log "
                                 f"{log}):\n" + "\n".join(self.errors))


def artifacts_folder(default: Path) -> Path:
    """$LECTUREKIT_BROWSER_ARTIFACTS, else ``default``/browser-artifacts; created."""
    folder = Path(os.environ.get("LECTUREKIT_BROWSER_ARTIFACTS") or default / "browser-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """The folder for a test's screenshots and logs (:func:`artifacts_folder`), printed."""
    folder = artifacts_folder(tmp_path)
    print(f"browser test artifacts: {folder}")
    return folder


@pytest.fixture
def browser(tmp_path: Path, artifacts: Path) -> Iterator[Browser]:
    """Headless Chromium with a fresh profile; closed (and its log saved) in every outcome."""
    require_browser()
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


def save_evidence(browser: Browser, folder: Path, *parts: str) -> None:
    """Save a full-page screenshot, one of each CSS selector in ``parts`` that is on the
    page, and the console log to ``folder`` (created), as far as the page still answers."""
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(Exception):
        browser.page.screenshot(path=folder / "failure-full-page.png", full_page=True)
    for number, part in enumerate(parts):
        with contextlib.suppress(Exception):
            browser.page.locator(part).first.screenshot(
                path=folder / f"failure-part{number}.png", timeout=5_000)
    browser.save_log(folder)


def unavailable(what: str, how: str) -> None:
    """Skip (locally) or fail (CI=true) a test that needs ``what``, saying ``how`` to get it."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"the test needs {what}: {how}", pytrace=False)
    pytest.skip(f"skipped: {what} not installed ({how})")


@contextlib.contextmanager
def evidence_on_failure(browser: Browser, folder: Path, *parts: str) -> Iterator[None]:
    """On any failure inside, save a full-page screenshot, one of each CSS selector in
    ``parts`` that is on the page, and the console log to ``folder``, and fail with a
    message that names it."""
    try:
        yield
    except Exception as error:
        save_evidence(browser, folder, *parts)
        message = (f"{type(error).__name__}: {error}\nscreenshots, console log and server log "
                   f"in {folder}")
        raise pytest.fail.Exception(message, pytrace=False) from None


# --------------------------------------------------------------------------- the explorers

def control(explorer, kind: str, description: str):
    """The explorer's control of CSS class ``kind`` whose label reads ``description``."""
    label = explorer.page.locator(".widget-label", has_text=re.compile(f"^{description}$"))
    return explorer.locator(kind).filter(has=label)


def inversion_state(page) -> dict[str, str]:
    """The inversion explorer's caption text and reconstruction image source right now."""
    return page.evaluate(
        """([caption, image]) => ({caption: document.querySelector(caption).innerText.trim(),
                                   src: document.querySelector(image).src})""",
        [INVERSION_CAPTION, RECONSTRUCTION])


def wait_for_new_inversion(page, before: dict[str, str]) -> dict[str, str]:
    """Wait until caption and image both differ from ``before`` and the caption is a
    finished result (not the "inverting …" note); return the new state."""
    page.wait_for_function(
        """([caption, image, before]) => {
               const text = document.querySelector(caption).innerText.trim();
               const src = document.querySelector(image).src;
               return text !== before.caption && src !== before.src
                      && text.includes("SSIM") && !text.startsWith("inverting");
           }""",
        arg=[INVERSION_CAPTION, RECONSTRUCTION, before], timeout=CHANGE_TIMEOUT_MS)
    return inversion_state(page)


def move_layer_slider(page) -> dict[str, str]:
    """Press ArrowRight on the inversion explorer's layer slider (conv1 -> relu1) and return
    the explorer's state once the new inversion is shown."""
    explorer = page.locator(INVERSION)
    first = inversion_state(page)
    assert first["caption"].startswith("conv1"), \
        f"the explorer should open on conv1; its caption reads {first['caption']!r}"
    control(explorer, ".widget-slider", "layer").locator(".noUi-handle").focus()
    page.keyboard.press("ArrowRight")
    moved = wait_for_new_inversion(page, first)
    assert moved["caption"].startswith("relu1"), \
        f"ArrowRight on the layer slider should show relu1; caption: {moved['caption']!r}"
    return moved

"""The course in a real browser: JupyterLab as `bash scripts/lab.sh` starts it, and Chromium.

The widget tests drive the explorers from Python; these tests check what a student
sees. One JupyterLab, started by ``python -m lecturekit lab --hide-solutions`` (the
command lab.sh runs, with the teacher's option) on a copy of the course folder (toy
model, no token), serves three tests:

* the landing page: the URL the server prints and the one its browser opens are
  both START_HERE.ipynb's; it links every lecture notebook and every exercise, the file
  browser lists notebooks/ and exercises/ but not the hidden solutions/, and a
  click on an exercise's link opens that exercise with its gaps; the Lab is a
  student's (nbgrader's assignment list but none of its teacher tools, no news prompt);
* a lecture notebook opened with its stored outputs shows no unsaved changes and is
  byte for byte the same file after it is closed;
* notebook 05's setup and explorer cells run from the Run menu: moving the inversion
  explorer's layer slider and its prior changes the caption and the reconstruction.

A second Lab, started with ``--teacher``, is asked for its page config only: nbgrader's
teacher tools are all there. The servers' logs go to the artifacts folder too. Helpers,
fixtures and the rules for artifacts and skipping are in tests/browser_support.py.
"""

from __future__ import annotations

import html
import json
import platform
import re
import sys
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from browser_support import artifacts, browser  # noqa: F401  (fixtures)
from browser_support import (INVERSION, INVERSION_CAPTION, ROOT, Browser, artifacts_folder,
                             control, evidence_on_failure, free_port, jupyter_environment,
                             move_layer_slider, request, require_browser, serve,
                             shut_down_kernels, wait_for_new_inversion)

from lecturekit.course.lab import LANDING_PAGE, landing_url_path
from lecturekit.course.regions import render

pytestmark = pytest.mark.browser

NOTEBOOK = "notebooks/05_inversion.ipynb"
AS_STORED = "notebooks/00_getting_started.ipynb"  # copied with its outputs and metadata
EXPLORER_CALL = "lk.widgets.inversion_explorer("
EXERCISE = "exercises/hw1_relu_rules.ipynb"
PAGE_TIMEOUT_MS = 60_000          # JupyterLab loaded, kernel idle
RUN_ALL_TIMEOUT_MS = 240_000      # about 15 s on an idle 2-core machine; room for a busy one


def _copy_without_outputs(source: Path, target: Path) -> None:
    """Copy a notebook without outputs or saved widget state, so that whatever the browser
    shows was made by this run. Of NOTEBOOK only the setup cell and the explorer's cell
    are kept: nbval runs the whole notebook, and its other cells would add a minute here."""
    notebook = nbformat.read(source, as_version=4)
    if source == ROOT / NOTEBOOK:
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        notebook.cells = [code[0]] + [cell for cell in code if EXPLORER_CALL in cell.source]
        assert len(notebook.cells) == 2, f"{NOTEBOOK} should call {EXPLORER_CALL} once"
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    notebook.metadata.pop("widgets", None)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)


def _course_copy(root: Path) -> None:
    """The course folder as a student's checkout has it: the landing page, the lecture
    notebooks, the exercises and the solutions; AS_STORED as it is stored, with its outputs
    and metadata (:func:`_copy_as_stored`)."""
    for pattern in (LANDING_PAGE, "notebooks/*.ipynb", "exercises/*.ipynb", "solutions/*.ipynb"):
        for path in ROOT.glob(pattern):
            _copy_without_outputs(path, root / path.relative_to(ROOT))
    _copy_as_stored(ROOT / AS_STORED, root / AS_STORED)


def _copy_as_stored(source: Path, target: Path) -> None:
    """Copy a notebook byte for byte, except for a stored language_info.version other than
    this Python's: the Lab writes the running kernel's version, so another Python would
    change the file for a reason that has nothing to do with the kit."""
    text = source.read_text(encoding="utf-8")
    notebook = json.loads(text)
    info = notebook["metadata"].get("language_info", {})
    if info.get("version", platform.python_version()) != platform.python_version():
        info["version"] = platform.python_version()
        text = render(notebook)
    target.write_text(text, encoding="utf-8")


def _lab_command(port: int, root: Path, home: Path, *options: str) -> list[str]:
    """lab.sh's command with ``options`` (the teacher's --hide-solutions or --teacher), plus
    what a test needs: a token-less server on 127.0.0.1 that opens no browser, with private
    settings and workspaces. News and update checks are left as the kit sets them."""
    return [sys.executable, "-m", "lecturekit", "lab", *options, f"--root={root}",
            "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
            "--ServerApp.token=", "--ServerApp.password=",
            # the clean-up's REST calls (DELETE kernels, POST shutdown) carry no XSRF
            # cookie; the server has no token anyway and listens on 127.0.0.1 only
            "--ServerApp.disable_check_xsrf=True",
            "--LabApp.extension_manager=readonly",
            "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: the kernel's state
            f"--LabApp.user_settings_dir={home / 'settings'}",
            f"--LabApp.workspaces_dir={home / 'workspaces'}"]


def _page_config(url: str) -> dict:
    """The page config a Lab at ``url`` hands its browser (the JSON in its /lab page)."""
    page = request(f"{url}/lab").decode()
    match = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                      page, re.S)
    assert match, f"no page config in {url}/lab"
    return json.loads(match.group(1))


class Lab:
    """A running JupyterLab: its base URL, its course folder, its private runtime folder and
    its log."""

    def __init__(self, url: str, root: Path, runtime: Path, log: Path) -> None:
        self.url, self.root, self.runtime, self.log = url, root, runtime, log

    def opened_url(self) -> str:
        """The URL the server would open in a browser (read from the jpserver-…-open.html
        file it writes into its runtime folder)."""
        pages = sorted(self.runtime.glob("jpserver-*open.html"))
        assert pages, f"the server wrote no browser-open file into {self.runtime}"
        match = re.search(r'href="([^"]+)"', pages[0].read_text())
        assert match, f"no link in {pages[0]}"
        return html.unescape(match.group(1))

    def printed_url(self) -> str:
        """The first URL of this server that it printed (what a student copies from the
        terminal)."""
        urls = re.findall(rf"{re.escape(self.url)}\S*", self.log.read_text(errors="replace"))
        assert urls, f"the server printed no URL starting with {self.url}; its log: {self.log}"
        return urls[0]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """One JupyterLab for this module's tests, on a copy of the course folder."""
    require_browser("jupyterlab")
    base = tmp_path_factory.mktemp("lab")
    root, home = base / "course", base / "jupyter-home"
    _course_copy(root)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = jupyter_environment(home)
    command = _lab_command(port, root, home, "--hide-solutions")
    log = artifacts_folder(base) / "jupyterlab.log"
    with serve(command, f"{url}/api", log, root, env, rest_url=url):
        yield Lab(url, root, Path(env["JUPYTER_RUNTIME_DIR"]), log)


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
    """Open the notebook's Run menu and choose Run All Cells, as a student would; choose it
    once more if no cell has started after 30 s (seen once in a full run: the Lab replaced
    the kernel's WebSocket just then and the cells were never sent)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    started = """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                       .some(prompt => /\\[(\\*|\\d+)\\]/.test(prompt.innerText))"""
    for attempt in range(2):
        page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-content").get_by_role("menuitem", name="Run All Cells",
                                                     exact=True).click()
        try:
            page.wait_for_function(started, timeout=30_000)
            return
        except PlaywrightTimeout:
            if attempt:
                raise


def test_landing_page_leads_to_the_lectures_and_the_exercises(lab: Lab, browser: Browser,
                                                              artifacts: Path) -> None:
    """Open what lab.sh would open, read the landing page's links and the file browser, and
    follow the link to the first exercise (about 15 s)."""
    page = browser.page
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    landing = f"{lab.url}{landing_url_path()}"
    assert lab.printed_url() == landing, "the URL the server prints should open the landing page"
    assert lab.opened_url() == landing, "the browser should open on the landing page"
    with evidence_on_failure(browser, artifacts, ".jp-NotebookPanel"):
        page.goto(lab.printed_url())
        page.wait_for_function(f"() => window.jupyterapp?.shell?.currentWidget?.context?.path "
                               f"=== {LANDING_PAGE!r}")
        # JupyterLab points a relative link at the file's download URL (/files/<path>) and
        # opens the file in the Lab when the link is clicked
        exercise_link = page.locator(f'.jp-RenderedMarkdown a[href*="/files/{EXERCISE}?"]')
        exercise_link.wait_for()  # the markdown is rendered (the lecture's links come first)
        links = page.locator(".jp-RenderedMarkdown a").evaluate_all(
            """anchors => anchors.map(a => decodeURIComponent(new URL(a.href).pathname)
                                            .replace(/^\\/files\\//, ""))""")
        wanted = sorted(str(path.relative_to(ROOT)) for pattern in
                        ("notebooks/*.ipynb", "exercises/*.ipynb") for path in ROOT.glob(pattern))
        missing = [path for path in wanted if path not in links]
        assert not missing, f"the landing page does not link {missing}; its links: {links}"

        listing = page.locator(".jp-DirListing-item .jp-DirListing-itemText")
        listing.filter(has_text="exercises").wait_for()
        names = set(listing.all_inner_texts())
        assert {"notebooks", "exercises", LANDING_PAGE} <= names, names
        assert "solutions" not in names, f"--hide-solutions left solutions/ listed: {names}"

        exercise_link.click()
        page.wait_for_function(f"() => window.jupyterapp?.shell?.currentWidget?.context?.path "
                               f"=== {EXERCISE!r}")
        gap = page.locator(".jp-NotebookPanel:visible .jp-Cell",
                           has_text="raise NotImplementedError()").first
        gap.wait_for()
        assert "# YOUR CODE HERE" in gap.inner_text()
        page.screenshot(path=artifacts / "exercise-opened-from-landing-page.png")
        _assert_a_students_lab(page, lab.url)
    browser.assert_no_errors(artifacts)
    shut_down_kernels(lab.url)  # the two notebooks' idle kernels: not needed by the next test


NBGRADER_TEACHER_PLUGINS = {f"@jupyter/nbgrader:{name}" for name in (
    "menu", "formgrader", "create-assignment", "validate-assignment", "course-list")}
NEWS = "@jupyterlab/apputils-extension:notification"


def _news_default(url: str) -> str:
    """The default of the Lab's fetchNews setting ("none" makes the Lab ask about news)."""
    plugin = json.loads(request(f"{url}/lab/api/settings/{NEWS}"))
    return plugin["schema"]["properties"]["fetchNews"]["default"]


def _assert_a_students_lab(page, url: str) -> None:
    """A student's Lab, seen with an exercise open: the Assignments menu but not nbgrader's
    own menu, no Create Assignment sidebar, no Validate button, no news prompt; on the
    server, no formgrader."""
    page.locator(".lm-MenuBar-item", has_text=re.compile("^Assignments$")).wait_for()
    menus = page.locator(".lm-MenuBar-item").all_inner_texts()
    assert "Nbgrader" not in menus, f"nbgrader's teacher menu is shown to students: {menus}"
    sidebar = page.locator(".jp-SideBar .lm-TabBar-tab").evaluate_all(
        "tabs => tabs.map(tab => tab.title)")
    assert not [title for title in sidebar if "Create Assignment" in title], sidebar
    toolbar = page.locator(".jp-NotebookPanel:visible .jp-NotebookPanel-toolbar").inner_text()
    assert "Validate" not in toolbar, f"nbgrader's Validate button is shown: {toolbar!r}"
    toasts = page.locator(".Toastify__toast").all_inner_texts()
    assert not [text for text in toasts if "news" in text], f"a news prompt: {toasts}"
    assert _news_default(url) == "false"
    disabled = set(_page_config(url)["disabledExtensions"])
    assert NBGRADER_TEACHER_PLUGINS <= disabled, disabled
    with pytest.raises(urllib.error.HTTPError, match="404"):
        request(f"{url}/formgrader")


def test_the_teachers_lab_keeps_nbgraders_tools(tmp_path: Path) -> None:
    """`lab --teacher` starts the Lab with nbgrader's teacher tools: its plugins are handed to
    the browser and none is disabled, the formgrader answers; no news prompt either (a
    server and its page config, no browser: about 10 s)."""
    require_browser("jupyterlab", "nbgrader")
    port, root, home = free_port(), tmp_path / "course", tmp_path / "jupyter-home"
    (root / "notebooks").mkdir(parents=True)
    url = f"http://127.0.0.1:{port}"
    command = _lab_command(port, root, home, "--teacher")
    log = artifacts_folder(tmp_path) / "jupyterlab-teacher.log"
    with serve(command, f"{url}/api", log, root, jupyter_environment(home), rest_url=url):
        config = _page_config(url)
        request(f"{url}/formgrader")  # answers (200), where a student's Lab has no formgrader
        news = _news_default(url)
    assert "@jupyter/nbgrader" in [extension["name"] for extension in
                                   config["federated_extensions"]]
    assert not NBGRADER_TEACHER_PLUGINS & set(config["disabledExtensions"])
    assert news == "false"


def test_opening_a_stored_notebook_changes_nothing(lab: Lab, browser: Browser,
                                                   artifacts: Path) -> None:
    """Open a lecture notebook with its stored outputs and metadata, let its kernel start
    (when the Lab writes the kernel's metadata into it), close it: no unsaved-changes mark
    at any point, and the file is byte for byte what it was (about 10 s)."""
    page = browser.page
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    before = (lab.root / AS_STORED).read_bytes()
    with evidence_on_failure(browser, artifacts, ".jp-NotebookPanel"):
        page.goto(f"{lab.url}/lab/tree/{AS_STORED}?reset")
        _wait_for_idle_kernel(page)
        dirty = page.evaluate(
            """async () => {
                   const panel = window.jupyterapp.shell.currentWidget;
                   const kernel = panel.sessionContext.session.kernel;
                   await Promise.all([kernel.info, kernel.spec]);  // the Lab's updates ran
                   return panel.context.model.dirty;
               }""")
        tab = page.locator(".lm-TabBar-tab", has_text=Path(AS_STORED).name)
        assert not dirty and "jp-mod-dirty" not in (tab.get_attribute("class") or ""), \
            f"{AS_STORED} opens with unsaved changes: its stored metadata is not what the " \
            f"Lab writes"
        # close once the kernel has answered every request (the debugger's state request
        # among them: closing before its reply logs an error)
        page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext"
                               ".session.kernel._futures.size === 0")
        page.evaluate("() => window.jupyterapp.commands.execute('application:close')")
        tab.wait_for(state="detached")
    browser.assert_no_errors(artifacts)
    shut_down_kernels(lab.url)
    assert (lab.root / AS_STORED).read_bytes() == before, f"the Lab rewrote {AS_STORED}"


def test_inversion_explorer_reacts_in_jupyterlab(lab: Lab, browser: Browser,
                                                 artifacts: Path) -> None:
    """Run notebook 05's setup and explorer in JupyterLab, then move the layer slider by
    keyboard and pick the TV prior: each time the caption and the reconstruction must change."""
    page = browser.page
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    with evidence_on_failure(browser, artifacts, INVERSION):
        page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}?reset")  # only this notebook, no restored tabs
        _wait_for_idle_kernel(page)
        _run_all_cells(page)
        explorer = page.locator(INVERSION)
        explorer.wait_for(state="visible", timeout=RUN_ALL_TIMEOUT_MS)
        page.locator(INVERSION_CAPTION).filter(has_text="SSIM").wait_for()
        moved = move_layer_slider(page)
        explorer.screenshot(path=artifacts / "explorer-after-slider.png")

        control(explorer, ".widget-dropdown", "prior").locator("select").select_option("tv")
        prior = wait_for_new_inversion(page, moved)
        assert "prior tv" in prior["caption"] and prior["caption"].startswith("relu1"), \
            f"choosing prior tv should show relu1 with tv; caption: {prior['caption']!r}"
    browser.assert_no_errors(artifacts)

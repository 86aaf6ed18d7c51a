"""The presentation mode: the page, the figure gallery, and Voilà serving the page to Chromium.

The browser test runs docs/teaching.md's command line
``python -m lecturekit present --model toy --no-browser --port 8866`` (on a free port,
listening on 127.0.0.1 only) from a folder that is not the checkout, with
``LECTUREKIT_MODEL`` set to another network so that ``--model`` has to win. It checks
that the page shows the opening figure stored in its markdown, the explorers and the
gallery but no code, and that moving the
inversion explorer's layer slider changes the picture and the caption; then that the
kernels of four more visits end when their tabs close, while the open page keeps its
kernel (the server's REST API and its kernel processes). Helpers and the rules for
artifacts and skipping are in tests/browser_support.py.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import shlex
import subprocess
import sys
import time
import urllib.error
from datetime import datetime, timezone
from pathlib import Path

import psutil
import pytest
from browser_support import artifacts, browser  # noqa: F401  (fixtures)
from browser_support import (INVERSION, INVERSION_CAPTION, RECONSTRUCTION, Browser,
                             artifacts_folder, evidence_on_failure, free_port,
                             jupyter_environment, move_layer_slider, request, require_browser,
                             serve)
from readme_support import TEACHING, commands, section

from lecturekit.course import present
from lecturekit.course.present_page import OPENING_ALT

DOCUMENTED_COMMAND = "python -m lecturekit present --model toy --no-browser --port"
LECTURE_HALL = "Showing the explorers in a lecture hall"  # the section of docs/teaching.md
PAGE_TIMEOUT_MS = 300_000   # Voilà runs the whole page (model, two explorers, one figure) first


def _code_cells(page: dict) -> list[str]:
    return ["".join(cell["source"]) for cell in page["cells"] if cell["cell_type"] == "code"]


def test_the_page_ships_with_the_package_and_builds_everything_through_lk():
    page = json.loads(present.PAGE.read_text(encoding="utf-8"))
    code = _code_cells(page)
    imports = [line for text in code for line in text.splitlines()
               if line.startswith(("import ", "from "))]
    assert imports == ["import lecturekit as lk"]
    text = "\n".join(code)
    for call in ("lk.load_model()", "lk.widgets.inversion_explorer(",
                 "lk.widgets.dream_explorer(", "lk.widgets.figure_gallery("):
        assert call in text, call
    assert all(not cell.get("outputs") for cell in page["cells"] if cell["cell_type"] == "code")
    assert present.PAGE.parent == Path(present.__file__).parent  # package data, not the checkout


def test_the_docs_show_the_command_the_browser_test_runs():
    assert f"{DOCUMENTED_COMMAND} 8866" in commands(section(LECTURE_HALL, TEACHING), "python")


def _options(command: list[str], name: str) -> list[str]:
    """The values of every ``--name=value`` in ``command``."""
    return [arg.split("=", 1)[1] for arg in command if arg.startswith(f"--{name}=")]


def test_voila_serves_the_page_with_the_options_given():
    command = present.voila_command(["--port=8866", "--no-browser"])
    assert command[:4] == [sys.executable, "-m", "voila", str(present.PAGE)]
    assert command[-2:] == ["--port=8866", "--no-browser"]  # last: the user's options win
    allowed = _options(command, "VoilaConfiguration.extension_allowlist")
    assert "@jupyter-widgets/jupyterlab-manager" in allowed and "@jupyter/nbgrader" not in allowed


def test_a_kernel_without_a_page_is_culled_and_an_open_pages_never():
    command = present.voila_command(cull_after=120)
    assert _options(command, "MappingKernelManager.cull_idle_timeout") == ["120"]
    assert _options(command, "MappingKernelManager.cull_interval") == ["60"]
    assert _options(command, "MappingKernelManager.cull_connected") == ["False"]
    assert present.cull_options(3)[1] == "--MappingKernelManager.cull_interval=1"
    assert present.cull_options(0)[0] == "--MappingKernelManager.cull_idle_timeout=0"  # never
    assert present.CULL_AFTER == 300


def test_voila_reads_the_kits_hook_after_its_own_configuration():
    from jupyter_core.paths import jupyter_config_path

    paths = _options(present.voila_command(), "Voila.config_file_paths")
    assert paths == [os.getcwd(), *jupyter_config_path(), str(present.CONFIG)]
    assert (present.CONFIG / "voila.py").is_file()


def test_the_hook_sets_the_xsrf_cookie_and_loads_no_torch_into_the_server():
    from traitlets.config.loader import PyFileConfigLoader

    hook = PyFileConfigLoader("voila.py", path=str(present.CONFIG)).load_config() \
        .VoilaConfiguration.prelaunch_hook

    class Handler:  # Tornado sets the cookie when a handler reads its xsrf_token
        read = 0

        @property
        def xsrf_token(self):
            Handler.read += 1
            return b"token"

    assert hook(Handler(), notebook={"cells": []}, cwd=".") is None and Handler.read == 1
    tree = ast.parse((present.CONFIG / "voila.py").read_text(encoding="utf-8"))
    assert not [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]


def test_present_refuses_a_negative_cull_time(capsys):
    from lecturekit.course import cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["present", "--cull-after", "-1"])
    assert exit_info.value.code == 2
    assert "--cull-after: must be a whole number of seconds >= 0, got '-1'" in \
        capsys.readouterr().err


def test_the_gallery_draws_each_figure_once(toy_model):
    import lecturekit as lk

    gallery = lk.widgets.figure_gallery(toy_model, ["rule_comparison", "saliency_overlay"])
    first = bytes(gallery.view.value)
    assert first.startswith(b"\x89PNG") and gallery.compute_count == 1
    assert gallery.text.startswith("rule comparison (toy model): The class score sent back")
    gallery.choice.value = "saliency_overlay"
    assert gallery.compute_count == 2 and bytes(gallery.view.value) != first
    assert gallery.text.startswith("saliency overlay (toy model): Simonyan et al.")
    gallery.choice.value = "rule_comparison"
    assert gallery.compute_count == 2 and bytes(gallery.view.value) == first  # from the cache


def test_the_gallery_names_the_figures_it_knows(toy_model):
    from lecturekit.ui.widgets import FigureGallery

    with pytest.raises(ValueError, match="unknown figure 'nope'; available figures: "
                                         "rule_comparison, saliency_overlay"):
        FigureGallery(toy_model, ["nope"], auto=False)
    with pytest.raises(ValueError, match="names is empty; name at least one of: rule_comparison"):
        FigureGallery(toy_model, [], auto=False)


def test_present_without_voila_says_how_to_install_it(monkeypatch, capsys):
    from lecturekit.course import cli

    monkeypatch.setitem(sys.modules, "voila", None)  # `import voila` raises ImportError
    assert cli.main(["present", "--model", "toy"]) == 2
    assert "pip install voila" in capsys.readouterr().err


CULL_AFTER_S = 3           # the test's --cull-after: culling shows within seconds
KERNELS_GONE_TIMEOUT_S = 120


def _kernel_id(page) -> str:
    """The id of the kernel Voilà started for ``page`` (from the page's config)."""
    return page.evaluate("() => JSON.parse(document.getElementById('jupyter-config-data')"
                         ".textContent).kernelId")


def _kernel(url: str, kernel_id: str) -> dict | None:
    """The server's model of a kernel (REST API), None when the server has no such kernel."""
    try:
        return json.loads(request(f"{url}/api/kernels/{kernel_id}"))
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def _idle_seconds(model: dict) -> float:
    """Seconds since the kernel's last activity."""
    last = datetime.fromisoformat(model["last_activity"].replace("Z", "+00:00"))
    return (datetime.now(timezone.utc) - last).total_seconds()


def _kernel_processes(server: subprocess.Popen) -> int:
    """How many live kernel processes the server has."""
    count = 0
    for child in psutil.Process(server.pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            count += (child.status() != psutil.STATUS_ZOMBIE
                      and "ipykernel" in " ".join(child.cmdline()))
    return count


def _wait_until(condition, what: str, timeout_s: float = KERNELS_GONE_TIMEOUT_S) -> None:
    """Poll ``condition`` twice a second until it holds; fail naming ``what`` after
    ``timeout_s`` (a limit for a stuck server, not a measurement)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout_s} s", pytrace=False)
        time.sleep(0.5)


def _visit(browser: Browser, url: str):
    """A new tab on the page, shown until its first picture: (the tab, its kernel's id)."""
    tab = browser.page.context.new_page()
    tab.on("console", browser.record_console)
    tab.on("pageerror", browser.record_page_error)
    tab.set_default_timeout(PAGE_TIMEOUT_MS)
    tab.goto(url, wait_until="commit")
    tab.locator(RECONSTRUCTION).wait_for()
    return tab, _kernel_id(tab)


@pytest.mark.browser
def test_present_serves_live_explorers_without_code(tmp_path: Path, browser: Browser,
                                                    artifacts: Path) -> None:
    """`python -m lecturekit present --model toy` in Chromium: the opening figure, explorers,
    gallery, no code;
    the layer slider moves the inversion. Then four more visits, each closed: two as a tab
    is closed (the page asks the server to end its kernel), two as a crashed tab leaves
    them (the server culls their kernels after --cull-after seconds). At the end only the
    open page's kernel runs, although it sat idle longer than that (about 90 s)."""
    require_browser("voila")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = jupyter_environment(tmp_path / "jupyter-home", LECTUREKIT_MODEL="alexnet-random")
    line = next(line for line in commands(section(LECTURE_HALL, TEACHING), "python")
                if line.startswith(DOCUMENTED_COMMAND))  # the documented line, on a free port
    command = [sys.executable, *shlex.split(line.replace("8866", str(port)))[1:],
               "--Voila.ip=127.0.0.1", f"--cull-after={CULL_AFTER_S}"]
    log = artifacts_folder(tmp_path) / "voila.log"
    page = browser.page
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    # Voilà's page template asks a CDN for an icon font; offline (as here, and in many lecture
    # halls) that request fails and the icons are missing, which the page does not need
    page.context.route("https://cdn.jsdelivr.net/**",
                       lambda route: route.fulfill(status=200, content_type="text/css", body=""))
    with serve(command, f"{url}/voila/static/voila.js", log, tmp_path, env) as server, \
            evidence_on_failure(browser, artifacts, INVERSION):
        page.goto(url, wait_until="commit")
        opening = page.get_by_alt_text(OPENING_ALT)
        opening.wait_for()  # in the page's markdown: there before the kernel has run a cell
        assert opening.evaluate("image => image.naturalWidth") > 400
        page.locator(INVERSION_CAPTION).filter(has_text="SSIM").wait_for()
        page.locator(".lecturekit-dream-explorer .lecturekit-caption",
                     has_text="dream of").wait_for()
        gallery = page.locator(".lecturekit-figure-gallery .lecturekit-caption")
        gallery.filter(has_text="(toy model)").wait_for()
        assert page.locator(".lecturekit-figure-gallery img.lecturekit-figure").count() == 1
        assert page.locator(".jp-CodeCell .jp-InputArea").count() == 0, "the page shows code"
        assert "import lecturekit" not in page.locator("body").inner_text()
        page.screenshot(path=artifacts / "present-page.png", full_page=True)

        move_layer_slider(page)
        page.locator(INVERSION).screenshot(path=artifacts / "present-after-slider.png")

        closed = []
        for number in range(4):
            tab, kernel = _visit(browser, url)
            tab.close(run_before_unload=number < 2)  # False: no goodbye, as a crash leaves it
            closed.append(kernel)
        _wait_until(lambda: all(_kernel(url, kernel) is None for kernel in closed),
                    "the kernels of the four closed pages did not end")
        shown = _kernel_id(page)
        _wait_until(lambda: _idle_seconds(_kernel(url, shown)) > CULL_AFTER_S + 2,
                    "the open page's kernel was never idle past the cull time")
        model = _kernel(url, shown)
        assert model is not None and model["connections"] >= 1, \
            "the kernel of the page still open was shut down"
        assert _kernel_processes(server) == 1
    assert "403 POST /voila/api/shutdown" not in log.read_text(), \
        f"the server refused a closed page's request to end its kernel (log: {log})"
    browser.assert_no_errors(artifacts)


# --------------------------------------------------------------------------- the page, prepared

def test_a_gallery_with_a_store_draws_each_figure_once_per_folder(toy_model, tmp_path):
    from lecturekit.ui.widgets import FigureGallery

    first = FigureGallery(toy_model, ["rule_comparison"], store=tmp_path / "page")
    assert first.compute_count == 1
    assert first.stored_path("rule_comparison") == tmp_path / "page" / "rule_comparison-90dpi.png"
    again = FigureGallery(toy_model, ["rule_comparison"], store=tmp_path / "page")
    assert again.compute_count == 0 and bytes(again.view.value) == bytes(first.view.value)
    elsewhere = FigureGallery(toy_model, ["rule_comparison"], store=tmp_path / "other")
    assert elsewhere.compute_count == 1
    assert [p.name for p in (tmp_path / "page").iterdir()] == ["rule_comparison-90dpi.png"]


def test_the_prepared_page_opens_with_its_figure_in_the_markdown(tmp_path):
    from lecturekit.course.present_page import (GALLERY_CALL, OPENING_ALT, page_notebook)

    template = json.loads(present.PAGE.read_text(encoding="utf-8"))
    page = page_notebook(template, b"\x89PNG fake", "toy", tmp_path)
    opening = page["cells"][1]
    assert opening["cell_type"] == "markdown" and f"![{OPENING_ALT}](attachment:opening.png)" \
        in opening["source"] and "toy network" in opening["source"]
    assert opening["attachments"]["opening.png"]["image/png"] == "iVBORyBmYWtl"  # b64 of the bytes
    assert page["cells"][0] == template["cells"][0]  # the title stays first
    assert f"lk.widgets.figure_gallery(model, store={str(tmp_path)!r})" in _code_cells(page)
    assert len(page["cells"]) == len(template["cells"]) + 1
    assert GALLERY_CALL in _code_cells(template)  # the template is left as it was
    broken = {**template, "cells": [c for c in template["cells"]
                                    if "".join(c["source"]) != GALLERY_CALL]}
    with pytest.raises(ValueError, match="must have one cell 'lk.widgets.figure_gallery"):
        page_notebook(broken, b"", "toy", tmp_path)


def test_the_page_is_prepared_once_per_network_and_kit(monkeypatch, tmp_path):
    import lecturekit.course.present_page as present_page

    loads = []

    def load_model(name, verbose):
        loads.append(name)
        import lecturekit as lk
        return lk.load_model("toy", verbose=False)

    monkeypatch.setattr(present_page, "load_model", load_model)
    monkeypatch.setenv("LECTUREKIT_CACHE", str(tmp_path / "cache"))
    page = present_page.prepare_page("toy", present.PAGE, log=lambda line: None)
    assert page.parent.parent == tmp_path / "cache" / "present" and loads == ["toy"]
    assert present_page.prepare_page("toy", present.PAGE, log=lambda line: None) == page
    assert loads == ["toy"]  # the second start loads no network and draws nothing
    saved = json.loads(page.read_text(encoding="utf-8"))
    assert saved["cells"][1]["attachments"]["opening.png"]["image/png"]
    monkeypatch.setattr(present_page, "kit_fingerprint", lambda: "0" * 32)  # another kit
    other = present_page.prepare_page("toy", present.PAGE, log=lambda line: None)
    assert other != page and loads == ["toy", "toy"]
    monkeypatch.setenv("LECTUREKIT_CACHE", "off")  # off: a new folder at every start
    assert present_page.page_folder("toy") != present_page.page_folder("toy")


def test_the_page_shows_the_network_load_model_would_choose(monkeypatch):
    import lecturekit.course.present_page as present_page
    import lecturekit.models as models

    monkeypatch.delenv("LECTUREKIT_MODEL", raising=False)
    monkeypatch.setattr(models, "imagenet_weights_cached", lambda: False)
    assert present_page.chosen_model_name() == "efficientnet-lite0"
    monkeypatch.setattr(models, "imagenet_weights_cached", lambda: True)
    assert present_page.chosen_model_name() == "alexnet"
    monkeypatch.setenv("LECTUREKIT_MODEL", "toy")
    assert present_page.chosen_model_name() == "toy"
    assert present_page.chosen_model_name("efficientnet-lite1") == "efficientnet-lite1"
    monkeypatch.setenv("LECTUREKIT_MODEL", "resnet")
    with pytest.raises(ValueError, match=r"unknown model name 'resnet' \(from LECTUREKIT_MODEL\)"):
        present_page.chosen_model_name()


def test_voila_renders_the_page_progressively():
    command = present.voila_command(page=Path("/somewhere/present.ipynb"))
    assert command[3] == "/somewhere/present.ipynb"
    assert _options(command, "VoilaConfiguration.progressive_rendering") == ["True"]

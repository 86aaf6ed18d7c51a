"""The presentation mode: the page, the figure gallery, and Voilà serving the page to Chromium.

The browser test runs the README's command line
``python -m lecturekit present --model toy --no-browser --port 8866`` (on a free port,
listening on 127.0.0.1 only) from a folder that is not the checkout, with
``LECTUREKIT_MODEL`` set to another network so that ``--model`` has to win. It checks
that the page shows the explorers and the gallery but no code, and that moving the
inversion explorer's layer slider changes the picture and the caption. Helpers and the
rules for artifacts and skipping are in tests/browser_support.py.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest
from browser_support import artifacts, browser  # noqa: F401  (fixtures)
from browser_support import (INVERSION, INVERSION_CAPTION, Browser, artifacts_folder,
                             evidence_on_failure, free_port, jupyter_environment,
                             move_layer_slider, require_browser, serve)
from readme_support import commands, section

from lecturekit.course import present

README_COMMAND = "python -m lecturekit present --model toy --no-browser --port"
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


def test_the_readme_shows_the_command_the_browser_test_runs():
    assert f"{README_COMMAND} 8866" in commands(section("For teachers"), "python")


def test_voila_serves_the_page_with_the_options_given():
    command = present.voila_command(["--port=8866", "--no-browser"])
    assert command[:4] == [sys.executable, "-m", "voila", str(present.PAGE)]
    assert command[-2:] == ["--port=8866", "--no-browser"]
    allowed = [arg.split("=", 1)[1] for arg in command[4:-2]]
    assert all(arg.startswith("--VoilaConfiguration.extension_allowlist=") for arg in command[4:-2])
    assert "@jupyter-widgets/jupyterlab-manager" in allowed and "@jupyter/nbgrader" not in allowed


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


@pytest.mark.browser
def test_present_serves_live_explorers_without_code(tmp_path: Path, browser: Browser,
                                                    artifacts: Path) -> None:
    """`python -m lecturekit present --model toy` in Chromium: explorers, gallery, no code;
    the layer slider moves the inversion (about 60 s)."""
    require_browser("voila")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = jupyter_environment(tmp_path / "jupyter-home", LECTUREKIT_MODEL="alexnet-random")
    line = next(line for line in commands(section("For teachers"), "python")
                if line.startswith(README_COMMAND))  # the README's line, on a free port
    command = [sys.executable, *shlex.split(line.replace("8866", str(port)))[1:],
               "--Voila.ip=127.0.0.1"]
    log = artifacts_folder(tmp_path) / "voila.log"
    page = browser.page
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    # Voilà's page template asks a CDN for an icon font; offline (as here, and in many lecture
    # halls) that request fails and the icons are missing, which the page does not need
    page.route("https://cdn.jsdelivr.net/**",
               lambda route: route.fulfill(status=200, content_type="text/css", body=""))
    with serve(command, f"{url}/voila/static/voila.js", log, tmp_path, env), \
            evidence_on_failure(browser, artifacts, INVERSION):
        page.goto(url, wait_until="commit")
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
    browser.assert_no_errors(artifacts)

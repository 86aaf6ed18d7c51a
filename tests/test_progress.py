"""Progress bars: on by default, off by a call's ``progress=False`` or by LECTUREKIT_PROGRESS,
and in a Jupyter kernel the bar is tqdm's notebook widget (what the lab shows)."""

import os
import subprocess

import nbformat
import pytest
import torch
from nbclient import NotebookClient

import lecturekit as lk
from lecturekit.progress import PROGRESS_VARIABLE, bars_enabled, progress_bar

WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.mark.parametrize("value, enabled", [(None, True), ("", True), ("1", True),
                                            ("On", True), ("0", False), ("off", False),
                                            ("FALSE", False), ("no", False)])
def test_the_variable_switches_every_bar(monkeypatch, value, enabled):
    if value is None:
        monkeypatch.delenv(PROGRESS_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(PROGRESS_VARIABLE, value)
    assert bars_enabled() is enabled
    assert progress_bar(range(3)).disable is not enabled
    assert progress_bar(range(3), enabled=False).disable


def test_a_bad_value_is_named(monkeypatch):
    monkeypatch.setenv(PROGRESS_VARIABLE, "maybe")
    with pytest.raises(ValueError, match=r"LECTUREKIT_PROGRESS must be one of .*got 'maybe'"):
        bars_enabled()


def _dream(model) -> None:
    image = model.preprocess.normalise(torch.rand(1, 3, 64, 64, generator=torch.Generator()
                                                  .manual_seed(0)))
    lk.deepdream(model, image, "conv2", steps=3, octaves=1)


def test_the_loop_shows_a_bar_unless_told_not_to(toy_model, monkeypatch, capsys):
    monkeypatch.delenv(PROGRESS_VARIABLE, raising=False)
    _dream(toy_model)
    assert "optimising" in capsys.readouterr().err
    monkeypatch.setenv(PROGRESS_VARIABLE, "0")
    _dream(toy_model)
    assert "optimising" not in capsys.readouterr().err


def _dream_notebook(before: str, after: str = "") -> nbformat.NotebookNode:
    """A one-cell notebook whose cell runs a short DeepDream on the toy (a loop with a bar),
    its last line ``before + call + after``."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(
        "import torch, lecturekit as lk\n"
        "model = lk.load_model('toy', verbose=False)\n"
        "image = model.preprocess.normalise(torch.rand(1, 3, 64, 64))\n"
        f"{before}lk.deepdream(model, image, 'conv2', steps=3, octaves=1){after}")]
    return notebook


@pytest.mark.parametrize("value, widgets", [(None, 1), ("0", 0)])
def test_a_notebook_cell_shows_the_widget_bar(monkeypatch, tmp_path, value, widgets):
    """In a kernel, as in JupyterLab, a long cell displays tqdm's notebook bar (a widget);
    with LECTUREKIT_PROGRESS=0, as when outputs are stored, the cell displays nothing."""
    if value is None:
        monkeypatch.delenv(PROGRESS_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(PROGRESS_VARIABLE, value)
    notebook = _dream_notebook("_ = ")
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = notebook.cells[0].outputs
    assert sum(WIDGET in output.get("data", {}) for output in outputs) == widgets
    assert not [output for output in outputs if output.get("name") == "stderr"]


def test_the_readme_command_stores_outputs_without_bars(tmp_path):
    """The README's command for storing a notebook's outputs, run on a small notebook of
    the same kind (a long cell), saves the cell's output and no progress bar."""
    from readme_support import code_blocks, section

    command = next(block for block in code_blocks(section("The notebooks"), "bash")
                   if "nbconvert" in block).replace("\\\n", " ").strip()
    assert command.startswith("cd notebooks && LECTUREKIT_PROGRESS=0 ")
    notebook = _dream_notebook("print(", ".image.shape)")
    (tmp_path / "notebooks").mkdir()
    nbformat.write(notebook, tmp_path / "notebooks" / "04_inceptionism.ipynb")
    environment = {k: v for k, v in os.environ.items() if k != PROGRESS_VARIABLE}
    done = subprocess.run(command.replace("efficientnet-lite0", "toy"), shell=True,
                          cwd=tmp_path, env=environment, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    stored = nbformat.read(tmp_path / "notebooks" / "04_inceptionism.ipynb", 4)
    outputs = stored.cells[0].outputs
    assert [output.get("text") for output in outputs] == ["torch.Size([1, 3, 64, 64])\n"]
    assert stored.metadata.kernelspec.display_name == "Python 3 (ipykernel)"  # as the Lab writes

"""The kit as a package: dependencies in step, a core that needs no Jupyter, a working CLI."""

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# conda's names for the few packages whose PyPI name differs.
CONDA_NAME = {"torch": "pytorch"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        wanted |= {_name(r) for r in extra if not r.startswith("lecturekit")}
    wanted = {CONDA_NAME.get(name, name) for name in wanted}
    listed = set()
    text = (ROOT / "environment.yml").read_text()
    for line in text.split("dependencies:", 1)[1].splitlines():
        # conda packages, and the pip: list for packages only PyPI has
        match = re.match(r"(?:  |      )- ([A-Za-z0-9_.-]+)", line)
        if match and match.group(1) not in ("python", "pip", "-e"):
            listed.add(match.group(1).lower())
    assert listed == wanted, (f"only in environment.yml: {sorted(listed - wanted)}; "
                              f"only in pyproject.toml: {sorted(wanted - listed)}")
    assert "python=3.11" in (ROOT / "environment.yml").read_text()


def test_lower_bounds_agree():
    """Each package has the same lower bound in both files."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += [r for r in extra if not r.startswith("lecturekit")]
    yml = (ROOT / "environment.yml").read_text()
    for requirement in requirements:
        name = _name(requirement)
        bound = requirement.split(">=")[1]
        assert f"- {CONDA_NAME.get(name, name)}>={bound}" in yml, requirement


BLOCKER = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'matplotlib', 'ipywidgets', 'IPython', 'jupyterlab',
                                  'jupyter_client', 'ipykernel', 'skimage', 'torchvision'}:
            raise ImportError('blocked for this test: ' + name)
sys.meta_path.insert(0, Block())
"""


def test_numeric_core_needs_no_jupyter_matplotlib_or_torchvision():
    code = BLOCKER + """
import torch, lecturekit as lk
from lecturekit import devices, scenes
from lecturekit.course import checks, cli, exercises, toy_training
from lecturekit.measure import evaluate
model = lk.load_model('toy', device='cpu')
assert lk.input_gradient and lk.invert and lk.deepdream and lk.saliency_map
images, masks, labels = scenes.make_batch(range(2))
print(model(model.preprocess.normalise(images)).shape[0])
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lecturekit", *args], capture_output=True,
                          text=True, cwd=ROOT)


def test_doctor_reports_versions_devices_and_models():
    result = _cli("doctor")
    assert result.returncode == 0, result.stderr
    for expected in ("torch ", "devices       cpu", "model toy     available", "model alexnet"):
        assert expected in result.stdout


def test_evaluate_prints_json_with_measured_accuracy():
    # Only the accuracy: the other keys' claims are measured by their own tests
    # (test_localisation, test_class_model, test_inversion), and their wiring into
    # evaluate by test_evaluate_measures_every_key_it_names, without running them twice.
    result = _cli("evaluate", "--model", "toy", "--json", "--only", "accuracy")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["model"] == "toy" and report["n_scenes"] == 1000
    assert set(report) == {"model", "n_scenes", "accuracy"}
    assert report["accuracy"] >= 0.95


def test_evaluate_measures_every_key_it_names(toy_model, monkeypatch):
    """Every key of EVALUATIONS reaches its measuring function with the toy model and
    lands in the report under its own name (the measurements replaced by markers)."""
    from lecturekit.measure import evaluate as module

    calls = []

    def marker(name):
        def measure(*args, **kwargs):
            calls.append((name, args[0] if args else None))
            return f"measured {name}"
        return measure

    for name, function in (("accuracy", "scene_accuracy"),
                           ("colour_baseline_accuracy", "colour_baseline_accuracy"),
                           ("localisation", "localisation_table"),
                           ("class_model", "class_model_claims"),
                           ("inversion", "inversion_claims"), ("context", "context_claims"),
                           ("anonymisation", "anonymisation_claims"),
                           ("sanity", "sanity_claims"), ("caveats", "caveat_claims")):
        monkeypatch.setattr(module, function, marker(name))
    report = module.evaluate(toy_model, n_scenes=3)
    assert report == {"model": "toy", "n_scenes": 3,
                      **{name: f"measured {name}" for name in module.EVALUATIONS}}
    assert [name for name, _ in calls] == list(module.EVALUATIONS)
    # the colour baseline reads scenes only; every other measure gets the model
    assert all(model is (None if name == "colour_baseline_accuracy" else toy_model)
               for name, model in calls)
    assert set(module.evaluate(toy_model, keys=["inversion"])) == {"model", "n_scenes",
                                                                   "inversion"}


def test_train_toy_refuses_to_overwrite(tmp_path):
    target = tmp_path / "mine.pt"
    target.write_bytes(b"a student's file")
    result = _cli("train-toy", "--out", str(target), "--n-train", "64", "--epochs", "1")
    assert result.returncode == 2 and "exists" in result.stderr and "--force" in result.stderr
    assert target.read_bytes() == b"a student's file"


def test_unknown_command_is_explained():
    result = _cli("dream")
    assert result.returncode == 2 and "invalid choice: 'dream'" in result.stderr

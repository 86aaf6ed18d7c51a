"""The disk cache of long results: a second identical call is read back, anything that
could change the result computes again, a damaged file is computed again with a warning."""

import copy
import warnings

import pytest
import torch

import lecturekit as lk
from lecturekit import result_cache
from lecturekit.gradient.backward_rules import backward_rule
from lecturekit.optimise import class_model as class_model_module
from lecturekit.result_cache import cached, network_fingerprint


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("LECTUREKIT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def counted():
    """A cached function that counts how often it really runs."""
    calls = []

    @cached("probe")
    def double(x: torch.Tensor, factor: float = 2.0, progress: bool = True) -> torch.Tensor:
        calls.append(1)
        return x * factor

    return double, calls


def test_same_call_is_read_back_without_computing(folder):
    double, calls = counted()
    x = torch.arange(4.0)
    first, second = double(x), double(x.clone(), progress=False)  # progress is not a setting
    assert len(calls) == 1
    assert torch.equal(first, second) and torch.equal(second, 2 * x)
    assert len(list(folder.glob("probe-*.pt"))) == 1


def test_any_change_of_input_setting_or_kit_computes_again(folder, monkeypatch):
    double, calls = counted()
    x = torch.arange(4.0)
    double(x)
    double(x + 1e-6)              # another image
    double(x, factor=3.0)         # another setting
    assert len(calls) == 3
    monkeypatch.setattr(result_cache, "kit_fingerprint", lambda: "a changed kit")
    assert torch.equal(double(x), 2 * x)
    assert len(calls) == 4


def test_a_damaged_file_is_computed_again_with_a_warning(folder):
    double, calls = counted()
    x = torch.arange(4.0)
    double(x)
    (path,) = folder.glob("probe-*.pt")
    path.write_bytes(b"not a torch file")
    with pytest.warns(UserWarning, match="could not be read"):
        again = double(x)
    assert torch.equal(again, 2 * x) and len(calls) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the file was written again: no warning now
        double(x)
    assert len(calls) == 2


def test_turned_off_or_unkeyable_arguments_always_compute(folder, monkeypatch):
    calls = []

    @cached("probe")
    def apply(x: torch.Tensor, function=None) -> torch.Tensor:
        calls.append(1)
        return x if function is None else function(x)

    x = torch.ones(2)
    apply(x, function=lambda v: v + 1)
    apply(x, function=lambda v: v + 1)  # a plain function has no key: never cached
    monkeypatch.setenv("LECTUREKIT_CACHE", "off")
    apply(x)
    apply(x)
    assert len(calls) == 4
    assert not folder.exists()


def test_an_unkeyable_call_hashes_no_weights(folder, toy_model, monkeypatch):
    hashed = []
    real = result_cache.network_fingerprint
    monkeypatch.setattr(result_cache, "network_fingerprint",
                        lambda model: hashed.append(1) or real(model))

    @cached("probe")
    def run(model, x: torch.Tensor, callback=None) -> torch.Tensor:
        return x

    run(toy_model, torch.ones(1), callback=lambda *a: None)  # as the explorer calls invert
    assert hashed == []
    run(toy_model, torch.ones(1))
    assert hashed == [1]


def test_a_folder_that_cannot_be_written_warns_and_still_returns(tmp_path, monkeypatch):
    blocker = tmp_path / "a file, not a folder"
    blocker.write_text("")
    monkeypatch.setenv("LECTUREKIT_CACHE", str(blocker / "cache"))
    double, calls = counted()
    with pytest.warns(UserWarning, match="could not keep the result"):
        assert torch.equal(double(torch.ones(2)), 2 * torch.ones(2))


def test_network_key_follows_weights_and_backward_rule(toy_model):
    before = network_fingerprint(toy_model)
    with backward_rule(toy_model, "guided"):
        assert network_fingerprint(toy_model) != before
    assert network_fingerprint(toy_model) == before
    changed = copy.deepcopy(toy_model)
    with torch.no_grad():
        changed.layers["fc8"].bias[0] += 1e-6  # one weight, a little
    assert network_fingerprint(changed) != before


def test_class_model_is_read_back_and_equal(folder, toy_model, monkeypatch):
    runs = []
    real = class_model_module.optimise

    def counting(*args, **kwargs):
        runs.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(class_model_module, "optimise", counting)
    first = lk.class_model(toy_model, ["disc", "hexagon"], steps=3, progress=False)
    second = lk.class_model(toy_model, ["disc", "hexagon"], steps=3, progress=False)
    third = lk.class_model(toy_model, ["disc", "hexagon"], steps=3, seed=1, progress=False)
    assert len(runs) == 2
    assert torch.equal(first.image, second.image) and first.names == second.names
    assert not torch.equal(first.image, third.image)

"""Retraining the toy model: deterministic by seed, never touching the test seeds."""

import pytest
import torch

from lecturekit import scenes
from lecturekit.models import load_model
from lecturekit.course.toy_training import ToyConfig, render_training_set, train_toy

TINY = ToyConfig(channels=(8, 8, 8, 8, 8), hidden=16, n_train=96, epochs=1, batch_size=32,
                 n_check=20)


def _weights(path):
    return torch.load(path, weights_only=True)


def test_same_seed_gives_the_same_weights(tmp_path):
    # torch.save names its archive after the file, so compare tensors, not file hashes
    train_toy(tmp_path / "a.pt", TINY)
    train_toy(tmp_path / "b.pt", TINY)
    train_toy(tmp_path / "c.pt", ToyConfig(**{**TINY.__dict__, "seed": 1}))
    first, second, other = (_weights(tmp_path / f"{n}.pt") for n in "abc")
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)
    model = load_model("toy", toy_weights=tmp_path / "a.pt", device="cpu")
    assert model(torch.zeros(1, 3, 128, 128)).shape == (1, len(scenes.CLASSES))


def test_training_set_is_the_first_seeds():
    images, labels = render_training_set(3, 128)
    assert images.dtype == torch.uint8
    assert labels.tolist() == [scenes.make_scene(seed).label for seed in range(3)]
    with pytest.raises(ValueError, match="n_train must be at most"):
        render_training_set(scenes.TEST_SEED_START + 1, 128)


def test_out_must_be_a_pt_file_and_existing_files_are_kept(tmp_path):
    with pytest.raises(ValueError, match=r"ending in \.pt"):
        train_toy(tmp_path / "weights.bin", TINY)
    (tmp_path / "x.json").write_text("mine")
    with pytest.raises(FileExistsError, match="x.json exists"):
        train_toy(tmp_path / "x.pt", TINY)
    assert (tmp_path / "x.json").read_text() == "mine"

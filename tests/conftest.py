"""Shared fixtures: the bundled toy model, loaded once per test session."""

import pytest
import torch

from lecturekit import load_model


@pytest.fixture(scope="session")
def toy_model():
    torch.set_num_threads(2)
    return load_model("toy", device="cpu")

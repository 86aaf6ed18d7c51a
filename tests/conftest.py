"""Shared fixtures: the bundled toy model and EfficientNet-Lite0, each loaded once per test
session."""

import pytest
import torch

from lecturekit import load_model


@pytest.fixture(scope="session")
def toy_model():
    torch.set_num_threads(2)
    return load_model("toy", device="cpu")


@pytest.fixture(scope="session")
def effnet():
    return load_model("efficientnet-lite0", device="cpu", verbose=False)

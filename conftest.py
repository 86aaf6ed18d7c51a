"""nbval runs each notebook with the network that made its stored outputs.

A lecture notebook may name that network in its metadata (``"lecturekit":
{"outputs_model": "efficientnet-lite0"}``); the others keep the network of the
environment (scripts/test.sh sets ``LECTUREKIT_MODEL=toy``). nbval starts a
notebook's kernel when the notebook's first cell is set up, and the kernel
inherits this process's environment, so setting ``LECTUREKIT_MODEL`` just before
that is enough.

The disk cache of long results (:mod:`lecturekit.result_cache`) is turned off for the whole
run, the notebooks' kernels included: every test computes what it checks (the cache's
own tests turn it on in a temporary folder).
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import pytest

ENVIRONMENT_MODEL = os.environ.get("LECTUREKIT_MODEL")
os.environ["LECTUREKIT_CACHE"] = "off"


@lru_cache(maxsize=None)
def outputs_model(path: Path) -> str | None:
    """The network named in the notebook's metadata, or None."""
    metadata = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    return metadata.get("lecturekit", {}).get("outputs_model")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    model = outputs_model(item.path) if item.path.suffix == ".ipynb" else None
    model = model or ENVIRONMENT_MODEL
    if model is None:
        os.environ.pop("LECTUREKIT_MODEL", None)
    else:
        os.environ["LECTUREKIT_MODEL"] = model

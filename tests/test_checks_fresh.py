"""Every correct answer of :data:`test_checks.RIGHT`, each in a fresh interpreter.

A student runs a homework notebook from the top in a new kernel, so a check's verdict must
not depend on what ran before it in the same process. It once did: the first
``torch.optim`` step of a process makes torch wrap ``torch.manual_seed`` (its compiler
stack is imported lazily), and the check read that as the student's patch. In one pytest
process some earlier test had always used an optimiser, so the suite never saw it.

Here every (check, answer) pair runs in a process of its own, forked from a new Python
process that has imported torch, the kit and the answers and has run nothing else: the
state of a kernel that has just run its imports.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import subprocess
import sys

import pytest
import torch

import test_checks


def _verdict(index: int) -> str:
    """Run one check on one correct answer; what it printed, or the error it raised."""
    check, _, answer = test_checks.RIGHT[index]
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            check(answer)
    except Exception as error:  # noqa: BLE001 (the verdict is the test's to judge)
        return f"{type(error).__name__}: {error}"
    return printed.getvalue()


def _patches_torch_after_an_optimiser(index: int) -> str:
    """A student's answer that uses an optimiser and also patches torch.manual_seed."""
    check, _, answer = test_checks.RIGHT[index]

    def patched(*args):
        torch.manual_seed = lambda seed: None  # the student's own patch, left in place
        return answer(*args)

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            check(patched)
    except Exception as error:  # noqa: BLE001
        return f"{type(error).__name__}: {error}"
    return "accepted"


def _fresh_verdicts() -> dict[str, list[str]]:
    """Every verdict, each from a process of its own: this file run as a script imports the
    answers and forks one process per verdict (see the end of the file)."""
    done = subprocess.run([sys.executable, __file__], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def verdicts() -> dict[str, list[str]]:
    return _fresh_verdicts()


def _label(entry: tuple) -> str:
    return f"{entry[0].__name__[len('check_'):]}: {entry[1]}"


@pytest.mark.parametrize("index", range(len(test_checks.RIGHT)),
                         ids=[_label(entry) for entry in test_checks.RIGHT])
def test_a_correct_answer_is_accepted_in_a_fresh_interpreter(verdicts, index):
    verdict = verdicts["right"][index]
    assert verdict.startswith("correct: "), verdict


def test_every_check_has_two_styles_that_use_an_optimiser_or_autograd():
    """The styles the issue names are in the table: torch.optim, autograd.grad, .backward()."""
    import inspect
    sources = {label: inspect.getsource(answer) for _, label, answer in test_checks.RIGHT
               if callable(answer) and getattr(answer, "__name__", "") != "<lambda>"}
    joined = "\n".join(sources.values())
    for style in ("torch.optim.SGD", "torch.optim.Adam", "torch.autograd.grad", ".backward()"):
        assert style in joined, style


def test_a_real_patch_is_still_named_in_a_fresh_interpreter(verdicts):
    (verdict,) = verdicts["patched"]
    assert verdict.startswith("CheckFailed: not yet:"), verdict
    assert "torch.manual_seed" in verdict, verdict


def _main() -> None:
    """Print every verdict as JSON, each computed in a child forked from this process, which
    has run its imports and nothing else (fork keeps them; each child is used once)."""
    sgd = next(i for i, (_, label, _) in enumerate(test_checks.RIGHT) if label == "torch.optim.SGD")
    context = multiprocessing.get_context("fork")
    with context.Pool(2, maxtasksperchild=1) as pool:
        right = pool.map(_verdict, range(len(test_checks.RIGHT)), chunksize=1)
        patched = pool.map(_patches_torch_after_an_optimiser, [sgd])
    print(json.dumps({"right": right, "patched": patched}))


if __name__ == "__main__":
    _main()

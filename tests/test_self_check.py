"""The teacher's check before the lecture: `python -m lecturekit doctor --deep`."""

import subprocess
import sys

import lecturekit as lk
from lecturekit.measure.self_check import CHECKS, Claim, deep_check


def test_a_claim_reads_as_one_line_and_can_fail():
    good, bad = Claim("saliency points", 0.9, 0.6), Claim("saliency points", 0.2, 0.6)
    assert good.passed and good.line().startswith("pass  saliency points: 0.9")
    assert not bad.passed and bad.line().startswith("FAIL  saliency points: 0.2")
    assert "(needs >= 0.6)" in bad.line()


def test_every_claim_holds_on_the_toy_from_the_command_line():
    done = subprocess.run([sys.executable, "-m", "lecturekit", "doctor", "--deep", "--model",
                           "toy"], capture_output=True, text=True, timeout=900)
    lines = [line for line in done.stdout.splitlines() if line.startswith(("pass", "FAIL"))]
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(lines) == len(CHECKS) and all(line.startswith("pass") for line in lines)
    assert "every claim holds on toy" in done.stdout


def test_every_claim_holds_on_efficientnet(effnet):
    claims = deep_check(effnet, report=lambda line: None)
    assert [c.name for c in claims if not c.passed] == []


def test_a_network_that_learned_nothing_fails_the_claims_that_need_training():
    """alexnet-random: same shape and speed as the lecture's AlexNet, random weights. What
    needs training must fail: naming what it sees, pointing at it, a judged class model."""
    model = lk.load_model("alexnet-random", verbose=False)
    claims = {c.name: c for c in deep_check(model, report=lambda line: None)}
    failed = [name for name, claim in claims.items() if not claim.passed]
    assert any("names the object" in name for name in failed), failed
    assert any("saliency map of each object's class" in name for name in failed), failed
    assert any("recognises class models" in name for name in failed), failed

"""The three ReLU backward rules: hand-computed values, whole networks, hook safety."""

import pytest
import torch
from torch import nn

from lecturekit.gradient.backward_rules import RULES, RuleReLU, backward_rule, relu_backward
from lecturekit.gradient.gradients import input_gradient
from lecturekit.targets import Logit, Neuron

# A worked example: forward input, signal from above, and each rule's result by hand.
F_IN = torch.tensor([[1.0, -1.0, 5.0], [2.0, -5.0, -7.0], [-3.0, 2.0, 4.0]])
R_OUT = torch.tensor([[-2.0, 3.0, -1.0], [6.0, -3.0, 1.0], [2.0, -1.0, 3.0]])
EXPECTED = {
    # keep r_out where f_in > 0
    "backprop": torch.tensor([[-2.0, 0.0, -1.0], [6.0, 0.0, 0.0], [0.0, -1.0, 3.0]]),
    # keep r_out where r_out > 0, ignoring the forward pass
    "deconvnet": torch.tensor([[0.0, 3.0, 0.0], [6.0, 0.0, 1.0], [2.0, 0.0, 3.0]]),
    # keep r_out where both are positive
    "guided": torch.tensor([[0.0, 0.0, 0.0], [6.0, 0.0, 0.0], [0.0, 0.0, 3.0]]),
}


@pytest.mark.parametrize("rule", RULES)
def test_rules_on_the_worked_example(rule):
    assert torch.equal(relu_backward(F_IN, R_OUT, rule), EXPECTED[rule])


@pytest.mark.parametrize("rule", RULES)
def test_rule_relu_module_backward_matches_the_tensor_rule(rule):
    x = F_IN.clone().requires_grad_(True)
    out = RuleReLU(rule)(x)
    assert torch.equal(out, F_IN.clamp(min=0))
    out.backward(R_OUT)
    assert torch.equal(x.grad, EXPECTED[rule])


def test_backprop_rule_is_autograd():
    x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    r = torch.randn(4, 5, dtype=torch.float64)
    (grad,) = torch.autograd.grad(torch.relu(x), x, r)
    assert torch.equal(relu_backward(x.detach(), r, "backprop"), grad)


def test_unknown_rule_and_shape_mismatch_are_explained():
    with pytest.raises(ValueError, match="unknown rule 'guidedbackprop'; valid rules are: "
                                         "backprop, deconvnet, guided"):
        relu_backward(F_IN, R_OUT, "guidedbackprop")
    with pytest.raises(ValueError, match=r"same shape, got \(3, 3\) and \(2,\)"):
        relu_backward(F_IN, torch.ones(2), "guided")


def test_every_relu_is_replaced_in_features_and_classifier(toy_model):
    relus_before = [m for m in toy_model.modules() if isinstance(m, nn.ReLU)]
    with backward_rule(toy_model, "guided"):
        inside = [m for m in toy_model.modules() if isinstance(m, RuleReLU)]
        assert len(inside) == 7
        assert {name for name, m in toy_model.layers.items() if isinstance(m, RuleReLU)} == {
            "relu1", "relu2", "relu3", "relu4", "relu5", "relu6", "relu7"}
    assert [m for m in toy_model.modules() if isinstance(m, nn.ReLU)] == relus_before


def test_torchvision_alexnet_with_inplace_relus_is_restored_exactly():
    from torchvision.models import alexnet
    torch.manual_seed(0)
    net = alexnet(weights=None).eval()
    before = [(name, module) for name, module in net.named_modules()]
    x = torch.randn(1, 3, 224, 224, requires_grad=True)
    with backward_rule(net, "guided"):
        net(x)[0, 3].backward()
        assert not any(isinstance(m, nn.ReLU) for m in net.modules())
    assert [(name, module) for name, module in net.named_modules()] == before
    assert all(m.inplace for m in net.modules() if isinstance(m, nn.ReLU))


def test_an_exception_inside_the_block_restores_plain_backprop(toy_model):
    x = torch.randn(2, 3, 128, 128)
    plain = input_gradient(toy_model, x, Neuron("conv5", 7))
    with pytest.raises(RuntimeError, match="raised inside"):
        with backward_rule(toy_model, "deconvnet"):
            raise RuntimeError("raised inside the block")
    assert torch.equal(input_gradient(toy_model, x, Neuron("conv5", 7)), plain)
    assert not any(isinstance(m, RuleReLU) for m in toy_model.modules())
    # the rule did change gradients while it was active
    assert not torch.allclose(input_gradient(toy_model, x, Neuron("conv5", 7), "deconvnet"), plain)


def test_forward_pass_is_unchanged_under_every_rule(toy_model):
    x = torch.randn(2, 3, 128, 128)
    plain = toy_model(x)
    for rule in RULES:
        with backward_rule(toy_model, rule):
            assert torch.equal(toy_model(x), plain)


def test_the_three_rules_give_three_different_gradients(toy_model):
    x = torch.randn(1, 3, 128, 128)
    maps = {rule: input_gradient(toy_model, x, Logit(2), rule) for rule in RULES}
    assert all(m.abs().sum() > 0 for m in maps.values())
    assert not torch.allclose(maps["guided"], maps["deconvnet"])
    assert not torch.allclose(maps["guided"], maps["backprop"])
    assert not torch.allclose(maps["deconvnet"], maps["backprop"])


def test_a_model_without_relu_is_refused():
    with pytest.raises(ValueError, match="Sequential has no nn.ReLU or nn.ReLU6 module"):
        with backward_rule(nn.Sequential(nn.Linear(2, 2), nn.Tanh()), "guided"):
            pass

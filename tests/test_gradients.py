"""Targets (pseudo-losses) and input gradients, checked by finite differences."""

import copy

import pytest
import torch

from lecturekit.gradient.gradients import input_gradient, layer_gradient
from lecturekit.targets import Channel, Layer, LayerL2, Logit, Neuron, Probability, Target


@pytest.fixture(scope="module")
def toy64(toy_model):
    return copy.deepcopy(toy_model).double()


def test_target_values_by_hand():
    act = torch.arange(2 * 3 * 2 * 2, dtype=torch.float64).reshape(2, 3, 2, 2)
    acts = {"conv5": act, "logits": torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], dtype=torch.float64)}
    assert Neuron("conv5", 1, 0, 1)(acts).tolist() == [5.0, 17.0]
    assert Neuron("conv5", 2)(acts).tolist() == [11.0, 23.0]  # centre of a 2x2 map is (1, 1)
    assert Channel("conv5", 0)(acts).tolist() == [1.5, 13.5]
    assert Layer("conv5")(acts).tolist() == [5.5, 17.5]
    assert LayerL2("conv5")(acts)[0] == 0.5 * sum(v * v for v in range(12))
    assert Logit(2)(acts).tolist() == [3.0, 0.0]
    assert Logit([0, 1])(acts).tolist() == [1.0, 0.0]
    assert torch.allclose(Probability(1)(acts), torch.tensor([torch.e ** 2 / (torch.e + torch.e ** 2 + torch.e ** 3), 1 / 3]).double())


def test_targets_compose():
    acts = {"logits": torch.tensor([[1.0, 2.0, 4.0]]), "fc7": torch.tensor([[10.0, 20.0]])}
    combined = Logit(2) - 0.5 * Logit(1) + 2 * Neuron("fc7", 1)
    assert combined.layers == ("logits", "fc7")
    assert combined(acts).item() == 4.0 - 1.0 + 40.0
    assert (-Logit(0))(acts).item() == -1.0


def _busiest_pool2_channel(model, x):
    """A channel target that is alive on ``x``: the pool2 map with the largest sum."""
    with torch.no_grad():
        return Channel("pool2", int(model.forward_to(x, "pool2")[0].sum(dim=(1, 2)).argmax()))


@pytest.mark.parametrize("target", [
    Neuron("conv2", 5, 3, 4), Neuron("fc7", 11), _busiest_pool2_channel, Layer("relu4"),
    LayerL2("conv1"), Logit(3), Probability(6), Logit(1) - Probability(1),
], ids=lambda t: getattr(t, "__name__", None) or repr(t))
def test_input_gradient_matches_finite_differences(toy64, target):
    torch.manual_seed(0)
    x = torch.randn(1, 3, 128, 128, dtype=torch.float64)
    if callable(target) and not isinstance(target, Target):
        target = target(toy64, x)
    grad = input_gradient(toy64, x, target)
    assert grad.shape == x.shape and grad.abs().sum() > 0
    # a random direction and the largest-gradient pixel
    direction = torch.randn_like(x)
    peak = torch.zeros_like(x).flatten()
    peak[grad.abs().flatten().argmax()] = 1.0
    for d in (direction, peak.reshape(x.shape)):
        eps = 1e-6
        with torch.no_grad():
            plus = target(toy64.activations(x + eps * d, target.layers))
            minus = target(toy64.activations(x - eps * d, target.layers))
        numeric = (plus - minus).item() / (2 * eps)
        analytic = (grad * d).sum().item()
        assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-9)


def test_batch_gradients_are_per_image_and_weights_untouched(toy_model):
    torch.manual_seed(1)
    x = torch.randn(3, 3, 128, 128)
    weights = {k: v.clone() for k, v in toy_model.state_dict().items()}
    together = input_gradient(toy_model, x, Logit([0, 4, 7]))
    alone = torch.cat([input_gradient(toy_model, x[i:i + 1], Logit(c)) for i, c in
                       enumerate([0, 4, 7])])
    assert torch.allclose(together, alone, atol=1e-6)
    assert all(torch.equal(v, weights[k]) for k, v in toy_model.state_dict().items())
    assert all(p.grad is None for p in toy_model.parameters())
    assert torch.equal(input_gradient(toy_model, x, Logit(1)), input_gradient(toy_model, x, Logit(1)))


def test_layer_gradient_with_a_one_hot_signal_is_the_neuron_gradient(toy_model):
    x = torch.randn(1, 3, 128, 128)
    act = toy_model.forward_to(x, "conv3")
    signal = torch.zeros_like(act)
    signal[0, 9, 2, 5] = 1.0
    for rule in ("backprop", "guided"):
        assert torch.allclose(layer_gradient(toy_model, x, "conv3", signal, rule),
                              input_gradient(toy_model, x, Neuron("conv3", 9, 2, 5), rule))


@pytest.mark.parametrize("target, message", [
    (Neuron("conv5", 500), r"channel must be a whole number in 0..95 \(96 channels of layer conv5\), got channel=500"),
    (Neuron("conv1", 0, 40, 2), r"y must be a whole number in 0..30 \(31 rows of the map of layer conv1\), got y=40"),
    (Neuron("fc6", 3, 1, 1), "y and x must be None for the fully connected layer fc6"),
    (Channel("conv2", -1), "channel must be a whole number in 0..95 .*got channel=-1"),
    (Logit(8), r"class index 8 is out of range: the model has 8 classes \(valid: 0..7\)"),
    (Probability([1, 2, 3]), "class index has 3 entries for a batch of 2 images"),
    (Layer("conv9"), "unknown layer 'conv9' for model 'toy'; valid layer names are: conv1"),
])
def test_bad_targets_are_explained(toy_model, target, message):
    with pytest.raises(ValueError, match=message):
        input_gradient(toy_model, torch.randn(2, 3, 128, 128), target)


def test_bad_arguments_are_explained(toy_model):
    with pytest.raises(TypeError, match="target must be a lecturekit.targets.Target"):
        input_gradient(toy_model, torch.randn(1, 3, 128, 128), "fc8")
    with pytest.raises(ValueError, match="unknown rule 'guided-backprop'"):
        input_gradient(toy_model, torch.randn(1, 3, 128, 128), Logit(0), "guided-backprop")
    with pytest.raises(ValueError, match=r"shape \(N, 3, H, W\)"):
        input_gradient(toy_model, torch.randn(3, 128, 128), Logit(0))
    with pytest.raises(ValueError, match="signal must have the shape of layer conv1"):
        layer_gradient(toy_model, torch.randn(1, 3, 128, 128), "conv1", torch.ones(1, 2))


def test_class_names_resolve(toy_model):
    assert toy_model.class_index("star") == toy_model.classes.index("star")
    with pytest.raises(ValueError, match="has no class 'dumbbell'"):
        toy_model.class_index("dumbbell")

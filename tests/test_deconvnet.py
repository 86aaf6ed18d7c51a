"""The reverse Deconvnet equals backprop with the Deconvnet ReLU rule (Zeiler & Fergus 2014).

Comparisons run in float32 with a relative tolerance of 1e-4 (measured: 0 at the
models' own sizes, about 3e-7 where the adaptive average pooling is not the identity);
one test repeats the non-identity case in float64 on a copy of the toy model.
"""

import copy

import pytest
import torch
import torch.nn.functional as F

from lecturekit.gradient.deconvnet import (deconv_backward, deconv_project, record_forward,
                                          reverse_avgpool, unpool, zero_all_but)
from lecturekit.gradient.gradients import layer_gradient
from lecturekit.models import load_model
from lecturekit.scenes import make_batch, test_seeds

LAYERS = ["conv1", "pool2", "relu3", "conv5", "pool5", "fc6", "fc8"]
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def models(toy_model):
    return {"toy": toy_model, "alexnet": load_model("alexnet", random_weights=True, device="cpu")}


def _images(model, size=None, n=2):
    size = size or model.input_size
    return model.preprocess.normalise(make_batch(test_seeds(n), size)[0])


def _relative(a, b):
    assert b.norm() > 0, "reference is all zero: the test chose a dead channel"
    return ((a - b).norm() / b.norm()).item()


def _live_channel(activation):
    """The channel (or unit) with the largest total activation, so the signal is not zero."""
    dims = [0] + list(range(2, activation.ndim))
    return int(activation.abs().sum(dim=dims).argmax())


def _reference(model, images, layer, channel, position=None):
    activation = model.forward_to(images, layer)
    positions = None if position is None else torch.tensor([position] * images.shape[0])
    signal = zero_all_but(activation, channel, positions)
    return layer_gradient(model, images, layer, signal, rule="deconvnet")


@pytest.mark.parametrize("name", ["alexnet", "toy"])
@pytest.mark.parametrize("layer", LAYERS)
def test_reverse_network_equals_deconvnet_backprop(models, name, layer):
    model = models[name]
    images = _images(model, n=1 if name == "alexnet" else 2)
    record = record_forward(model, images, layer)
    signal = zero_all_but(record.activation, _live_channel(record.activation))
    projection = deconv_backward(model, record, signal)
    reference = layer_gradient(model, images, layer, signal, rule="deconvnet")
    assert projection.shape == images.shape
    assert _relative(projection, reference) < TOLERANCE


@pytest.mark.parametrize("name,layer", [("alexnet", "conv5"), ("toy", "pool2"),
                                        ("toy", "relu1")])
def test_single_activation_equals_deconvnet_backprop(models, name, layer):
    model = models[name]
    images = _images(model)
    activation = model.forward_to(images, layer)
    channel = _live_channel(activation)
    width = activation.shape[-1]
    flat = int(activation[0, channel].argmax())
    position = (flat // width, flat % width)
    projection = deconv_project(model, images, layer, channel, position=position)
    reference = _reference(model, images, layer, channel, position)
    assert _relative(projection, reference) < TOLERANCE


def test_other_input_sizes_use_the_avgpool_adjoint(models):
    alexnet = models["alexnet"]
    images = _images(alexnet, size=256, n=1)  # pool5 is 7 x 7, averaged to 6 x 6
    channel = _live_channel(alexnet.forward_to(images, "fc6"))
    projection = deconv_project(alexnet, images, "fc6", channel)
    assert _relative(projection, _reference(alexnet, images, "fc6", channel)) < TOLERANCE

    toy = copy.deepcopy(models["toy"]).double()
    images = _images(toy, size=160).double()  # pool5 is 4 x 4, averaged to 3 x 3
    channel = _live_channel(toy.forward_to(images, "fc8"))
    projection = deconv_project(toy, images, "fc8", channel)
    assert _relative(projection, _reference(toy, images, "fc8", channel)) < 1e-12


def test_reverse_avgpool_is_the_adjoint():
    torch.manual_seed(1)
    pool = torch.nn.AdaptiveAvgPool2d(3)
    x = torch.randn(2, 4, 7, 5, dtype=torch.float64)
    y = torch.randn(2, 4 * 9, dtype=torch.float64)
    forward = (torch.flatten(pool(x), 1) * y).sum()
    backward = (x * reverse_avgpool(y, x.shape, 3)).sum()
    assert torch.isclose(forward, backward, rtol=1e-12)


def test_transposed_conv_restores_odd_input_sizes(models):
    model = models["alexnet"]
    images = _images(model, size=230, n=1)  # conv1 drops three rows and columns
    channel = _live_channel(model.forward_to(images, "pool5"))
    projection = deconv_project(model, images, "pool5", channel)
    assert projection.shape == images.shape
    assert _relative(projection, _reference(model, images, "pool5", channel)) < TOLERANCE


def _nearest(signal, switches, input_shape, pool):
    return F.interpolate(signal, size=tuple(input_shape[-2:]), mode="nearest")


def _overwrite(signal, switches, input_shape, pool):
    return F.max_unpool2d(signal, switches, pool.kernel_size, pool.stride, pool.padding,
                          output_size=tuple(input_shape[-2:]))


@pytest.mark.parametrize("name", ["alexnet", "toy"])
def test_switches_matter(models, name):
    model = models[name]
    images = _images(model)
    channel = _live_channel(model.forward_to(images, "pool2"))
    reference = _reference(model, images, "pool2", channel)
    record = record_forward(model, images, "pool2")
    signal = zero_all_but(record.activation, channel)
    assert _relative(deconv_backward(model, record, signal), reference) < TOLERANCE
    assert _relative(deconv_backward(model, record, signal, _nearest), reference) > 0.1
    # 3 x 3 windows at stride 2 overlap: writing instead of adding loses shared winners.
    assert _relative(deconv_backward(model, record, signal, _overwrite), reference) > 1e-3


def test_unpool_equals_max_unpool2d_without_overlap():
    torch.manual_seed(2)
    x = torch.randn(2, 3, 8, 10)
    pooled, switches = F.max_pool2d(x, 2, 2, return_indices=True)
    signal = torch.randn_like(pooled)
    expected = F.max_unpool2d(signal, switches, 2, 2, output_size=x.shape[-2:])
    assert torch.equal(unpool(signal, switches, x.shape), expected)


def _hook_count(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
               + len(getattr(m, "_backward_pre_hooks", {})) for m in model.modules())


def test_model_is_unchanged(models):
    model = models["toy"]
    images = _images(model)
    before = model(images)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    relus = [model.layers[f"relu{i}"] for i in (1, 2, 3, 4, 5, 6, 7)]
    deconv_project(model, images, "fc8", 0)
    deconv_project(model, images, "conv3", 1, position=(2, 3))
    assert _hook_count(model) == 0
    assert not model.training
    assert not any(p.requires_grad or p.grad is not None for p in model.parameters())
    assert all(model.layers[f"relu{i}"] is r for i, r in zip((1, 2, 3, 4, 5, 6, 7), relus))
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert torch.equal(model(images), before)


def test_errors(models):
    model = models["toy"]
    images = _images(model, n=1)
    with pytest.raises(ValueError, match="unknown layer 'conv9'.*conv1"):
        deconv_project(model, images, "conv9", 0)
    channels = model.forward_to(images, "conv2").shape[1]
    with pytest.raises(ValueError, match=rf"channel .*0\.\.{channels - 1}.*got channel={channels}"):
        deconv_project(model, images, "conv2", channels)
    with pytest.raises(ValueError, match="channel"):
        deconv_project(model, images, "fc8", -1)
    with pytest.raises(ValueError, match=r"position .*0 <= y < 15.*got \(15, 0\)"):
        deconv_project(model, images, "conv2", 0, position=(15, 0))
    with pytest.raises(ValueError, match="position must be None .*fc6"):
        deconv_project(model, images, "fc6", 0, position=(0, 0))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        deconv_project(model, images[0], "conv1", 0)
    with pytest.raises(ValueError, match="float"):
        deconv_project(model, (images * 0).long(), "conv1", 0)
    record = record_forward(model, images, "conv1")
    with pytest.raises(ValueError, match="signal must have the shape"):
        deconv_backward(model, record, torch.zeros(1, 2, 3, 4))

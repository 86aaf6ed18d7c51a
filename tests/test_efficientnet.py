"""EfficientNet-Lite0: the offline ImageNet network behind the kit's one interface, and the
backward rules at its ReLU6 rectifiers."""

import pytest
import torch
from torch import nn

import lecturekit as lk
from lecturekit.gradient.backward_rules import RuleReLU, backward_rule, relu_backward
from lecturekit.models.efficientnet import EFFICIENTNET_LAYERS, timm_state_dict

SHAPES_224 = {"stem": (32, 112, 112), "stage1": (16, 112, 112), "stage2": (24, 56, 56),
              "stage3": (40, 28, 28), "stage4": (80, 14, 14), "stage5": (112, 14, 14),
              "stage6": (192, 7, 7), "stage7": (320, 7, 7), "head": (1280, 7, 7),
              "pool": (1280,), "logits": (1000,)}


@pytest.fixture(scope="module")
def photos(effnet):
    names = ("chelsea", "coffee", "camera")
    return names, effnet.preprocess([lk.sample_image(name) for name in names])


def test_layers_shapes_and_interface(effnet):
    assert effnet.layer_names == EFFICIENTNET_LAYERS and effnet.output_layer == "logits"
    acts = effnet.activations(torch.zeros(1, 3, 224, 224), EFFICIENTNET_LAYERS)
    assert {name: tuple(a.shape[1:]) for name, a in acts.items()} == SHAPES_224
    assert not effnet.training and not any(p.requires_grad for p in effnet.parameters())
    assert len(effnet.classes) == 1000 and effnet.classes[:2] == ["tench", "goldfish"]
    assert effnet.preprocess.mean == pytest.approx((127 / 255,) * 3)
    assert effnet.preprocess.std == pytest.approx((128 / 255,) * 3)


def test_named_layers_equal_timms_network(effnet):
    """Cutting the network into named layers must not change its function."""
    timm = pytest.importorskip("timm")
    reference = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    reference.load_state_dict(timm_state_dict(), strict=True)
    x = torch.randn(2, 3, 192, 160, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(effnet(x), reference.eval()(x), atol=1e-5)


def test_rectifiers_are_out_of_place_relu6_modules(effnet):
    relu6 = [m for m in effnet.modules() if isinstance(m, nn.ReLU6)]
    assert len(relu6) == 33 and not any(m.inplace for m in relu6)
    assert not any(isinstance(m, nn.ReLU) for m in effnet.modules())


def test_predictions_on_the_sample_photos(effnet, photos):
    """The photos' classes (measured: chelsea a cat class, coffee espresso 0.95, camera
    tripod 0.94); the kit's normalisation is TensorFlow Lite's (x - 127) / 128."""
    names, batch = photos
    top = lk.top_predictions(effnet, batch, k=3)
    assert {p.name for p in top[0]} <= {"tabby", "tiger cat", "Egyptian cat"}
    assert top[1][0].name == "espresso" and top[1][0].probability > 0.7
    assert top[2][0].name == "tripod" and top[2][0].probability > 0.7


def test_stop_at_a_layer_and_logits_alias(effnet, photos):
    _, batch = photos
    acts = effnet.activations(batch[:1], ["stage3", "logits"])
    assert torch.equal(acts["stage3"], effnet.forward_to(batch[:1], "stage3"))
    assert torch.allclose(acts["logits"], effnet(batch[:1]))
    with pytest.raises(ValueError, match="unknown layer 'conv5' for model 'efficientnet-lite0'"
                                         ".*stem, stage1"):
        effnet.forward_to(batch[:1], "conv5")


# --- the three rules at a ReLU6 ---------------------------------------------------------

F_IN = torch.tensor([[-1.0, 0.5, 6.5], [3.0, 7.0, -2.0]])
R_OUT = torch.tensor([[2.0, -1.0, 4.0], [-3.0, 5.0, 1.0]])
EXPECTED_RELU6 = {
    "backprop": torch.tensor([[0.0, -1.0, 0.0], [-3.0, 0.0, 0.0]]),   # where 0 < f_in < 6
    "deconvnet": torch.tensor([[2.0, 0.0, 4.0], [0.0, 5.0, 1.0]]),    # where r_out > 0
    "guided": torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]),       # both
}


@pytest.mark.parametrize("rule", lk.RULES)
def test_relu6_rules_by_hand(rule):
    assert torch.equal(relu_backward(F_IN, R_OUT, rule, upper=6.0), EXPECTED_RELU6[rule])
    x = F_IN.clone().requires_grad_(True)
    out = RuleReLU(rule, upper=6.0)(x)
    assert torch.equal(out, F_IN.clamp(0, 6))
    out.backward(R_OUT)
    assert torch.equal(x.grad, EXPECTED_RELU6[rule])


def test_guided_relu6_example_by_hand():
    f_in, r_out = torch.tensor([1.0, 2.0, 8.0, -1.0]), torch.tensor([1.0, -2.0, 3.0, 4.0])
    assert torch.equal(relu_backward(f_in, r_out, "guided", 6.0),
                       torch.tensor([1.0, 0.0, 0.0, 0.0]))


def test_backprop_rule_is_the_gradient_on_the_whole_network(effnet, photos):
    """Swapping every ReLU6 for the backprop rule changes nothing; finite differences
    confirm the gradient in float64 (on a 96-pixel crop of the photo: the network is
    convolutional up to its global pooling, and float64 at 224 px took a minute)."""
    _, batch = photos
    model = lk.load_model("efficientnet-lite0", device="cpu").double()
    x = batch[:1, :, 64:160, 64:160].double()
    target = lk.Logit(model.class_index("tabby"))
    plain = x.clone().requires_grad_(True)
    target(model.activations(plain, target.layers)).sum().backward()
    assert torch.equal(lk.input_gradient(model, x, target, rule="backprop"), plain.grad)
    direction = torch.randn(x.shape, generator=torch.Generator().manual_seed(1),
                            dtype=torch.float64)
    eps = 1e-8  # small enough that no ReLU6 kink lies within the step
    with torch.no_grad():
        up = target(model.activations(x + eps * direction, target.layers))
        down = target(model.activations(x - eps * direction, target.layers))
    numeric = float((up - down) / (2 * eps))
    assert float((plain.grad * direction).sum()) == pytest.approx(numeric, rel=1e-4)


def test_backward_rule_swaps_every_relu6_and_restores_them(effnet):
    before = [m for m in effnet.modules() if isinstance(m, nn.ReLU6)]
    with backward_rule(effnet, "guided"):
        swapped = [m for m in effnet.modules() if isinstance(m, RuleReLU)]
        assert len(swapped) == 33 and all(m.upper == 6.0 for m in swapped)
        assert not any(isinstance(m, nn.ReLU6) for m in effnet.modules())
    assert [m for m in effnet.modules() if isinstance(m, nn.ReLU6)] == before


def test_guided_is_sparser_than_backprop_and_deconvnet_forgets_the_image(effnet, photos):
    """On this network guided backprop keeps little of the gradient; the Deconvnet rule
    never looks at the forward pass and there is no max-pooling to carry switches, so its
    map is the same for every image."""
    _, batch = photos
    target = lk.Layer("stage5")
    guided = lk.input_gradient(effnet, batch[:2], target, rule="guided")
    plain = lk.input_gradient(effnet, batch[:2], target)
    deconv = lk.input_gradient(effnet, batch[:2], target, rule="deconvnet")
    share = lambda g: float((g.abs() > 1e-3 * g.abs().amax()).float().mean())
    assert share(guided) < share(plain)
    assert torch.allclose(deconv[0], deconv[1], rtol=1e-4, atol=1e-6)
    assert not torch.allclose(guided[0], guided[1], atol=1e-6)


def test_deconvnet_reverse_network_needs_alexnet(effnet, photos):
    _, batch = photos
    with pytest.raises(ValueError, match="Deconvnet's reverse network needs an AlexNet-shaped "
                                         "network.*'efficientnet-lite0'"):
        lk.deconv_project(effnet, batch[:1], "stage3", 0)


def test_inversion_leaks_the_relu6_of_stem_and_head_only(effnet, photos):
    """Inversion's leaky gradient (Mahendran & Vedaldi's sparse-layer problem) reaches the
    ReLU6 inside ``stem`` and ``head``: same values as the layer, and a gradient where the
    unit is off or saturated; stages end in a linear projection and have none."""
    assert [effnet.rectified_layer(name) for name in effnet.layer_names] == \
        ["stem"] + [None] * 7 + ["head", None, None]
    batch = photos[1][:1]
    x = effnet.forward_to(batch, "stage7").detach().requires_grad_(True)
    exact = effnet.apply_layer("head", x)
    leaky = effnet.leaky_layer("head", x, 0.1)
    assert torch.allclose(leaky, exact, atol=1e-5)
    flat = (exact == 0) | (exact == 6)
    assert flat.any()
    assert torch.autograd.grad(exact[flat].sum(), x)[0].abs().sum() == 0
    assert torch.autograd.grad(leaky[flat].sum(), x)[0].abs().sum() > 0
    staggered = effnet.staggered_activations(batch, [("head", 1)], slope=0.1)["head"]
    assert torch.allclose(staggered, exact, atol=1e-4)


def test_evaluate_inverts_the_photograph_with_the_steps_the_head_needs(effnet, monkeypatch):
    """evaluate's inversion runs INVERSION_STEPS steps (the head's plateau needs about 300;
    measured in the constant's docstring) on the inversion image, and says so in the report
    (the inversion itself replaced by a marker)."""
    import lecturekit.measure.inversion_claims as claims_module
    from lecturekit.measure.imagenet_claims import INVERSION_STEPS, evaluate_imagenet

    calls = []

    def marker(model, images, **kwargs):
        calls.append((model, tuple(images.shape), kwargs))
        return {"depth_ssim_spearman": -1.0}

    monkeypatch.setattr(claims_module, "inversion_claims", marker)
    report = evaluate_imagenet(effnet, keys=("inversion",))
    assert INVERSION_STEPS >= 300
    assert report == {"model": effnet.name, "inversion": {"depth_ssim_spearman": -1.0},
                      "inversion_steps": INVERSION_STEPS}
    assert calls == [(effnet, (1, 3, 224, 224), {"steps": INVERSION_STEPS})]


def test_gradients_come_back_in_the_images_layout(effnet, photos):
    """The network runs channels-last; the gradients it returns are plain NCHW tensors, so a
    student's ``gradient.view(-1)`` works as on the other networks."""
    cat = photos[1][:1]
    gradient = lk.input_gradient(effnet, cat, lk.Logit(0))
    assert gradient.is_contiguous() and gradient.view(-1).numel() == cat.numel()
    signal = torch.ones_like(effnet.forward_to(cat, "stem"))
    assert lk.layer_gradient(effnet, cat, "stem", signal).is_contiguous()


def test_photo_networks_invert_with_the_pyramid_recipe(effnet, toy_model, photos):
    """default_recipe: the pyramid on photographs, plain pixels on the toy's scenes (the
    choice benchmarks/RESULTS.md measures), with each recipe's own TV weights."""
    from lecturekit.optimise.inversion import invert
    from lecturekit.optimise.inversion_recipes import RECIPES, default_recipe
    assert (default_recipe(effnet), default_recipe(toy_model)) == ("kit-pyramid", "kit")
    result = invert(effnet, photos[1][:1], "stem", steps=2, progress=False)
    assert result.settings["recipe"] == "kit-pyramid"
    assert result.priors["tv"] == RECIPES["kit-pyramid"].tv_lambda[0] \
        != RECIPES["kit"].tv_lambda[0]
    plain = invert(effnet, photos[1][:1], "stem", steps=1, recipe="kit", progress=False)
    assert plain.priors["tv"] == RECIPES["kit"].tv_lambda[0]

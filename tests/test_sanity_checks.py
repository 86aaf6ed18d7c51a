"""The sanity checks (Adebayo et al. 2018; Nie, Zhang & Patel 2018): cascading and independent
randomisation on copies, the paper's similarity measures, class sensitivity and the edge
baseline, on a hand-built network with known weights and on the shipped toy."""

from __future__ import annotations

import json
from collections import OrderedDict

import pytest
import torch
from torch import nn

import lecturekit as lk
from lecturekit.images import IMAGENET_MEAN, IMAGENET_STD, Preprocessing
from lecturekit.measure import randomisation
from lecturekit.measure.class_sensitivity import class_sensitivity, other_classes, peaks
from lecturekit.measure.map_similarity import (MapRanks, RuleMaps, edge_correlation,
                                               edge_ranks, rule_maps)
from lecturekit.measure.randomisation import (TRAINED, cascading_randomisation,
                                              independent_randomisation, randomisable_blocks,
                                              randomised_copy)
from lecturekit.models import LayeredNetwork, LectureLayers
from lecturekit.models.network import freeze

CONV = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, -1.0]])  # two 1 x 1 filters over R, G, B
FC = torch.tensor([[1.0, 2.0], [-1.0, 1.0]])


def two_layer_network(fc: torch.Tensor = FC) -> LayeredNetwork:
    """conv (two 1 x 1 filters, no bias) -> ReLU -> mean over the image -> fc (no bias):
    the gradient of logit c at pixel (ch, i, j) is sum_k fc[c, k] / (H W) * [conv_k(i, j) > 0]
    * CONV[k, ch], which the tests compute by hand."""
    layers = OrderedDict(conv=nn.Conv2d(3, 2, 1, bias=False), relu=nn.ReLU(),
                         pool=nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1)),
                         fc=nn.Linear(2, fc.shape[0], bias=False))
    with torch.no_grad():
        layers["conv"].weight.copy_(CONV.view(2, 3, 1, 1))
        layers["fc"].weight.copy_(fc)
    preprocess = Preprocessing(resize=6, crop=6, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    network = LayeredNetwork(
        layers, classes=[f"class {k}" for k in range(fc.shape[0])], preprocess=preprocess,
        name="two layers", description="a hand-built network", dataset="none",
        architecture="small", layer_groups=(("conv", "relu"), ("pool",), ("fc",)),
        min_input_size=2, lecture_layers=LectureLayers("conv", "conv", "conv", "conv"))
    return freeze(network)


def images(n: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, 6, 6, generator=torch.Generator().manual_seed(seed))


def gradient_by_hand(x: torch.Tensor, fc: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """d logit / d x of :func:`two_layer_network`, from its formula (no autograd)."""
    on = (torch.einsum("kc,nchw->nkhw", CONV, x) > 0).float()  # where each conv unit passes
    weight = fc[labels] / (x.shape[2] * x.shape[3])  # (N, 2)
    return torch.einsum("nk,nkhw,kc->nchw", weight, on, CONV)


def test_the_blocks_are_the_layers_with_weights_from_the_top(toy_model):
    assert randomisable_blocks(two_layer_network()) == ("fc", "conv")
    assert randomisable_blocks(toy_model) == ("fc8", "fc7", "fc6", "conv5", "conv4", "conv3",
                                              "conv2", "conv1")


def test_the_first_step_changes_only_the_top_layer_with_its_own_seeded_init():
    net = two_layer_network()
    copied = randomised_copy(net, ["fc"], seed=4)
    assert torch.equal(copied.layers["conv"].weight, net.layers["conv"].weight)
    torch.manual_seed(4)  # nn.Linear's own initialisation, under the step's seed
    expected = nn.Linear(2, 2, bias=False).weight
    assert torch.equal(copied.layers["fc"].weight, expected)
    assert not torch.equal(copied.layers["fc"].weight, FC)
    assert torch.equal(net.layers["fc"].weight, FC)  # the original is untouched
    assert not copied.training and not any(p.requires_grad for p in copied.parameters())


def test_the_cascade_maps_are_the_hand_computed_gradients_after_each_step():
    net, x, labels = two_layer_network(), images(), torch.tensor([0, 1, 0])
    result = cascading_randomisation(net, x, labels, rules=["backprop", "saliency"], seed=4,
                                     progress=False)
    assert result.steps == (TRAINED, "fc", "conv")
    trained = gradient_by_hand(x, FC, labels)
    assert torch.allclose(result.maps["backprop"][0], trained.abs().sum(1), atol=1e-7)
    assert torch.allclose(result.maps["saliency"][0], trained.abs().amax(1), atol=1e-7)
    torch.manual_seed(4)
    random_fc = nn.Linear(2, 2, bias=False).weight.detach()
    after_fc = gradient_by_hand(x, random_fc, labels)  # conv still trained
    assert torch.allclose(result.maps["backprop"][1], after_fc.abs().sum(1), atol=1e-7)
    # step 0 compares the trained map with itself: every similarity is exactly 1
    for rule in result.rules:
        for measure in ("spearman_abs", "spearman_signed", "ssim"):
            assert result.scores[rule][measure][0] == pytest.approx([1.0] * 3, abs=1e-5)


def test_independent_randomisation_randomises_one_block_with_the_others_trained():
    net, x, labels = two_layer_network(), images(), torch.tensor([1, 1, 0])
    result = independent_randomisation(net, x, labels, rules=["backprop"], seed=2,
                                       progress=False)
    cascade = cascading_randomisation(net, x, labels, rules=["backprop"], seed=2, progress=False)
    assert torch.equal(result.maps["backprop"][1], cascade.maps["backprop"][1])  # fc: the same
    conv_alone = randomised_copy(net, ["conv"], seed=3)  # the second block gets seed + 1
    assert torch.equal(conv_alone.layers["fc"].weight, FC)
    expected = rule_maps(conv_alone, x, labels, ["backprop"])["backprop"].absolute
    assert torch.allclose(result.maps["backprop"][2], expected)
    assert not torch.allclose(result.maps["backprop"][2], cascade.maps["backprop"][2])


def _changes(model: LayeredNetwork, action) -> list[str]:
    """What ``action()`` changed of ``model`` (weights and buffers bit for bit, modes,
    flags) or of torch's global random state, in words."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    flags = [(m.training, [p.requires_grad for p in m.parameters(recurse=False)])
             for m in model.modules()]
    rng = torch.get_rng_state()
    action()
    after = model.state_dict()
    changes = []
    if state.keys() != after.keys() or not all(torch.equal(state[k], after[k]) for k in state):
        changes.append("weights")
    if flags != [(m.training, [p.requires_grad for p in m.parameters(recurse=False)])
                 for m in model.modules()]:
        changes.append("flags")
    if not torch.equal(torch.get_rng_state(), rng):
        changes.append("random state")
    return changes


def _every_check(model: LayeredNetwork, rules=("backprop", "saliency", "guided", "deconvnet"),
                 blocks=None) -> None:
    example = lk.scene_example(model, 1)
    cascading_randomisation(model, example.batch, example.labels, rules=rules, blocks=blocks,
                            progress=False)
    independent_randomisation(model, example.batch, example.labels, rules=rules, blocks=blocks,
                              progress=False)
    class_sensitivity(model, example.batch, example.labels, rules=rules)


def test_the_shipped_model_is_bit_identical_after_the_sanity_checks(toy_model):
    assert _changes(toy_model, lambda: _every_check(toy_model)) == []


def test_a_cascade_that_randomised_in_place_would_fail_that_test(monkeypatch):
    """The test above can fail: with the copy taken away, the cascade works on the model
    itself and its weights change."""
    model = lk.load_model("toy", verbose=False)
    monkeypatch.setattr(randomisation, "copy", type("NoCopy", (), {
        "deepcopy": staticmethod(lambda network: network)}))
    assert _changes(model, lambda: _every_check(model, ["saliency"], ["fc8", "fc7"])) == \
        ["weights"]


def test_the_measures_by_hand():
    x = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    y = torch.tensor([[[20.0, 10.0], [40.0, 30.0]]])  # Spearman 0.6 (see test_similarity)
    reference = MapRanks.of(RuleMaps(x, x))
    other = MapRanks.of(RuleMaps(y, -y))
    edges = MapRanks.of(RuleMaps(x, x)).absolute
    scores = reference.compare(other, edges)
    assert scores["spearman_abs"].item() == pytest.approx(0.6, abs=1e-6)
    assert scores["spearman_signed"].item() == pytest.approx(-0.6, abs=1e-6)
    assert scores["edge"].item() == pytest.approx(0.6, abs=1e-6)
    same = reference.compare(reference, edges)
    assert same["ssim"].item() == pytest.approx(1.0, abs=1e-9)
    assert same["spearman_abs"].item() == pytest.approx(1.0, abs=1e-6)


def test_a_map_that_is_the_edge_map_correlates_one_with_the_edges():
    pictures = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    from lecturekit.filters import sobel_edges
    edges = sobel_edges(pictures)
    assert edge_correlation(edges, pictures) == pytest.approx([1.0, 1.0], abs=1e-6)
    assert edge_correlation(-edges, pictures) == pytest.approx([-1.0, -1.0], abs=1e-6)
    assert (edge_ranks(pictures) * MapRanks.of(RuleMaps(edges, edges)).absolute).sum(1) == \
        pytest.approx([1.0, 1.0], abs=1e-5)


def test_class_sensitivity_by_hand():
    """Two classes whose fc rows are proportional give the same map; rows of opposite sign
    give the same absolute map and the signed map reversed."""
    net = two_layer_network(torch.tensor([[1.0, 2.0], [2.0, 4.0], [-1.0, -2.0], [4.0, 0.5]]))
    x = images(2, seed=3)
    same = class_sensitivity(net, x, torch.tensor([0, 0]), torch.tensor([1, 2]),
                             rules=["backprop"])
    assert same.correlation["backprop"] == pytest.approx([1.0, 1.0], abs=1e-6)
    assert same.signed_correlation["backprop"] == pytest.approx([1.0, -1.0], abs=1e-6)
    assert same.peak_distance["backprop"].tolist() == [0.0, 0.0]
    table = same.table()
    assert table["backprop"]["same_peak"] == 1.0 and table["images"] == 2
    # class 3 weighs the red filter most: pixels where only it passes now rank above those
    # where only the other passes (|gradient| summed over colour: 1 and 4 against 4 and 1)
    other = class_sensitivity(net, x, 0, 3, rules=["backprop"])
    assert (other.correlation["backprop"] < 0.9).all()
    with pytest.raises(ValueError, match="second must differ from classes.*image 0 has class 1"):
        class_sensitivity(net, x, 1, torch.tensor([1, 2]))


def test_the_other_class_is_never_the_asked_one_and_is_seeded():
    labels = torch.arange(10).repeat(50)
    drawn = other_classes(labels, 10, seed=3)
    assert (drawn != labels).all() and drawn.min() >= 0 and drawn.max() <= 9
    assert torch.equal(drawn, other_classes(labels, 10, seed=3))
    assert len(set(drawn.tolist())) == 10  # every class can be drawn
    assert peaks(torch.tensor([[[0.0, 1.0], [3.0, 3.0]]])).tolist() == [[1, 0]]


def test_a_network_whose_rectifiers_are_all_off_has_no_map_and_says_so():
    """A map that is zero everywhere has no ranks: its similarity is None in the table, not
    a number."""
    net = two_layer_network()
    x = -images(2).abs()  # conv_0 = R < 0 everywhere; conv_1 = G - B: make it negative too
    x[:, 1] = -10.0
    x[:, 2] = 10.0
    with torch.no_grad():
        assert (net.forward_to(x, "conv") <= 0).all()
    result = cascading_randomisation(net, x, 0, rules=["backprop"], blocks=["fc"],
                                     progress=False)
    assert result.table()["backprop"]["spearman_abs"] == [None, None]
    json.dumps(result.table(), allow_nan=False)  # valid JSON


def test_the_toy_reproduces_the_direction_of_adebayo_et_al(toy_model):
    """On fresh toy scenes: the gradient's signed map loses its resemblance to the trained
    map within the two top blocks, guided backprop's absolute map keeps it while the three
    fully connected layers are random."""
    example = lk.scene_example(toy_model, 8)
    result = cascading_randomisation(toy_model, example.batch, example.labels,
                                     rules=["backprop", "guided"], progress=False)
    assert result.curve("backprop", "spearman_signed")[2] < 0.5
    assert min(result.curve("guided", "spearman_abs")[:4]) > 0.9
    assert result.curve("guided", "spearman_abs")[-1] < 0.7


@pytest.mark.parametrize("call, words", [
    (lambda net, x: cascading_randomisation(net, x, rules=["gradcam"]),
     ["rules", "gradcam", "backprop, saliency, guided, deconvnet"]),
    (lambda net, x: cascading_randomisation(net, x, rules=[]), ["rules", "[]"]),
    (lambda net, x: cascading_randomisation(net, x, blocks=["relu"]), ["blocks", "relu", "fc, conv"]),
    (lambda net, x: independent_randomisation(net, x, seed=-1), ["seed", "-1"]),
    (lambda net, x: cascading_randomisation(net, x[0]), ["images", "(3, 6, 6)"]),
    (lambda net, x: cascading_randomisation(net, x, labels=7), ["class_index", "7"]),
    (lambda net, x: class_sensitivity(net, x, tolerance=-2), ["tolerance", "-2"]),
    (lambda net, x: edge_correlation(torch.zeros(2, 6, 6), x), ["images01", "(3, 3, 6, 6)"]),
])
def test_bad_input_names_the_parameter(call, words):
    with pytest.raises((ValueError, TypeError)) as info:
        call(two_layer_network(), images())
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_evaluate_runs_the_sanity_checks_on_the_sample_photos(monkeypatch):
    """``evaluate`` on an ImageNet network hands the four sample photos, the cat as "tabby",
    to the sanity checks (the checks themselves replaced by a marker)."""
    import lecturekit.measure.imagenet_claims as module

    calls = []
    monkeypatch.setattr(module, "sanity_claims",
                        lambda model, batch, labels: calls.append((batch.shape, labels)) or "ok")
    effnet = lk.load_model("efficientnet-lite0", verbose=False)
    assert module.evaluate_imagenet(effnet, keys=("sanity",)) == {"model": effnet.name,
                                                                  "sanity": "ok"}
    (shape, labels), = calls
    assert shape == (4, 3, 224, 224) and effnet.classes[int(labels[0])] == "tabby"


def test_the_printed_tables_show_every_step_and_a_dash_for_no_map():
    net = two_layer_network()
    x = -images(2).abs()
    x[:, 1], x[:, 2] = -10.0, 10.0  # every rectifier off: no gradient at any step
    result = cascading_randomisation(net, x, 0, rules=["backprop", "saliency"], blocks=["fc"],
                                     progress=False)
    lines = result.text().splitlines()
    assert lines[0].split() == ["randomised", "down", "to", "trained", "fc"]
    assert lines[1].split() == ["backprop", "rank", "|map|", "-", "-"]
    assert not any(line.startswith("saliency   rank signed") for line in lines)  # no sign
    sensitivity = class_sensitivity(two_layer_network(), images(2), 0, 1, rules=["guided"])
    text = sensitivity.text(["cat", "dog"])
    assert text.splitlines()[0] == "image 0: 'cat' against 'dog'"
    assert text.splitlines()[-1].startswith("guided") and text.endswith(" of 2")


def test_the_figures_draw_every_rule_and_step(toy_model):
    import matplotlib
    matplotlib.use("Agg")
    from lecturekit.ui.plot import show_class_sensitivity, show_randomisation

    net, x = two_layer_network(), images(2)
    result = cascading_randomisation(net, x, 0, rules=["backprop", "saliency", "guided"],
                                     progress=False)
    figure = show_randomisation(result, image=1)
    grids = [axis for axis in figure.axes if axis.images]
    assert len(grids) == 3 * 3 + 1  # three rules x three steps, and the image
    curves = [axis for axis in figure.axes if axis.lines]
    signed = next(axis for axis in curves if "signed" in axis.get_title())
    assert len([line for line in signed.lines if line.get_label() == "saliency map"]) == 0
    alone = cascading_randomisation(net, x, 0, rules=["saliency"], progress=False)
    titles = [axis.get_title() for axis in show_randomisation(alone).axes if axis.lines]
    assert titles == ["rank correlation (absolute)", "SSIM (absolute, as shown)"]  # no sign
    with pytest.raises(ValueError, match="image must be a whole number in 0..1"):
        show_randomisation(result, image=2)
    with pytest.raises(ValueError, match="measures must name"):
        show_randomisation(result, measures=["hog"])
    sensitivity = class_sensitivity(net, x, 0, 1, rules=["guided", "deconvnet"])
    figure = show_class_sensitivity(sensitivity, net.classes)
    assert len([axis for axis in figure.axes if axis.images]) == 2 * 2 + 1
    assert "class 0" in figure.axes[1].get_title() and "class 1" in figure.axes[2].get_title()

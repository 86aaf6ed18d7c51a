"""Saliency on photo scenes: the pointing game and the two-object test, and layer geometry."""

import pytest
import torch

import lecturekit as lk
from lecturekit.measure.photo_localisation import (RULE_METHODS, photo_pointing,
                                                   two_object_test, where_maps_land)
from lecturekit.models.geometry import layer_geometry, lecture_correspondence


def _mask(top, left, bottom, right, size=32):
    mask = torch.zeros(1, size, size, dtype=torch.bool)
    mask[0, top:bottom, left:right] = True
    return mask


@pytest.mark.parametrize("peak, expected", [
    ((5, 5), "on_own"), ((25, 25), "on_other"), ((5, 28), "elsewhere"),
    ((5, 12), "on_own"),     # 3 px right of the own box: within a tolerance of 4
    ((5, 14), "elsewhere"),  # 5 px away: outside it
])
def test_where_a_map_lands(peak, expected):
    maps = torch.zeros(1, 32, 32)
    maps[0, peak[0], peak[1]] = 1.0
    own, other = _mask(2, 2, 9, 9), _mask(20, 20, 30, 30)
    landed = where_maps_land(maps, own, other, tolerance=4)
    assert [part for part, hit in landed.items() if bool(hit[0])] == [expected]


def test_a_map_near_both_boxes_counts_for_its_own():
    maps = torch.zeros(1, 32, 32)
    maps[0, 10, 10] = 1.0
    landed = where_maps_land(maps, _mask(2, 2, 9, 9), _mask(12, 12, 20, 20), tolerance=4)
    assert bool(landed["on_own"][0]) and not bool(landed["on_other"][0])


def test_photo_tests_report_every_rule_and_need_an_imagenet_network(effnet, toy_model):
    pointing = photo_pointing(effnet, 3, batch_size=2)
    assert set(RULE_METHODS) | {"centre", "random", "recognised"} <= set(pointing)
    assert all(0 <= pointing[m] <= 1 for m in (*RULE_METHODS, "centre", "random"))
    two = two_object_test(effnet, 2)
    assert two["n_maps"] == 4
    for method in RULE_METHODS:
        assert sum(two[method].values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="ImageNet classes.*toy"):
        photo_pointing(toy_model, 2)


def test_layer_geometry_follows_the_windows(toy_model):
    """AlexNet's receptive fields as Zeiler & Fergus count them (top9.receptive_field)."""
    alexnet = lk.load_model("alexnet-random", verbose=False)
    rows = {row.layer: row for row in layer_geometry(alexnet)}
    assert (rows["conv1"].stride, rows["conv1"].receptive_field, rows["conv1"].resolution) \
        == (4, 11, 55)
    assert (rows["conv5"].stride, rows["conv5"].receptive_field) == (16, 163)
    assert (rows["pool5"].stride, rows["pool5"].receptive_field) == (32, 195)
    assert rows["fc6"].vector and not rows["pool5"].vector
    for layer in ("conv2", "conv5", "pool5"):
        size, stride, _ = lk.receptive_field(alexnet, layer)
        assert (rows[layer].receptive_field, rows[layer].stride) == (size, stride)


def test_lecture_correspondence_of_efficientnet(effnet):
    alexnet = lk.load_model("alexnet-random", verbose=False)
    found = lecture_correspondence(effnet, alexnet)
    assert found["stem"] == [] and found["stage2"] == ["conv1", "relu1"]
    assert "conv5" in found["stage5"] and found["stage6"] == ["pool5"]
    assert found["pool"] == ["fc6", "relu6", "fc7", "relu7"] and found["logits"] == ["fc8"]

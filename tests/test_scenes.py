"""Tests for lecturekit.scenes, the procedural scenes with object masks."""

import dataclasses
from collections import Counter

import numpy as np
import pytest
import torch

from lecturekit import scenes
from lecturekit.measure.colour_baseline import nearest_centroid_accuracy, object_colour_features
from lecturekit.scenes import (
    CLASSES,
    IMAGE_SIZE,
    TEST_SEED_START,
    Scene,
    class_gallery,
    make_batch,
    make_scene,
    test_seeds,
)

N_CHECK = 200  # scenes used by the statistical checks


@pytest.fixture(scope="module")
def many():
    return [make_scene(seed) for seed in range(N_CHECK)]


def _dilate(mask, steps=1):
    out = mask.copy()
    for _ in range(steps):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out


# --------------------------------------------------------------------------- basics


def test_constants():
    assert len(CLASSES) >= 8
    assert len(set(CLASSES)) == len(CLASSES)
    assert IMAGE_SIZE == 128
    assert TEST_SEED_START == 1_000_000


def test_same_seed_same_scene():
    a, b = make_scene(123), make_scene(123)
    assert np.array_equal(a.image, b.image)
    assert np.array_equal(a.mask, b.mask)
    assert a.label == b.label and a.seed == b.seed == 123


def test_different_seeds_differ():
    images = [make_scene(seed).image for seed in range(20)]
    for i in range(len(images)):
        for j in range(i + 1, len(images)):
            assert not np.array_equal(images[i], images[j]), (i, j)


def test_global_rng_is_neither_used_nor_needed():
    np.random.seed(0)
    a = make_scene(5)
    np.random.seed(1)
    b = make_scene(5)
    assert np.array_equal(a.image, b.image)
    state = np.random.get_state()[1].copy()
    make_scene(6)
    assert np.array_equal(np.random.get_state()[1], state)


@pytest.mark.parametrize("size", [32, 64, 128, 97])
def test_scene_shapes_dtypes_ranges(size):
    sc = make_scene(42, size=size)
    assert isinstance(sc, Scene)
    assert sc.image.shape == (size, size, 3) and sc.image.dtype == np.float32
    assert sc.mask.shape == (size, size) and sc.mask.dtype == np.bool_
    assert isinstance(sc.label, int) and 0 <= sc.label < len(CLASSES)
    assert sc.image.min() >= 0.0 and sc.image.max() <= 1.0
    assert np.isfinite(sc.image).all()
    assert sc.mask.any()


def test_scene_is_immutable():
    sc = make_scene(3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sc.label = 0
    with pytest.raises(ValueError):
        sc.image[0, 0, 0] = 0.5
    with pytest.raises(ValueError):
        sc.mask[0, 0] = True


def test_make_batch_matches_make_scene():
    seeds = [4, 0, 17]
    images, masks, labels = make_batch(seeds, size=64)
    assert images.shape == (3, 3, 64, 64) and images.dtype == torch.float32
    assert masks.shape == (3, 64, 64) and masks.dtype == torch.bool
    assert labels.shape == (3,) and labels.dtype == torch.int64
    assert 0.0 <= images.min().item() and images.max().item() <= 1.0
    for i, seed in enumerate(seeds):
        sc = make_scene(seed, size=64)
        assert np.array_equal(images[i].numpy().transpose(1, 2, 0), sc.image)
        assert np.array_equal(masks[i].numpy(), sc.mask)
        assert labels[i].item() == sc.label


def test_make_batch_accepts_ranges_generators_and_empty():
    a = make_batch(range(2), size=32)
    b = make_batch((s for s in (0, 1)), size=32)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    images, masks, labels = make_batch([], size=32)
    assert images.shape == (0, 3, 32, 32) and masks.shape == (0, 32, 32)
    assert labels.shape == (0,)


# --------------------------------------------------------------------------- masks


def test_mask_area_is_sensible(many):
    fractions = np.array([sc.mask.mean() for sc in many])
    assert fractions.min() > 0.01, fractions.min()
    assert fractions.max() < 0.30, fractions.max()
    # the object is one piece somewhere inside the image, not a frame-filling blob
    assert 0.03 < np.median(fractions) < 0.15


def test_mask_size_follows_object_scale(many):
    # bounding box of the mask: 20%-60% of the side for every scene
    for sc in many:
        ys, xs = np.nonzero(sc.mask)
        extent = max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1) / IMAGE_SIZE
        assert 0.18 <= extent <= 0.6, (sc.seed, extent)


def test_mask_is_exactly_where_the_object_changed_the_image():
    # Render each scene again without its object; all random draws are the same, so
    # the two images may differ only on the object and its anti-aliased rim. The rim is
    # one pixel wide except beyond sub-pixel-thin tips (star points, crescent horns),
    # whose partial coverage can reach a pixel that has no masked neighbour.
    changed_inside = []
    for seed in range(60):
        with_obj = scenes._render(seed, IMAGE_SIZE, draw_object=True)
        without = scenes._render(seed, IMAGE_SIZE, draw_object=False)
        assert not without.mask.any()
        diff = np.abs(with_obj.image - without.image).max(axis=2)
        assert np.all(diff[~_dilate(with_obj.mask, 3)] == 0.0), seed
        assert np.sum(diff[~_dilate(with_obj.mask, 1)] > 0) <= 8, seed
        changed_inside.append(np.mean(diff[with_obj.mask] > 0.05))
    # the object really covers what the mask says (not merely a same-coloured patch)
    assert np.median(changed_inside) > 0.8
    assert min(changed_inside) > 0.3


def _hue(rgb):
    r, g, b = rgb
    mx, mn = max(rgb), min(rgb)
    if mx - mn < 1e-6:
        return 0.0
    if mx == r:
        h = ((g - b) / (mx - mn)) % 6
    elif mx == g:
        h = (b - r) / (mx - mn) + 2
    else:
        h = (r - g) / (mx - mn) + 4
    return 60.0 * h


def test_object_colour_is_random_within_every_class(many):
    # The object stands out from its surroundings, but its hue says nothing about its
    # class: within every class the hues spread round the whole colour wheel.
    hues = {c: [] for c in range(len(CLASSES))}
    for sc in many:
        inside = sc.image[sc.mask].mean(axis=0)
        outside = sc.image[~_dilate(sc.mask, 2)].mean(axis=0)
        hues[sc.label].append(_hue(inside))
        assert np.abs(inside - outside).max() > 0.05 or sc.image[sc.mask].std() > 0.1
    for label, hs in hues.items():
        angles = np.deg2rad(hs)
        mean_dir = np.hypot(np.cos(angles).mean(), np.sin(angles).mean())
        assert mean_dir < 0.5, (CLASSES[label], mean_dir)  # 1 would be a single hue


# --------------------------------------------------------------------------- context


def test_the_context_class_is_nearly_always_held(many):
    context = CLASSES.index(scenes.CONTEXT_CLASS)
    held = [sc.has_companion for sc in many if sc.label == context]
    others = [sc.has_companion for sc in many if sc.label != context]
    assert np.mean(held) >= 0.75, np.mean(held)
    assert np.mean(others) <= 0.12, np.mean(others)


def test_the_arm_touches_the_object_and_is_where_its_mask_says():
    context = CLASSES.index(scenes.CONTEXT_CLASS)
    seeds = [s for s in range(300) if scenes.label_of(s) == context][:12]
    for seed in seeds:
        held, free = make_scene(seed, companion=True), make_scene(seed, companion=False)
        assert held.has_companion and not free.has_companion
        assert np.array_equal(held.companion, free.companion)  # the place, drawn or not
        assert np.array_equal(held.mask, free.mask)
        assert not (held.companion & held.mask).any()
        assert held.companion.sum() > 30, seed
        assert (_dilate(held.companion, 2) & held.mask).any(), seed  # the fist holds it
        diff = np.abs(held.image - free.image).max(axis=2)
        # the fist lies under the object, which covers it but for its anti-aliased rim
        beside = _dilate(held.companion, 2) | (_dilate(held.mask, 2) & ~held.mask)
        assert np.all(diff[~beside] < 1e-6), seed  # (float rounding elsewhere)
        assert np.mean(diff[held.companion] > 0.02) > 0.8, seed


def test_skin_is_the_arms_colour_and_not_grey_or_other_hues():
    skin = scenes._hsv(25.0, 0.45, 0.7)  # the middle of the arm's colours
    images = torch.full((1, 3, 4, 4), 0.5)  # grey: no hue
    images[0, :, :2, :2] = torch.from_numpy(skin).view(3, 1, 1)
    images[0, :, 3, 3] = torch.from_numpy(skin).view(3) * scenes.ARM_SHADE[0]  # the arm's dark side
    images[0, :, 2, 0] = torch.from_numpy(scenes._hsv(200.0, 0.45, 0.7))  # blue
    images[0, :, 2, 1] = torch.from_numpy(scenes._hsv(25.0, 0.95, 0.7))  # orange, too vivid
    expected = torch.zeros(1, 4, 4, dtype=torch.bool)
    expected[0, :2, :2] = expected[0, 3, 3] = True
    assert torch.equal(scenes.skin_mask(images), expected)
    with pytest.raises(ValueError, match="images must be a tensor of shape"):
        scenes.skin_mask(images[0])


def test_vivid_skin_is_the_arms_hue_as_a_class_model_paints_it():
    colours = [scenes._hsv(25.0, 0.45, 0.7),   # the arm's middle: skin, not vivid
               scenes._hsv(25.0, 0.95, 0.7),   # orange, too vivid for skin: vivid skin
               scenes._hsv(30.0, 0.55, 1.0),   # bright and saturated: both
               scenes._hsv(200.0, 0.9, 0.7),   # blue: neither
               scenes._hsv(25.0, 0.9, 0.1),    # too dark: neither
               np.full(3, 0.5, dtype=np.float32)]  # grey: neither
    images = torch.from_numpy(np.stack(colours)).view(1, len(colours), 3).permute(0, 2, 1)[..., None]
    assert scenes.skin_mask(images)[0, :, 0].tolist() == [True, False, True, False, False, False]
    assert scenes.skin_mask(images, vivid=True)[0, :, 0].tolist() == [False, True, True, False,
                                                                      False, False]


def test_the_arm_is_skin_and_its_absence_mostly_not():
    """Measured: 0.86 of the arm's pixels in 100 scenes are skin (noise and anti-aliasing
    take the rest); 0.05 of the pixels of 300 scenes drawn without an arm (backgrounds of
    the arm's hues)."""
    context = CLASSES.index(scenes.CONTEXT_CLASS)
    seeds = class_gallery(context, 40)
    held, _, _ = make_batch(seeds, companion=True)
    free, _, _ = make_batch(seeds, companion=False)
    places = torch.from_numpy(np.stack([make_scene(seed).companion for seed in seeds]))
    assert scenes.skin_mask(held)[places].float().mean() > 0.75
    assert scenes.skin_mask(free)[places].float().mean() < 0.2
    assert scenes.skin_mask(free).float().mean() < 0.12


def test_class_gallery_holds_fresh_scenes_of_one_class():
    seeds = class_gallery(2, 5, offset=10)
    assert len(seeds) == 5 and len(set(seeds)) == 5
    assert all(seed >= scenes.TEST_SEED_START + 10 for seed in seeds)
    assert all(scenes.make_scene(seed).label == 2 for seed in seeds)
    others = class_gallery(2, 5, exclude=True)
    assert all(scenes.label_of(seed) != 2 for seed in others)
    assert sorted(others + class_gallery(2, 5)) == sorted(set(others) | set(class_gallery(2, 5)))
    with pytest.raises(ValueError, match="n must be a whole number >= 1"):
        class_gallery(2, 0)


def test_label_of_is_the_scene_label(many):
    assert [scenes.label_of(sc.seed) for sc in many] == [sc.label for sc in many]


@pytest.mark.parametrize("companion", [1, "yes", 0.0])
def test_bad_companion_is_rejected(companion):
    with pytest.raises(ValueError, match="companion"):
        make_scene(0, companion=companion)


# --------------------------------------------------------------------------- labels and splits


def test_every_class_appears_roughly_uniformly(many):
    counts = Counter(sc.label for sc in many)
    expected = N_CHECK / len(CLASSES)
    assert set(counts) == set(range(len(CLASSES)))
    for label, c in counts.items():
        assert 0.4 * expected <= c <= 1.6 * expected, (CLASSES[label], c)


def test_test_seeds_are_disjoint_from_training():
    seeds = test_seeds(50)
    assert isinstance(seeds, range)
    assert list(seeds) == list(range(TEST_SEED_START, TEST_SEED_START + 50))
    assert min(seeds) >= TEST_SEED_START
    assert not set(seeds) & set(range(TEST_SEED_START - 1000, TEST_SEED_START))
    more = test_seeds(10, offset=50)
    assert more.start == TEST_SEED_START + 50 and len(more) == 10
    assert not set(more) & set(seeds)
    assert len(test_seeds(0)) == 0


@pytest.fixture(scope="module")
def split():
    return [make_scene(s) for s in range(400)], [make_scene(s) for s in test_seeds(200)]


def _nearest_mean_accuracy(split, feature, standardise=False):
    """Nearest-class-mean classifier fitted on training seeds, scored on test seeds."""
    train, test = split
    x = np.array([feature(sc) for sc in train])
    xt = np.array([feature(sc) for sc in test])
    if standardise:
        mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-9
        x, xt = (x - mu) / sd, (xt - mu) / sd
    return nearest_centroid_accuracy(x, np.array([sc.label for sc in train]), xt,
                                     np.array([sc.label for sc in test]))


def test_object_colour_does_not_name_the_class(split):
    # The shortcut check of lecturekit.measure.colour_baseline on 400 / 200 scenes: the
    # colours of the object's own pixels classify no better than about chance (1/8).
    def colours(sc):
        return object_colour_features(sc.image, sc.mask)

    assert _nearest_mean_accuracy(split, colours) < 0.3


def test_colour_baseline_finds_colour_when_it_names_the_class():
    # The same classifier is not blind: objects whose colour follows the class are
    # classified perfectly.
    rng = np.random.default_rng(0)
    palette = rng.random((len(CLASSES), 3))

    def features(n):
        labels = rng.integers(len(CLASSES), size=n)
        rows = []
        for label in labels:
            image = np.clip(palette[label] + 0.03 * rng.standard_normal((8, 8, 3)), 0, 1)
            rows.append(object_colour_features(image, np.ones((8, 8), bool)))
        return np.stack(rows), labels

    assert nearest_centroid_accuracy(*features(200), *features(100)) == 1.0


def test_classes_are_separable_by_mask_shape(split):
    # The same learner on rotation- and scale-invariant statistics of the mask alone
    # (no colour): each class has its own shape.
    def shape_stats(sc):
        ys, xs = np.nonzero(sc.mask)
        cy, cx = ys.mean(), xs.mean()
        r = np.hypot(ys - cy, xs - cx)
        big = r.max()
        centre_filled = float(sc.mask[int(round(cy)), int(round(cx))])
        fill = len(ys) / (np.pi * big**2)
        return np.array([fill, r.mean() / big, r.std() / big, r.min() / big, centre_filled])

    accuracy = _nearest_mean_accuracy(split, shape_stats, standardise=True)
    assert accuracy > 0.9, accuracy


def test_whole_image_colour_is_a_weak_cue(split):
    # The background is not tied to the class: without the mask, nearest class mean on
    # the whole image's mean colour does far worse, so a model must find the object.
    def image_mean(sc):
        return sc.image.reshape(-1, 3).mean(axis=0)

    assert _nearest_mean_accuracy(split, image_mean) < 0.5


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize("size", [31, 0, -5, 16.0, 128.0, "128", None, True])
def test_bad_size_is_rejected(size):
    with pytest.raises(ValueError, match="size") as info:
        make_scene(0, size=size)
    assert repr(size) in str(info.value) or str(size) in str(info.value)
    assert "32" in str(info.value)
    with pytest.raises(ValueError, match="size"):
        make_batch([0], size=size)


@pytest.mark.parametrize("seed", [-1, -1000, 1.5, "3", None])
def test_bad_seed_is_rejected(seed):
    with pytest.raises(ValueError, match="seed"):
        make_scene(seed)
    with pytest.raises(ValueError, match="seed"):
        make_batch([0, seed], size=32)


def test_numpy_integers_are_accepted():
    a = make_scene(np.int64(9), size=np.int32(48))
    b = make_scene(9, size=48)
    assert np.array_equal(a.image, b.image) and a.seed == 9 and type(a.seed) is int


@pytest.mark.parametrize("n, offset", [(-1, 0), (5, -1), (2.0, 0)])
def test_bad_test_seeds_arguments(n, offset):
    with pytest.raises(ValueError):
        test_seeds(n, offset)

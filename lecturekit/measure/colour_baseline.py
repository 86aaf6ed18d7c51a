"""Can colour alone name the toy scenes' classes? A shortcut check.

If every class had its own colour, a network could classify by colour detectors
and its saliency maps, class models and inversions might show only that. This
module scores the simplest colour classifier that sees exactly the object: the
mean colour of the object's own pixels (its mask) and a 4 x 4 x 4 histogram of
them, classified by the nearest class centroid fitted on training scenes. Near
chance (1 / 8) means the object's colours say nothing about its class.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from lecturekit import scenes

__all__ = ["colour_baseline_accuracy", "nearest_centroid_accuracy", "object_colour_features"]

BINS = 4
"""Histogram bins per colour channel."""


def object_colour_features(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The mean RGB of the masked pixels and their normalised ``BINS**3`` colour histogram."""
    pixels = image[mask]
    if len(pixels) == 0:
        raise ValueError("mask selects no pixel; the object must be visible")
    bins = np.minimum((pixels * BINS).astype(int), BINS - 1)
    index = (bins[:, 0] * BINS + bins[:, 1]) * BINS + bins[:, 2]
    histogram = np.bincount(index, minlength=BINS ** 3) / len(pixels)
    return np.concatenate([pixels.mean(axis=0), histogram])


def nearest_centroid_accuracy(train: np.ndarray, train_labels: np.ndarray, test: np.ndarray,
                              test_labels: np.ndarray) -> float:
    """Fraction of ``test`` rows whose nearest class centroid (fitted on ``train``,
    Euclidean distance) belongs to their own label."""
    classes = np.unique(train_labels)
    centroids = np.stack([train[train_labels == c].mean(axis=0) for c in classes])
    distance = ((test[:, None, :] - centroids[None]) ** 2).sum(-1)
    return float((classes[distance.argmin(1)] == test_labels).mean())


def _features(seeds: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
    made = [scenes.make_scene(seed) for seed in seeds]
    features = np.stack([object_colour_features(sc.image, sc.mask) for sc in made])
    return features, np.array([sc.label for sc in made])


def colour_baseline_accuracy(n_train: int = 2000, n_test: int = 1000) -> float:
    """Accuracy of the object-pixel colour classifier: fitted on training seeds
    ``0 .. n_train - 1``, scored on ``n_test`` fresh test scenes."""
    train, train_labels = _features(range(n_train))
    test, test_labels = _features(scenes.test_seeds(n_test))
    return nearest_centroid_accuracy(train, train_labels, test, test_labels)

"""Figures for the notebooks. The only module that imports matplotlib."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from lecturekit.images import to_numpy_image


def _as_display(image: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[-1] == 3:
        return np.clip(image, 0, 1)
    return to_numpy_image(torch.as_tensor(image))


def show_images(images: Sequence[torch.Tensor | np.ndarray], titles: Sequence[str] | None = None,
                masks: Sequence[np.ndarray | torch.Tensor] | None = None, ncols: int = 4,
                size: float = 2.6) -> Figure:
    """A grid of images in [0, 1], with optional titles and object-mask outlines."""
    count = len(images)
    if count == 0:
        raise ValueError("images is empty; pass at least one image")
    if titles is not None and len(titles) != count:
        raise ValueError(f"titles has {len(titles)} entries for {count} images")
    if masks is not None and len(masks) != count:
        raise ValueError(f"masks has {len(masks)} entries for {count} images")
    ncols = min(ncols, count)
    nrows = -(-count // ncols)
    figure, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3 * nrows),
                                squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index >= count:
            continue
        axis.imshow(_as_display(images[index]))
        if masks is not None:
            axis.contour(np.asarray(masks[index], dtype=float), levels=[0.5], colors="white",
                         linewidths=1.2)
        if titles is not None:
            axis.set_title(titles[index], fontsize=9)
    figure.tight_layout()
    return figure

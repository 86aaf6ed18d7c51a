"""What every figure shares: one image grid and writing a figure to a file.

The plotting modules are the only ones that import matplotlib. Every function
returns a matplotlib :class:`~matplotlib.figure.Figure`; in a notebook it
shows itself, elsewhere :func:`save_figure` writes and closes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from lecturekit.images import to_numpy_image

__all__ = ["save_figure", "show_images"]


def _as_display(image: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[-1] == 3:
        return np.clip(image, 0, 1)
    return to_numpy_image(torch.as_tensor(image))


def show_images(images: Sequence[torch.Tensor | np.ndarray], titles: Sequence[str] | None = None,
                masks: Sequence[np.ndarray | torch.Tensor] | None = None, ncols: int = 4,
                size: float = 2.6, row_labels: Sequence[str] | None = None) -> Figure:
    """A grid of images in [0, 1], ``ncols`` a row, with optional titles, object-mask
    outlines and a label at the left of each row. The one image grid of the kit."""
    count = len(images)
    if count == 0:
        raise ValueError("images is empty; pass at least one image")
    if titles is not None and len(titles) != count:
        raise ValueError(f"titles has {len(titles)} entries for {count} images")
    if masks is not None and len(masks) != count:
        raise ValueError(f"masks has {len(masks)} entries for {count} images")
    ncols = min(ncols, count)
    nrows = -(-count // ncols)
    if row_labels is not None and len(row_labels) != nrows:
        raise ValueError(f"row_labels has {len(row_labels)} entries for {nrows} rows")
    figure, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3 * nrows),
                                squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.set_xticks([])
        axis.set_yticks([])
        for spine in axis.spines.values():
            spine.set_visible(False)
        if index >= count:
            axis.axis("off")
            continue
        axis.imshow(_as_display(images[index]))
        if masks is not None:
            axis.contour(np.asarray(masks[index], dtype=float), levels=[0.5], colors="white",
                         linewidths=1.2)
        if titles is not None:
            axis.set_title(titles[index], fontsize=9)
    if row_labels is not None:
        for row, label in enumerate(row_labels):
            axes[row][0].set_ylabel(label, fontsize=10)
    figure.tight_layout()
    return figure


def save_figure(figure: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Write ``figure`` to ``path`` (format from the suffix) and close it."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"path must be in an existing folder, got {str(path)!r}, whose "
                                f"folder {str(path.parent)!r} does not exist")
    figure.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    return path



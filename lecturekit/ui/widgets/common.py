"""What both explorers share: pictures as PNG bytes for image widgets, captions as text."""

from __future__ import annotations

import html
import io
import re

import ipywidgets as widgets
import numpy as np
import torch

__all__ = ["plain_text", "png_bytes"]


def png_bytes(image01: torch.Tensor, scale: int = 2) -> bytes:
    """A (3, H, W) image in [0, 1] as PNG bytes, enlarged ``scale`` times (nearest)."""
    from PIL import Image

    array = (image01.clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    picture = Image.fromarray(array)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale),
                                 Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def plain_text(caption: widgets.HTML) -> str:
    """What an HTML widget says, without its tags and entities (for tests and scripts)."""
    return html.unescape(re.sub(r"<[^>]+>", "", caption.value))

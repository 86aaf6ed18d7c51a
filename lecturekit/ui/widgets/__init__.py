"""The kit's interactive explorers (ipywidgets), reached as ``lk.widgets``: imported only
when used, so the numeric core runs without Jupyter.

:mod:`.inversion` holds the inversion explorer (layer, prior and lambda
sliders), :mod:`.dream` the DeepDream explorer (layer and octaves), :mod:`.gallery` the
gallery of the lecture's figures.
"""

from lecturekit.ui.widgets.dream import DreamExplorer, dream_explorer, show_explorer
from lecturekit.ui.widgets.gallery import FigureGallery, figure_gallery
from lecturekit.ui.widgets.inversion import InversionExplorer, inversion_explorer

__all__ = ["DreamExplorer", "FigureGallery", "InversionExplorer", "dream_explorer",
           "figure_gallery", "inversion_explorer", "show_explorer"]

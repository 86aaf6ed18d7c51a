"""lecturekit: looking inside convolutional networks with gradients and optimisation.

A thin package behind the notebooks of the course kit. The numeric core needs
only torch, torchvision and numpy; plotting and widgets are imported when used.
"""

from lecturekit.images import Preprocessing, load_image, sample_image
from lecturekit.models import LAYER_NAMES, LayeredAlexNet, load_model, top_predictions

__all__ = ["LAYER_NAMES", "LayeredAlexNet", "Preprocessing", "load_image", "load_model",
           "sample_image", "top_predictions"]
__version__ = "0.1.0"

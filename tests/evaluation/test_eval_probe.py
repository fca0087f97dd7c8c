"""Hostile eval and data-check inputs found by the second probe of issue 28."""

import os

import pytest
from click.testing import CliRunner

from genrobust_fast.cli.main import cli
from genrobust_fast.errors import InputError
from genrobust_fast.evaluation.layouts import _images_under
from genrobust_fast.evaluation.results import results_path
from tests.data.trees import CLASSES, real_tree


def test_a_pipe_named_like_an_image_is_skipped_not_read(tmp_path, caplog):
    # Opening a FIFO for reading blocks until a writer comes: eval hung on it before decoding anything.
    root = real_tree(tmp_path / "bench", per_class=1)
    os.mkfifo(root / CLASSES[0] / "pipe.jpg")
    found = [os.path.basename(p) for p, _ in _images_under(root)]
    assert "pipe.jpg" not in found and len(found) == len(CLASSES)
    assert "not a regular file" in caplog.text and "pipe.jpg" in caplog.text


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_results_name_taken_by_something_else_is_refused_up_front(tmp_path, kind):
    taken = tmp_path / "out" / "results.jsonl"
    taken.parent.mkdir()
    taken.mkdir() if kind == "folder" else os.mkfifo(taken)
    with pytest.raises(InputError, match=r"results\.jsonl' exists and is not a file; .*another --out"):
        results_path(tmp_path / "out")


@pytest.mark.parametrize("workers", ["-3", "0"])
def test_data_check_refuses_a_worker_count_below_one(tmp_path, workers):
    result = CliRunner().invoke(cli, ["data", "check", str(tmp_path), "--workers", workers])
    assert result.exit_code == 2 and "Invalid value for '--workers'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("where", [".", "res", "n02102040/res"])
def test_results_inside_a_benchmark_folder_are_refused(tmp_path, where):
    # The next eval of that folder found a class folder 'res' without images ("looks partial").
    from genrobust_fast.classifiers import ClassifierCard, Preprocessing, create_classifier, save_classifier
    from genrobust_fast.labels import LabelSpace

    bench = real_tree(tmp_path / "bench", per_class=1)
    card = ClassifierCard("cifar_resnet8", LabelSpace.from_ids(CLASSES), Preprocessing(resize=32, crop=32))
    weights = save_classifier(
        create_classifier("cifar_resnet8", 3), card, tmp_path / "m" / "model.safetensors"
    )
    out = bench / where
    args = [
        "eval",
        "--checkpoint",
        str(weights),
        "--benchmark",
        f"folder:eval-probe={bench}",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(cli, [*args, "--device", "cpu", "--num-workers", "0"])
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert (
        f"--benchmark eval-probe {str(bench)!r}: the job would write its outputs among its inputs"
        in result.output
    )
    assert not (out / "results.jsonl").exists()


def test_data_check_never_writes_its_report_over_an_input_image(tmp_path):
    root = real_tree(tmp_path / "real", per_class=1)
    image = next((root / CLASSES[0]).iterdir())
    before = image.read_bytes()
    result = CliRunner().invoke(cli, ["data", "check", str(root), "--report", str(image)])
    assert result.exit_code == 1 and "would replace a file of ROOT" in result.output, result.output
    assert image.read_bytes() == before
    beside = CliRunner().invoke(cli, ["data", "check", str(root), "--report", str(root / "check.json")])
    assert beside.exit_code == 0 and (root / "check.json").is_file()  # a new file beside the images is fine


def test_fit_baseline_never_writes_its_fit_over_the_results(tmp_path):
    from tests.evaluation.test_results_shape import GOOD

    results = tmp_path / "results.jsonl"
    results.write_text("".join(__import__("json").dumps(r) + "\n" for r in GOOD))
    before = results.read_text()
    for target in (results, tmp_path):  # the file, or the folder that holds it (and its results.jsonl)
        out = target if target.is_file() else target / "results.jsonl"
        result = CliRunner().invoke(cli, ["fit-baseline", str(target), "--out", str(out)])
        assert result.exit_code == 1 and "would replace" in result.output, result.output
        assert results.read_text() == before

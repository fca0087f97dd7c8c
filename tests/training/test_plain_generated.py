"""`train --generated` on a plain ImageFolder without our manifest.json (the paper's released sets, sets
made by other tools): labels by class-folder id, "no provenance" in the run's recipe, one warning."""

import json
import logging

from click.testing import CliRunner

from genrobust_fast.classifiers import load_classifier
from genrobust_fast.cli.main import cli
from genrobust_fast.data.sources import NO_PROVENANCE
from tests.data.trees import CLASSES, age_tree, real_tree


def _train(*args):
    return CliRunner().invoke(
        cli,
        [
            "train",
            "--arch",
            "resnet18",
            "--epochs",
            "1",
            "--batch-size",
            "4",
            "--image-size",
            "32",
            "--loader",
            "torch",
            "--workers",
            "0",
            "--no-progress",
            "--json",
            *map(str, args),
        ],
    )


def test_a_plain_imagefolder_trains_as_generated_and_the_run_says_it_has_no_provenance(tmp_path, caplog):
    real = real_tree(tmp_path / "real", per_class=2)
    # Class folders in another order on disk than the label space does not matter: ids align them.
    plain = real_tree(tmp_path / "plain", per_class=2, classes=CLASSES[::-1], size=(36, 36))
    assert not (plain / "manifest.json").exists()
    age_tree(tmp_path)
    with caplog.at_level(logging.WARNING, logger="genrobust_fast"):
        result = _train("--real", real, "--generated", plain, "--ratio", "1", "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["steps"] == 3 and summary["plan"]["generated_per_epoch"] == 6
    warnings = [r.getMessage() for r in caplog.records if "no manifest.json" in r.getMessage()]
    assert len(warnings) == 1 and "records no provenance" in warnings[0]
    _, card = load_classifier(tmp_path / "run" / "model.safetensors")
    assert card.label_space.ids == CLASSES
    generator = card.recipe["generator"]
    assert generator["provenance"] == NO_PROVENANCE and generator["total_images"] == 6
    assert card.recipe["generated_missing_classes"] == card.recipe["generated_extra_classes"] == []


def test_generated_only_takes_the_classes_from_the_plain_folders(tmp_path):
    plain = real_tree(tmp_path / "plain", per_class=2, classes=CLASSES[:2])
    age_tree(tmp_path)
    result = _train("--generated", plain, "--generated-only", "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["steps"] == 1
    _, card = load_classifier(tmp_path / "run" / "model.safetensors")
    assert card.label_space.ids == CLASSES[:2]


def test_a_plain_folder_that_does_not_hold_the_classes_is_one_clean_line(tmp_path):
    real = real_tree(tmp_path / "real", per_class=1)
    wrapped = real_tree(tmp_path / "released" / "train", per_class=1).parent  # class folders one level down
    result = _train("--real", real, "--generated", wrapped, "--out", tmp_path / "run")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "has no manifest.json and none of its 1 folder(s) ['train'] is a training class" in result.output
    extra = real_tree(tmp_path / "extra", per_class=1, classes=(*CLASSES, "n09999999"))
    result = _train("--real", real, "--generated", extra, "--out", tmp_path / "run2")
    assert result.exit_code == 1 and "--allow-missing-classes" in result.output

"""Training against a hostile `checkpoints/latest`, a second run on one --out, an output among the inputs,
a resume under other settings and a diverging loss."""

import json
import os

import pytest
from click.testing import CliRunner

from genrobust_fast.cli.main import cli
from genrobust_fast.errors import DatasetError, DivergedError, InputError, JobConflictError
from genrobust_fast.outlock import lock_output
from genrobust_fast.training import train
from tests.training import test_trainer
from tests.training.test_trainer import _config

trees = test_trainer.trees  # the module-scoped fixture of real and generated trees


@pytest.mark.parametrize("resume", [False, True])
@pytest.mark.parametrize("tag", ["../../other-run/checkpoints/step-00000004", "/{other}", "", "."])
def test_a_latest_tag_outside_checkpoints_is_refused_before_anything_loads(trees, tmp_path, tag, resume):
    other = tmp_path / "other-run" / "checkpoints" / "step-00000004"
    other.mkdir(parents=True)
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    (out / "checkpoints" / "latest").write_text(tag.format(other=other))
    with pytest.raises(DatasetError, match="checkpoints/latest names .* it is not followed: write the name"):
        train(_config(trees, out, resume=resume))
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints"]  # nothing written, nothing exported


def test_a_second_run_on_one_out_is_refused_naming_the_first(trees, tmp_path):
    out = tmp_path / "run"
    holder = lock_output(out, "train-rank0")  # stands in for a run in progress
    with holder, pytest.raises(JobConflictError, match=f"in use by another job \\(PID {os.getpid()}"):
        train(_config(trees, out, max_steps=1))
    assert not (out / "checkpoints").exists()


@pytest.mark.parametrize("inside", ["real", "generated"])
def test_an_output_inside_an_input_is_refused(trees, inside):
    real, gen = trees
    out = (real if inside == "real" else gen) / "run"
    result = CliRunner().invoke(
        cli, ["train", "--real", str(real), "--generated", str(gen), "--out", str(out), "--image-size", "32"]
    )
    assert result.exit_code == 1 and f"--{inside}" in result.output and "among its inputs" in result.output
    assert not out.exists()
    with pytest.raises(InputError, match="the same folder as --real"):
        train(_config(trees, real))


def test_resume_under_other_settings_is_refused_naming_each(trees, tmp_path):
    out = tmp_path / "run"
    train(_config(trees, out, epochs=2, max_steps=2))
    changed = {"lr": 0.01, "augment": "trivialaugment", "image_size": 48, "epochs": 1}
    with pytest.raises(JobConflictError, match="cannot resume .*trained with other settings") as info:
        train(_config(trees, out, resume=True, **changed))
    for field, value in changed.items():
        assert f"{field}: " in str(info.value) and f"vs {value!r} now" in str(info.value)
    assert json.loads((out / "result.json").read_text())["steps"] == 2  # the refused run trained nothing
    assert train(_config(trees, out, epochs=2, resume=True))["resumed_from"] == 2  # the same settings resume


def test_a_diverging_loss_stops_training_with_one_error(trees, tmp_path):
    out = tmp_path / "run"
    diverged = "training loss became NaN or inf \\(this rank's sum: (nan|inf)\\).*Lower --lr"
    with pytest.raises(DivergedError, match=diverged):
        train(_config(trees, out, lr=1e30, momentum=0.0, log_every=1, checkpoint_every=1))
    assert not (out / "model.safetensors").exists() and not (out / "result.json").exists()


@pytest.mark.parametrize(
    "args, match",
    [
        (["--lr", "nan"], "lr: nan is not a finite number"),
        (["--ratio", "inf"], "ratio: inf is not a finite number"),
        (["--warmup-epochs", "nan"], "warmup_epochs: nan is not a finite number"),
        (["--seed", "-5"], "seed=-5 is out of range"),
        (["--workers", "-1"], "workers=-1 is out of range"),
    ],
)
def test_bad_numbers_on_the_command_line_are_one_line(trees, tmp_path, args, match):
    real, _ = trees
    result = CliRunner().invoke(cli, ["train", "--real", str(real), "--out", str(tmp_path / "r"), *args])
    assert result.exit_code == 1 and match in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r").exists()

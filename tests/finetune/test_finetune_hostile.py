"""Finetuning against hostile state files, a second job, an output among its inputs and bad numbers."""

import json
import os

import pytest
import torch
from click.testing import CliRunner

from genrobust_fast.cli.main import cli
from genrobust_fast.errors import ConfigError, DatasetError, DivergedError, InputError, JobConflictError
from genrobust_fast.finetune import finetune_generator
from genrobust_fast.finetune.checkpoint import LATEST, load_state, read_latest, save_state
from genrobust_fast.outlock import lock_output
from tests.finetune.test_finetune import tiny_cfg, write_real


@pytest.fixture
def real(tmp_path):
    return write_real(tmp_path / "real")


def _parts():
    unet = torch.nn.Linear(2, 2)
    return unet, torch.optim.AdamW(unet.parameters())


@pytest.mark.parametrize("escape", ["../victim", "/{victim}", ".", "", "state/../../victim"])
def test_a_latest_json_that_leads_outside_is_neither_loaded_nor_deleted(tmp_path, escape):
    work, victim = tmp_path / "work", tmp_path / "victim"
    work.mkdir()
    victim.mkdir()
    (victim / "precious.txt").write_text("keep")
    unet, optimizer = _parts()
    (work / LATEST).write_text(json.dumps({"step": 3, "dir": escape.format(victim=victim)}))
    with pytest.raises(DatasetError, match="latest.json names .*delete .* to restart the finetuning"):
        load_state(work, unet, None, optimizer)
    with pytest.raises(DatasetError, match="latest.json names"):
        save_state(work, 4, unet, None, optimizer)  # would rmtree the previous checkpoint
    assert (victim / "precious.txt").read_text() == "keep" and work.is_dir()


@pytest.mark.parametrize(
    "text", ["not json", "[]", '{"dir": "state-00000001"}', '{"step": -1, "dir": "s"}', '{"step": 1}']
)
def test_a_damaged_latest_json_is_one_clear_error(tmp_path, text):
    (tmp_path / LATEST).write_text(text)
    with pytest.raises(DatasetError, match="latest.json is damaged .*delete .* to restart"):
        read_latest(tmp_path)


def test_a_good_checkpoint_round_trips_and_replaces_the_previous(tmp_path):
    unet, optimizer = _parts()
    save_state(tmp_path, 1, unet, None, optimizer)
    save_state(tmp_path, 2, unet, None, optimizer)
    assert sorted(p.name for p in tmp_path.iterdir()) == [LATEST, "state-00000002"]
    assert load_state(tmp_path, unet, None, optimizer) == 2


def test_a_second_job_on_the_folder_is_refused_naming_the_first(tmp_path, real):
    cfg = tiny_cfg(tmp_path, steps=1)
    holder = lock_output(tmp_path / "out" / "_finetune", "finetune")  # stands in for a job in progress
    with holder, pytest.raises(JobConflictError, match=f"PID {os.getpid()}"):
        finetune_generator(cfg)
    assert not (tmp_path / "out" / "finetune.json").exists()
    finetune_generator(cfg)  # the lock went with its holder
    assert (tmp_path / "out" / "finetune.json").is_file()


def test_an_output_inside_the_real_folder_is_refused(tmp_path, real):
    with pytest.raises(InputError, match="--real .* among its inputs"):
        finetune_generator(tiny_cfg(tmp_path, out=str(real / "ft")))
    assert not (real / "ft").exists()


def test_a_diverging_loss_stops_the_run_before_it_is_saved(tmp_path, real):
    with pytest.raises(DivergedError, match="finetuning loss became .* at step .*Lower --lr"):
        finetune_generator(tiny_cfg(tmp_path, lr=1e30, steps=6, checkpoint_every=1000))
    assert not (tmp_path / "out" / "finetune.json").exists()
    assert not (tmp_path / "out" / "_finetune" / LATEST).exists()


@pytest.mark.parametrize(
    "field, value",
    [
        ("lr", float("nan")),
        ("weight_decay", float("nan")),
        ("weight_decay", -1.0),
        ("max_grad_norm", float("inf")),
        ("warmup_steps", -1),
        ("seed", -5),
        ("num_threads", -1),
    ],
)
def test_bad_numbers_are_refused_by_the_config(tmp_path, field, value):
    with pytest.raises(ConfigError, match=f"{field}=.* is out of range"):
        tiny_cfg(tmp_path, **{field: value})


def test_nan_on_the_command_line_is_one_line(tmp_path, real):
    args = ["generator", "finetune", "--model", "tiny", "--real", str(real), "--out", str(tmp_path / "o")]
    args += ["--lr", "nan"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and "lr: nan is not a finite number" in result.output
    assert not (tmp_path / "o").exists()

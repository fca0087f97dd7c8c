import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from genrobust_fast.classifiers import load_classifier
from genrobust_fast.errors import JobConflictError
from genrobust_fast.training import TrainConfig, train
from tests.data.trees import CLASSES, age_tree, generated_set, real_tree

REPO = Path(__file__).resolve().parents[2]
LOADER = os.environ.get("GENROBUST_TEST_LOADER", "torch")


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    root = tmp_path_factory.mktemp("trees")
    real = real_tree(root / "real", per_class=4, corrupt=True)
    gen = generated_set(root / "gen", per_class=4)
    from genrobust_fast.data import check_image_folder

    check_image_folder(real, workers=1)  # marks the truncated JPEG; training must skip it
    age_tree(root)
    return real, gen


def _pythonpath():
    return os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _config(trees, out, **overrides):
    real, gen = trees
    base = {
        "real": str(real),
        "generated": str(gen),
        "ratio": 1.0,
        "arch": "resnet18",
        "image_size": 32,
        "batch_size": 4,
        "epochs": 1,
        "lr": 0.05,
        "loader": LOADER,
        "workers": 0,
        "progress": False,
        "out": str(out),
        "log_every": 2,
    }
    base.update(overrides)
    return TrainConfig(**base)


def test_cli_trains_checkpoints_and_exports_the_card_evaluation_reads(trees, tmp_path):
    from genrobust_fast.cli.main import cli

    real, gen = trees
    out = tmp_path / "run"
    result = CliRunner().invoke(
        cli,
        [
            "train",
            "--real",
            str(real),
            "--generated",
            str(gen),
            "--ratio",
            "1",
            "--arch",
            "resnet18",
            "--epochs",
            "1",
            "--batch-size",
            "4",
            "--image-size",
            "32",
            "--loader",
            LOADER,
            "--workers",
            "0",
            "--checkpoint-every",
            "4",
            "--log-every",
            "2",
            "--crop-scale",
            "0.5",
            "--no-progress",
            "--json",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    # 12 real (the truncated file skipped) + 12 generated per epoch = 6 steps of 4.
    assert summary["steps"] == 6 and summary["skipped_bad_files"] == 1
    assert summary["plan"]["real_per_epoch"] == 12 and summary["plan"]["generated_per_epoch"] == 12
    assert 0.0 <= summary["data_wait_fraction"] <= 1.0 and summary["images_per_s"] > 0
    assert (out / "checkpoints" / "latest").read_text().strip() == "step-00000006"
    assert (out / "checkpoints" / "step-00000004").is_dir()

    model, card = load_classifier(out / "model.safetensors")
    assert card.arch == "resnet18" and card.label_space.ids == CLASSES
    assert card.preprocessing.crop == 32
    recipe = card.recipe
    assert (recipe["real_images"], recipe["generated_images"], recipe["ratio"]) == (12, 12, 1.0)
    assert recipe["generator"]["model"] == "tiny" and recipe["generator"]["strategy"] == "class_labels"
    assert recipe["crop_scale"] == 0.5
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 3)
    rows = _rows(out / "metrics.csv")
    assert [int(r["step"]) for r in rows] == [2, 4, 6] and all(float(r["loss"]) > 0 for r in rows)
    # The same scalars reach TensorBoard, step for step.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(out / "tensorboard")).Reload()
    losses = events.Scalars("train/loss")
    assert [e.step for e in losses] == [2, 4, 6]
    assert [e.value for e in losses] == pytest.approx([float(r["loss"]) for r in rows], rel=1e-6)
    assert "train/lr" in events.Tags()["scalars"]
    with pytest.raises(JobConflictError, match="pass --resume"):
        train(_config(trees, out))


@pytest.fixture(scope="module")
def uninterrupted(trees, tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    result = train(_config(trees, out, epochs=2))
    assert result["steps"] == 12
    return out


def _assert_same_weights(run_a, run_b, compare_losses=True):
    a = load_file(str(run_a / "model.safetensors"))
    b = load_file(str(run_b / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    if compare_losses:  # same batches in the same order give the same logged losses, row for row
        assert [r["loss"] for r in _rows(run_a / "metrics.csv")] == [
            r["loss"] for r in _rows(run_b / "metrics.csv")
        ]


def test_resume_after_max_steps_gives_the_weights_of_an_uninterrupted_run(trees, uninterrupted, tmp_path):
    first = train(_config(trees, tmp_path / "split", epochs=2, max_steps=5))
    assert first["steps"] == 5
    second = train(_config(trees, tmp_path / "split", epochs=2, resume=True))
    assert second["resumed_from"] == 5 and second["steps"] == 12
    _assert_same_weights(uninterrupted, tmp_path / "split", compare_losses=False)


def test_nhwc_batches_train_what_nchw_batches_do_within_float_error(trees, tmp_path, monkeypatch):
    # The layout changes which kernels run (so the last bits), never the arithmetic: one step apart, the
    # weights agree to float error (later steps amplify it: resnet18's BatchNorm sees 4 values at 1x1).
    import genrobust_fast.classifiers as classifiers

    seen = []
    create = classifiers.create_classifier

    def recording(*args, **kwargs):  # the layout each batch reaches the model in
        model = create(*args, **kwargs)
        model.register_forward_pre_hook(
            lambda _, inputs: seen.append(inputs[0].is_contiguous(memory_format=torch.channels_last))
        )
        return model

    monkeypatch.setattr(classifiers, "create_classifier", recording)
    runs = {}
    for layout, channels_last in (("nhwc", True), ("nchw", False)):
        seen.clear()
        train(_config(trees, tmp_path / layout, max_steps=1, channels_last=channels_last))
        assert seen == [channels_last]
        runs[layout] = load_file(str(tmp_path / layout / "model.safetensors"))
    for key, value in runs["nhwc"].items():
        torch.testing.assert_close(value, runs["nchw"][key], rtol=1e-3, atol=1e-3)


@pytest.mark.slow
def test_kill_and_resume_gives_the_weights_of_an_uninterrupted_run(trees, uninterrupted, tmp_path):
    real, gen = trees
    out = tmp_path / "killed"
    latest = out / "checkpoints" / "latest"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "genrobust_fast",
            "train",
            "--real",
            str(real),
            "--generated",
            str(gen),
            "--ratio",
            "1",
            "--arch",
            "resnet18",
            "--epochs",
            "2",
            "--batch-size",
            "4",
            "--image-size",
            "32",
            "--lr",
            "0.05",
            "--loader",
            LOADER,
            "--workers",
            "0",
            "--log-every",
            "2",
            "--checkpoint-every",
            "2",
            "--no-progress",
            "--out",
            str(out),
        ],
        env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=_pythonpath()),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if latest.is_file() and latest.read_text().strip() >= "step-00000004":
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    killed_at = int(latest.read_text().strip().split("-")[1])
    assert 4 <= killed_at < 12
    resumed = train(_config(trees, out, epochs=2, checkpoint_every=2, resume=True))
    assert resumed["resumed_from"] == killed_at and resumed["steps"] == 12
    _assert_same_weights(uninterrupted, out)


@pytest.mark.slow
def test_two_cpu_ranks_on_gloo_exit_cleanly(trees, tmp_path):
    real, gen = trees
    out = tmp_path / "ddp"
    port = str(__import__("genrobust_fast.training.distributed", fromlist=["x"]).free_port())
    procs = []
    for rank in range(2):
        env = dict(
            os.environ,
            RANK=str(rank),
            LOCAL_RANK=str(rank),
            WORLD_SIZE="2",
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=port,
            OMP_NUM_THREADS="1",
            PYTHONPATH=_pythonpath(),
        )
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "genrobust_fast",
                    "train",
                    "--real",
                    str(real),
                    "--generated",
                    str(gen),
                    "--ratio",
                    "1",
                    "--arch",
                    "resnet18",
                    "--epochs",
                    "1",
                    "--batch-size",
                    "2",
                    "--image-size",
                    "32",
                    "--max-steps",
                    "3",
                    "--loader",
                    LOADER,
                    "--workers",
                    "0",
                    "--no-progress",
                    "--json",
                    "--deepspeed-config",
                    str(REPO / "configs" / "deepspeed_zero1_bf16.json"),
                    "--out",
                    str(out),
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        outputs = [p.communicate(timeout=180) for p in procs]
    finally:
        for p in procs:  # a rank that fails leaves its peer waiting in a collective: end both
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (_stdout, stderr) in zip(procs, outputs):
        assert p.returncode == 0, stderr[-3000:]
    results = [json.loads(stdout[stdout.index("{\n") :]) for stdout, _ in outputs]
    assert all(r["world_size"] == 2 and r["steps"] == 3 and r["precision"] == "bf16" for r in results)
    card = json.loads((out / "model.json").read_text())
    assert card["recipe"]["world_size"] == 2 and card["recipe"]["precision"] == "bf16"
    assert (
        out / "checkpoints" / "step-00000003" / "bf16_zero_pp_rank_1_mp_rank_00_optim_states.pt"
    ).is_file()

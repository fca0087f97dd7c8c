"""`genrobust train` checks its inputs first: a refused run is one line, imports no DeepSpeed and leaves
no --out folder behind; DeepSpeed's and torch's unrelated lines never stand before a run's own output."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from genrobust_fast.cli.main import cli
from genrobust_fast.errors import InputError
from genrobust_fast.training import TrainConfig
from genrobust_fast.training.data_setup import prepare_data
from tests.data.trees import CLASSES, generated_set, real_tree

REPO = Path(__file__).resolve().parents[2]
SHARD = "shards/shard-00000-of-00001.tar"


def _train(real, out, *extra):
    args = [
        "train",
        "--real",
        str(real),
        "--image-size",
        "32",
        "--batch-size",
        "2",
        "--loader",
        "torch",
        "--workers",
        "0",
        "--no-progress",
        "--out",
        str(out),
        *extra,
    ]
    return CliRunner().invoke(cli, args)


def _refused(result, out) -> str:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert not out.exists(), "a refused run must not create --out"
    return lines[0]


def test_an_empty_class_folder_is_refused_by_name_unless_allowed(tmp_path):
    real = real_tree(tmp_path / "real", per_class=2)
    for f in (real / CLASSES[1]).iterdir():
        f.unlink()
    line = _refused(_train(real, tmp_path / "run"), tmp_path / "run")
    assert (
        f"1 of 3 training class(es) have no images: {CLASSES[1]} ({real / CLASSES[1]}/ has no usable images)"
        in line
    )
    assert "--allow-empty-classes" in line

    # Allowed: the run goes on (not trained here: that is the trainer tests' job) and records the classes.
    cfg = TrainConfig(real=str(real), out=str(tmp_path / "run"), allow_empty_classes=True, batch_size=2)
    data = prepare_data(cfg)
    assert data.empty_classes == [CLASSES[1]] and data.recipe["empty_classes"] == [CLASSES[1]]
    assert data.recipe["allow_empty_classes"] is True


def test_a_class_the_generated_set_fills_is_not_empty(tmp_path):
    real = real_tree(tmp_path / "real", per_class=2)
    for f in (real / CLASSES[1]).iterdir():
        f.unlink()
    gen = generated_set(tmp_path / "gen", per_class=1)
    data = prepare_data(
        TrainConfig(real=str(real), generated=str(gen), out=str(tmp_path / "run"), batch_size=2)
    )
    assert data.empty_classes == []


@pytest.mark.parametrize("fmt", ["imagefolder", "webdataset"])
def test_a_generated_set_with_lost_files_is_refused_naming_them(tmp_path, fmt):
    real = real_tree(tmp_path / "real", per_class=2)
    gen = generated_set(tmp_path / "gen", per_class=2, fmt=fmt)
    if fmt == "imagefolder":
        lost = f"{CLASSES[2]}/{CLASSES[2]}_0000000.png"
        (gen / lost).unlink()
        expected = f"lacks 1 image(s) its metadata records ({lost})"
    else:
        (gen / SHARD).unlink()
        expected = f"missing 1 finished shard(s) its metadata records: {SHARD} (6 images)"
    line = _refused(_train(real, tmp_path / "run", "--generated", str(gen), "--ratio", "1"), tmp_path / "run")
    assert expected in line and "rerun the `genrobust generate` command" in line, line
    assert "training class(es)" not in line


def test_a_broken_image_met_in_a_loader_worker_is_one_line_naming_it(tmp_path):
    """A truncated JPEG that `genrobust data check` never marked fails to decode in a DataLoader worker
    process; torch re-raises it as "Caught DatasetError in DataLoader worker process 0 ... Original
    Traceback ...", and the user still gets the error's own line."""
    real = real_tree(tmp_path / "real", per_class=2, corrupt=True)
    result = _train(real, tmp_path / "run", "--workers", "1", "--epochs", "1")  # the last --workers counts
    assert result.exit_code == 1, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith(f"Error: DatasetError: cannot decode {real / CLASSES[0] / 'truncated.JPEG'} (")
    fix = "run `genrobust data check` on its folder so training and eval skip it, or replace the file"
    assert last.endswith(fix)
    assert "Caught" not in result.output and "Traceback" not in result.output


def test_a_refused_run_prints_only_its_error_and_imports_no_deepspeed(tmp_path):
    real = real_tree(tmp_path / "real", per_class=1)
    for f in (real / CLASSES[0]).iterdir():
        f.unlink()
    code = (
        "import sys; from genrobust_fast.cli.main import cli\n"
        "try:\n    cli(sys.argv[1:])\n"
        "finally:\n    print('deepspeed imported' if 'deepspeed' in sys.modules else '', file=sys.stderr)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, "-c", code, "train", "--real", str(real), "--out", str(tmp_path / "run")],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 1
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "Error: DatasetError: 1 of 3 training class(es) have no images"
    ), lines
    assert not (tmp_path / "run").exists()


def test_deepspeed_start_up_lines_are_kept_out_of_the_output(capfd, monkeypatch):
    from genrobust_fast.training.distributed import import_deepspeed, init_distributed, shutdown

    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        # setenv records the variable's absence, so the values init_distributed sets are removed afterwards
        # (delenv alone records nothing for an absent variable).
        monkeypatch.setenv(key, "")
        monkeypatch.delenv(key)
    import_deepspeed()
    capfd.readouterr()
    assert init_distributed("cpu") == (0, 1)
    shutdown()
    captured = capfd.readouterr()
    assert "built successfully" not in captured.out + captured.err
    # torch's extension builder, imported by DeepSpeed, warns "No CUDA runtime" wherever a CUDA toolkit
    # is installed without a GPU: that line is dropped, others from the same logger are not.
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    cpp_logger = logging.getLogger("torch.utils.cpp_extension")
    cpp_logger.addHandler(handler)
    try:
        cpp_logger.warning("No CUDA runtime is found, using CUDA_HOME='%s'", "/usr/local")
        cpp_logger.warning("a real problem")
    finally:
        cpp_logger.removeHandler(handler)
    assert [r.getMessage() for r in records] == ["a real problem"]


def test_input_errors_come_before_the_process_group(tmp_path):
    real = real_tree(tmp_path / "real", per_class=1)
    (tmp_path / "ds.json").write_text('{"gradient_accumulation_steps": 2}')
    from genrobust_fast.training import train

    with pytest.raises(InputError, match="gradient_accumulation_steps=2 is not supported"):
        train(
            TrainConfig(
                real=str(real),
                out=str(tmp_path / "run"),
                deepspeed_config=str(tmp_path / "ds.json"),
                batch_size=1,
            )
        )
    assert not (tmp_path / "run").exists()
    import torch.distributed as dist

    assert not dist.is_initialized()

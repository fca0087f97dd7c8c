"""The one device resolver, and every command's path to it, with CUDA faked (this machine has no GPU).

Under a launcher (LOCAL_RANK=3 here) `auto` and `cuda` must become `cuda:3` and the current CUDA device,
for generate, eval, train, finetune, engine build/refit and the benches. Each command test runs the real
CLI entry point and stops it at the first place that would touch the (absent) GPU, recording the device
the command resolved there.
"""

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from genrobust_fast.cli.main import cli
from genrobust_fast.devices import resolve_device
from genrobust_fast.errors import BackendUnavailableError, InputError


class Reached(Exception):
    """Raised where a command would first use its device; carries the device it was given."""

    def __init__(self, device):
        super().__init__(str(device))
        self.device = torch.device(device)


@pytest.fixture
def gpus(monkeypatch):
    """Four fake GPUs; `current` records each torch.cuda.set_device call."""
    current = []

    def set_device(device):
        current.append(torch.device("cuda", device) if isinstance(device, int) else torch.device(device))

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setattr(torch.cuda, "set_device", set_device)
    monkeypatch.setattr(
        torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True
    )  # train's precision check
    monkeypatch.setenv("LOCAL_RANK", "3")
    return current


def _invoke(args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def _reached(result) -> torch.device:
    assert isinstance(result.exception, Reached), result.output
    return result.exception.device


def _tree(root, classes=("n01440764", "n01443537"), per_class=2):
    rng = np.random.default_rng(0)
    for cid in classes:
        (root / cid).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(root / cid / f"{i}.png")
    return root


# --- the resolver -------------------------------------------------------------------------------------


def test_auto_and_cuda_under_a_launcher_become_the_local_rank_and_the_current_device(gpus):
    assert resolve_device("auto") == resolve_device(None) == resolve_device("cuda") == torch.device("cuda:3")
    assert gpus == [torch.device("cuda:3")] * 3
    assert resolve_device("cuda:1") == torch.device("cuda:1") and gpus[-1] == torch.device("cuda:1")
    assert resolve_device(torch.device("cuda", 2)) == torch.device("cuda:2")
    assert resolve_device("cpu") == torch.device("cpu") and len(gpus) == 5  # cpu sets no CUDA device


def test_without_a_launcher_auto_is_gpu_zero(gpus, monkeypatch):
    monkeypatch.delenv("LOCAL_RANK")
    assert str(resolve_device("auto")) == "cuda:0"


def test_more_ranks_than_gpus_and_unknown_gpus_are_clear_errors(gpus, monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(
        BackendUnavailableError,
        match=r"LOCAL_RANK=3 but only 2 GPU\(s\) are visible.*"
        r"--nproc-per-node 2",
    ):
        resolve_device("auto")
    with pytest.raises(BackendUnavailableError, match=r"'cuda:5' was asked for but 2 GPU\(s\) are visible"):
        resolve_device("cuda:5")
    assert not gpus  # nothing was made current on the way to an error
    monkeypatch.setenv("LOCAL_RANK", "one")
    with pytest.raises(InputError, match="LOCAL_RANK='one' is not a whole number"):
        resolve_device("cuda")
    with pytest.raises(InputError, match="not one of auto, cpu, cuda or cuda:N"):
        resolve_device("gpu0")


def test_on_a_cpu_machine_auto_is_cpu_and_cuda_is_an_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(BackendUnavailableError, match="sees no CUDA GPU; use --device cpu"):
        resolve_device("cuda:0")


# --- every command ------------------------------------------------------------------------------------


@pytest.fixture
def runners_reached(monkeypatch):
    """Generation stops where the torch runners would move the model to the device."""
    from genrobust_fast.engines import select

    def stop(components, device, dtype, compile_unet=False):
        raise Reached(device)

    monkeypatch.setattr(select, "TorchRunners", stop)


def test_generate_and_bench_generate_resolve_the_local_rank(gpus, runners_reached, tmp_path):
    classes = tmp_path / "classes.tsv"
    classes.write_text("n01440764\ttench\n")
    for device in ("auto", "cuda"):
        result = _invoke(
            [
                "generate",
                "--model",
                "tiny",
                "--classes",
                classes,
                "--per-class",
                "1",
                "--steps",
                "2",
                "--backend",
                "torch",
                "--device",
                device,
                "--out",
                tmp_path / f"g-{device}",
                "--no-progress",
            ]
        )
        assert _reached(result) == torch.device("cuda:3")
    result = _invoke(["bench", "generate", "--model", "tiny", "--backend", "torch", "--quick"])
    assert _reached(result) == torch.device("cuda:3") and gpus[-1] == torch.device("cuda:3")


def test_generate_with_more_ranks_than_gpus_is_one_clean_line(gpus, monkeypatch, tmp_path):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    classes = tmp_path / "classes.tsv"
    classes.write_text("n01440764\ttench\n")
    result = _invoke(
        [
            "generate",
            "--model",
            "tiny",
            "--classes",
            classes,
            "--per-class",
            "1",
            "--steps",
            "2",
            "--backend",
            "torch",
            "--out",
            tmp_path / "g",
            "--no-progress",
        ]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "LOCAL_RANK=3 but only 2 GPU(s) are visible" in result.output


def test_eval_resolves_the_local_rank(gpus, monkeypatch, tmp_path):
    from genrobust_fast.classifiers import ClassifierCard, Preprocessing, create_classifier, save_classifier
    from genrobust_fast.evaluation import registry, runner
    from genrobust_fast.labels import LabelSpace

    def stop(model, data, spec, tasks, options, border_crop, device):
        raise Reached(device)

    monkeypatch.setattr(runner, "_run_model", stop)
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # folder:mine registers "mine"
    space = LabelSpace.from_ids(("n01440764", "n01443537"))
    weights = save_classifier(
        create_classifier("squeezenet1_1", 2),
        ClassifierCard("squeezenet1_1", space, Preprocessing(resize=24, crop=16)),
        tmp_path / "model.safetensors",
    )
    bench = _tree(tmp_path / "bench")
    result = _invoke(
        [
            "eval",
            "--checkpoint",
            weights,
            "--benchmark",
            f"folder:mine={bench}",
            "--num-workers",
            "0",
            "--out",
            tmp_path / "results",
        ]
    )
    assert _reached(result) == torch.device("cuda:3") and gpus[-1] == torch.device("cuda:3")


def test_train_and_bench_train_resolve_the_local_rank(gpus, monkeypatch, tmp_path):
    from genrobust_fast.training import trainer

    def stop(device):
        raise Reached(device)

    monkeypatch.setattr(trainer, "init_distributed", stop)
    real = _tree(tmp_path / "real")
    for device in ("auto", "cuda"):
        result = _invoke(
            [
                "train",
                "--real",
                real,
                "--device",
                device,
                "--batch-size",
                "2",
                "--out",
                tmp_path / f"run-{device}",
            ]
        )
        assert _reached(result) == torch.device("cuda:3")
    result = _invoke(["bench", "train", "--quick"])
    assert _reached(result) == torch.device("cuda:3") and gpus[-1] == torch.device("cuda:3")


def test_train_takes_the_rank_from_the_launchers_local_rank_argument(gpus, monkeypatch, tmp_path):
    from genrobust_fast.training import trainer

    def stop(device):
        raise Reached(device)

    monkeypatch.setattr(trainer, "init_distributed", stop)
    monkeypatch.delenv("LOCAL_RANK")
    result = _invoke(
        [
            "train",
            "--real",
            _tree(tmp_path / "real"),
            "--local_rank=2",
            "--batch-size",
            "2",
            "--out",
            tmp_path / "run",
        ]
    )
    assert _reached(result) == torch.device("cuda:2")


def test_finetune_resolves_the_local_rank(gpus, monkeypatch, tmp_path):
    from genrobust_fast.finetune import trainer

    def stop(precision, device):
        raise Reached(device)

    monkeypatch.setattr(trainer, "_autocast_dtype", stop)
    result = _invoke(
        [
            "generator",
            "finetune",
            "--model",
            "tiny",
            "--real",
            _tree(tmp_path / "real"),
            "--out",
            tmp_path / "ft",
            "--steps",
            "1",
        ]
    )
    assert _reached(result) == torch.device("cuda:3") and gpus[-1] == torch.device("cuda:3")


def test_engine_build_and_refit_make_the_local_rank_current_before_building(gpus, monkeypatch, tmp_path):
    from genrobust_fast.engines import build, models, trt_build

    def stop(*args, **kwargs):
        raise Reached(gpus[-1])  # TensorRT builds for the current device: the one made current last

    monkeypatch.setattr(build, "build_engines", stop)
    monkeypatch.setattr(trt_build, "refit_engines", stop)
    monkeypatch.setattr(models, "load_components", lambda model, **files: None)
    result = _invoke(
        ["engine", "build", "--model", "tiny", "--backend", "tensorrt", "--engine-dir", tmp_path]
    )
    assert _reached(result) == torch.device("cuda:3")
    result = _invoke(
        [
            "engine",
            "refit",
            "--model",
            "tiny",
            "--base-model",
            "tiny",
            "--device",
            "cuda:1",
            "--engine-dir",
            tmp_path,
        ]
    )
    assert _reached(result) == torch.device("cuda:1")


def test_bench_unet_resolves_the_local_rank(gpus, monkeypatch):
    from genrobust_fast.engines import backends

    def stop(device):
        raise Reached(device)

    monkeypatch.setattr(backends, "default_precision", stop)
    result = _invoke(["bench", "unet", "--model", "tiny", "--seconds", "0.1"])
    assert _reached(result) == torch.device("cuda:3") and gpus[-1] == torch.device("cuda:3")

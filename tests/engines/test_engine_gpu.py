"""The GPU paths of issue 18 on a real GPU (run by benchmarks/gpu_check.sh; skipped on CPU machines):
ONNX Runtime's CUDA provider against torch over many batches whose inputs torch has just written,
TensorRT fp16/bf16 builds of the installed major version, and a job with --batch-size 1 and guidance.
"""

import importlib.util
import json

import pytest
import torch
from click.testing import CliRunner

from genrobust_fast.engines.compare import relative_error

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]
TOL = {"fp32": 1e-2, "fp16": 2e-2, "bf16": 5e-2}  # fp32 on a GPU: cuDNN may use TF32 on either side


def _ort_cuda() -> bool:
    if importlib.util.find_spec("onnxruntime") is None:
        return False
    import onnxruntime

    return "CUDAExecutionProvider" in onnxruntime.get_available_providers()


needs_ort_cuda = pytest.mark.skipif(not _ort_cuda(), reason="onnxruntime has no CUDAExecutionProvider here")
needs_trt = pytest.mark.skipif(
    importlib.util.find_spec("tensorrt") is None, reason="TensorRT is not installed"
)


@needs_ort_cuda
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_onnxruntime_cuda_matches_torch_over_many_batches(tmp_path, precision):
    """Each input is written by a torch kernel queued behind a delay on torch's stream, right before the
    ONNX Runtime call: without the synchronisation ORT would read it unfinished."""
    from genrobust_fast.engines import create_runners
    from genrobust_fast.engines.builtin import build_tiny
    from genrobust_fast.engines.runners import TorchRunners

    ort = create_runners(
        build_tiny(),
        backend="onnxruntime",
        precision=precision,
        device="cuda",
        engine_dir=tmp_path,
        build_if_missing=True,
    )
    assert all(s.get_providers()[0] == "CUDAExecutionProvider" for s in ort.sessions.values())
    ref = TorchRunners(build_tiny(), "cuda", torch.float32)
    errors = []
    for i in range(40):
        b = 2 * (1 + i % 4)
        source = torch.randn(b, 4, 16, 16, device="cuda")
        sample = torch.empty_like(source)
        if hasattr(torch.cuda, "_sleep"):
            torch.cuda._sleep(2_000_000)  # keep torch's stream busy ...
        torch.mul(source, 3.0, out=sample)  # ... so this write lands late
        t = torch.full((b,), float(10 + 24 * i), device="cuda")
        ctx = torch.randn(b, 32, 32, device="cuda").tanh()
        errors.append(relative_error(ort.unet(sample, t, ctx).float(), ref.unet(sample, t, ctx)))
    print(f"onnxruntime cuda {precision}: worst relative error over 40 batches {max(errors):.2e}")
    assert max(errors) <= TOL[precision]


@needs_trt
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_tensorrt_builds_each_precision_its_version_supports(tmp_path, torch_runners, precision):
    from genrobust_fast.engines import create_runners
    from genrobust_fast.engines.builtin import build_tiny
    from genrobust_fast.engines.specs import Precision
    from genrobust_fast.engines.trt_build import tensorrt_precision_problem
    from genrobust_fast.errors import BackendUnavailableError

    problem = tensorrt_precision_problem(Precision(precision))
    if problem:  # TensorRT 11 and bf16: refused, with the fix, before anything is built
        with pytest.raises(BackendUnavailableError, match="needs a bf16 ONNX graph"):
            create_runners(
                build_tiny(),
                backend="tensorrt",
                precision=precision,
                device="cuda",
                engine_dir=tmp_path,
                build_if_missing=True,
            )
        pytest.skip(problem)
    trt = create_runners(
        build_tiny(),
        backend="tensorrt",
        precision=precision,
        device="cuda",
        engine_dir=tmp_path,
        batch_range=(1, 2, 4),
        build_if_missing=True,
    )
    sample, t, ctx = (
        torch.randn(4, 4, 16, 16),
        torch.tensor([5.0, 300.0, 600.0, 900.0]),
        torch.randn(4, 32, 32),
    )
    err = relative_error(
        trt.unet(sample.cuda(), t.cuda(), ctx.cuda()).float().cpu(), torch_runners.unet(sample, t, ctx)
    )
    print(
        f"tensorrt {precision}: relative error {err:.2e}, key flags {trt.records['unet'].key.builder_flags}"
    )
    assert err <= TOL[precision]


def _job(tmp_path, backend, precision, engines):
    from genrobust_fast.cli.main import cli

    classes = tmp_path / "classes.tsv"
    classes.write_text("n01440764\ttench\nn01443537\tgoldfish\n")
    result = CliRunner().invoke(
        cli,
        [
            "generate",
            "--model",
            "tiny",
            "--classes",
            str(classes),
            "--per-class",
            "3",
            "--steps",
            "3",
            "--guidance",
            "7.5",
            "--batch-size",
            "1",
            "--backend",
            backend,
            "--precision",
            precision,
            "--device",
            "cuda",
            "--engine-dir",
            str(engines),
            "--image-format",
            "png",
            "--out",
            str(tmp_path / f"g-{backend}"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    print(
        f"generate --batch-size 1 --guidance 7.5 on {backend} {precision}: {summary['images']} images, "
        f"{summary.get('images_per_s')} img/s"
    )
    assert summary["images"] == 6 and summary["backend"] == backend


@needs_trt
def test_tensorrt_job_with_batch_size_1_and_guidance(tmp_path):
    """A static batch-1 engine: the UNet is captured as a CUDA graph; the negative prompt is encoded alone."""
    from genrobust_fast.cli.main import cli

    engines = tmp_path / "engines"
    build = CliRunner().invoke(
        cli,
        [
            "engine",
            "build",
            "--model",
            "tiny",
            "--backend",
            "tensorrt",
            "--precision",
            "fp16",
            "--batch",
            "1",
            "--engine-dir",
            str(engines),
        ],
    )
    assert build.exit_code == 0, build.output
    _job(tmp_path, "tensorrt", "fp16", engines)


@needs_ort_cuda
def test_onnxruntime_cuda_job_with_batch_size_1_and_guidance(tmp_path):
    from genrobust_fast.cli.main import cli

    engines = tmp_path / "engines"
    build = CliRunner().invoke(
        cli,
        [
            "engine",
            "build",
            "--model",
            "tiny",
            "--backend",
            "onnxruntime",
            "--precision",
            "fp16",
            "--engine-dir",
            str(engines),
        ],
    )
    assert build.exit_code == 0, build.output
    _job(tmp_path, "onnxruntime", "fp16", engines)

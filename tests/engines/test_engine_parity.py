"""Every backend available here against the torch reference on the tiny components.

Tolerances (relative L2 error): fp32 <= 1e-4 (measured ~1e-6 for ONNX Runtime on the CPU);
fp16 <= 2e-2 and bf16 <= 5e-2 on a GPU (rounding of activations through ~20 layers).
"""

import numpy as np
import pytest
import torch

from genrobust_fast.engines.compare import relative_error

FP32_TOL = 1e-4
GPU_TOL = {"fp16": 2e-2, "bf16": 5e-2}


def _calls(tiny, batch: int, size: tuple[int, int], device="cpu", dtype=torch.float32):
    """(call name, args) for every runner call at one image batch and size; guidance doubles the UNet batch,
    and the text encoder gets up to one batch of prompts (what the pipeline sends it)."""
    g = torch.Generator().manual_seed(batch * 1000 + size[0])
    h, w = size[0] // 2, size[1] // 2  # tiny VAE factor is 2
    ctx_len = 32

    def rnd(*shape):
        return torch.randn(*shape, generator=g).to(device=device, dtype=dtype)

    return [
        ("encode_text", (torch.randint(0, 300, (batch, ctx_len), generator=g).to(device),)),
        (
            "unet",
            (
                rnd(2 * batch, 4, h, w),
                torch.randint(0, 1000, (2 * batch,), generator=g).float().to(device),
                rnd(2 * batch, ctx_len, 32),
            ),
        ),
        ("decode_vae", (rnd(batch, 4, h, w),)),
        ("encode_vae", (rnd(batch, 3, *size).clamp(-1, 1),)),
        ("encode_image", (rnd(batch, 3, 32, 32),)),
    ]


@pytest.mark.parametrize("batch,size", [(1, (32, 32)), (3, (32, 32)), (2, (48, 64))])
def test_onnxruntime_matches_torch_fp32(tiny, ort_runners, torch_runners, batch, size):
    for name, args in _calls(tiny, batch, size):
        expected = getattr(torch_runners, name)(*args)
        actual = getattr(ort_runners, name)(*args)
        assert actual.shape == expected.shape, name
        assert actual.dtype == torch.float32
        err = relative_error(actual, expected)
        assert err <= FP32_TOL, f"{name} at batch {batch} size {size}: relative error {err:.2e}"


def test_unet_accepts_scalar_timestep(ort_runners, torch_runners):
    sample, context = torch.randn(4, 4, 16, 16), torch.randn(4, 32, 32)
    t = torch.tensor(500)
    ours, reference = ort_runners.unet(sample, t, context), torch_runners.unet(sample, t, context)
    assert relative_error(ours, reference) <= FP32_TOL


def test_parity_detects_different_weights(tiny, ort_runners):
    """The comparison can fail: a torch UNet with other weights is far from the ONNX one."""
    from genrobust_fast.engines.builtin import build_tiny
    from genrobust_fast.engines.runners import TorchRunners

    other = TorchRunners(build_tiny(seed=1))
    sample, t, context = torch.randn(2, 4, 16, 16), torch.tensor([10.0, 900.0]), torch.randn(2, 32, 32)
    assert relative_error(ort_runners.unet(sample, t, context), other.unet(sample, t, context)) > 0.1


def test_the_comparator_takes_tensors_of_any_dtype_and_arrays_of_one_shape():
    expected = torch.tensor([3.0, 4.0])
    assert relative_error(torch.tensor([3.0, 4.5], dtype=torch.bfloat16), expected) == pytest.approx(0.1)
    assert relative_error(np.array([3.0, 4.0]), expected) == 0.0
    with pytest.raises(ValueError, match="different shapes"):
        relative_error(expected, expected[None].expand(2, 2))  # no silent broadcasting


def test_wrong_input_shape_is_a_clear_error(ort_runners):
    from genrobust_fast.errors import InputError

    with pytest.raises(InputError, match="encoder_hidden_states: dim 2 must be 32"):
        ort_runners.unet(torch.randn(2, 4, 16, 16), torch.zeros(2), torch.randn(2, 32, 16))
    with pytest.raises(InputError, match="disagree on guided_batch"):
        ort_runners.unet(torch.randn(2, 4, 16, 16), torch.zeros(3), torch.randn(2, 32, 32))
    with pytest.raises(InputError, match="not a multiple of 2"):
        ort_runners.encode_vae(torch.randn(1, 3, 31, 32))


def test_only_the_unet_session_spins_between_calls(ort_runners):
    # Idle pools of the VAE and text encoder spinning after their call slowed the next UNet calls ~10 %
    # on 2 cores (bench generate): they must go to sleep at once; the UNet's keeps spinning between steps.
    def spins(name):
        options = ort_runners.sessions[name].get_session_options()
        try:
            return options.get_session_config_entry("session.intra_op.allow_spinning") != "0"
        except RuntimeError:  # not set: ONNX Runtime's default, spinning
            return True

    assert spins("unet")
    assert not any(spins(name) for name in ort_runners.sessions if name != "unet")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_torch_gpu_precisions_match_fp32(tiny, torch_runners, precision):
    from genrobust_fast.engines.builtin import build_tiny
    from genrobust_fast.engines.runners import TorchRunners
    from genrobust_fast.engines.specs import Precision

    dtype = Precision(precision).torch_dtype
    gpu = TorchRunners(build_tiny(), "cuda", dtype)
    for name, args in _calls(tiny, 2, (32, 32)):
        expected = getattr(torch_runners, name)(*args)
        actual = getattr(gpu, name)(
            *[a.cuda().to(dtype) if a.is_floating_point() else a.cuda() for a in args]
        )
        err = relative_error(actual.cpu(), expected)
        print(f"torch {precision} {name}: relative error {err:.2e} vs fp32 on the CPU")  # gpu_check reads it
        assert err <= GPU_TOL[precision], f"{name} {precision}: {err:.2e}"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_tensorrt_matches_torch(tiny, torch_runners, tmp_path):
    pytest.importorskip("tensorrt", reason="TensorRT is not installed on this GPU machine")
    from genrobust_fast.engines import create_runners
    from genrobust_fast.engines.builtin import build_tiny

    for precision, tol in (("fp32", FP32_TOL), ("fp16", GPU_TOL["fp16"])):
        trt = create_runners(
            build_tiny(),
            backend="tensorrt",
            precision=precision,
            device="cuda",
            engine_dir=tmp_path,
            batch_range=(1, 2, 3),
            size=(32, 32),
            build_if_missing=True,
        )
        for name, args in _calls(tiny, 2, (32, 32)):
            expected = getattr(torch_runners, name)(*args)
            actual = getattr(trt, name)(*[a.cuda() for a in args]).float().cpu()
            assert relative_error(actual, expected) <= tol, f"tensorrt {precision} {name}"

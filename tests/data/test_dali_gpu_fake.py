"""Issue 25: a DALI loader for `cuda:N` decodes with `device="mixed"` on GPU N and moves its labels to
the GPU, checked on a CPU machine with DALI's GPU side faked (tests/data/fake_dali_gpu.py): the pipeline
is DALI's own, only its placement is recorded and run on the CPU."""

import pytest
import torch

from genrobust_fast.data import MixedSampler, MixPlan, create_loader

from . import fake_dali_gpu

SIZE = (32, 32)


@pytest.mark.parametrize("train", [True, False])
def test_a_cuda_n_loader_decodes_mixed_on_gpu_n(tables, monkeypatch, train):
    _, real, gen = tables
    seen = fake_dali_gpu.install(monkeypatch)
    plan = MixPlan.create(len(real), len(gen), ratio=1.0, seed=0)
    loader = create_loader(
        "dali", [real, gen], MixedSampler(plan, batch_size=6), SIZE, train=train, device="cuda:1", workers=1
    )
    assert loader.describe()["decoder"] == "mixed"
    loader._build(0, 0)  # the pipeline epoch() builds; its batches would then be moved to cuda:1
    batch = next(loader._iterator)[0]
    assert seen["device_id"] == [1] and seen["decoders"] == ["mixed"] and len(seen["gpu"]) == 1
    assert batch["images"].shape == (6, 3, *SIZE) and batch["images"].dtype == torch.float32
    assert batch["labels"].reshape(-1).dtype == torch.int64
    loader.close()


def test_the_fake_refuses_cpu_inputs_to_gpu_operators(monkeypatch):
    """So the test above would fail if a CPU node were fed to an operator after the mixed decoder."""
    import numpy as np
    from nvidia.dali import fn, pipeline_def, types

    fake_dali_gpu.install(monkeypatch)

    @pipeline_def(batch_size=1, num_threads=1, device_id=0)
    def mixes_cpu_into_gpu():
        encoded = fn.external_source(source=lambda: [np.zeros(4, np.uint8)], batch=True, dtype=types.UINT8)
        images = fn.decoders.image(encoded, device="mixed")
        return fn.crop_mirror_normalize(images, encoded)

    with pytest.raises(RuntimeError, match="GPU operator given CPU input"):
        mixes_cpu_into_gpu()

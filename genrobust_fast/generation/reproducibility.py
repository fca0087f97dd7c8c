"""What an image's bytes depend on beyond the job's identity, and how far pixels may move without it.

Two levels of reproducibility, stated in the README and tested as stated:

- **Bytes**: the same job (same `job_id`) run with the same speed settings on the same machine writes
  byte-identical files, whatever point a crash or SIGKILL hits, because every batch is a unit of the plan
  (item i of a shard always runs in batch i // batch_size of that shard) and a resumed job recomputes
  exactly the batches an uninterrupted run computes. The settings are those `compute_settings` records
  in every image's metadata under "compute": equal records (and job id) mean equal bytes.
- **Pixels within a bound**: across batch sizes, thread counts, CPU instruction sets and backends, float
  results differ in their last bits and the pixels (uint8, before encoding) differ by at most
  `PIXEL_BOUND` (fp32 backends on CPUs) -- measured on the tiny model and the demo generator, asserted
  by the tests. Reduced precision (fp16/bf16 on GPUs) is outside it: check such a job with
  `generate --verify-against-diffusers N`.
"""

from __future__ import annotations

import os
from typing import Any

from ..environment import imported_version, torch_cpu

# The bound for fp32 backends on CPUs, in uint8 levels of the pixels before encoding. Measured with
# scripts/measure_pixel_bound.py (batch sizes 1/2/3/4/8, 1 and 2 threads, AVX2 forced vs AVX-512, torch vs
# ONNX Runtime fp32; the tiny model and the demo generator; AMD EPYC, 2 cores): largest difference 1, mean
# 0.0001. An AVX2-only EPYC showed 2 (one image in six, 4 % of its pixels). The bound keeps 2x headroom
# over the worst seen; tests/generation/test_reproducibility.py asserts it across processes and ISAs.
PIXEL_BOUND = {"max": 4, "mean": 0.05}


def compute_settings(runners, batch_size: int) -> dict[str, Any]:
    """The settings that, besides the job's identity, decide an image's last bits."""
    cpu = torch_cpu()
    settings: dict[str, Any] = {
        "batch_size": batch_size,
        "backend": runners.backend,
        "precision": runners.precision,
        "device": str(runners.device),
        "threads": cpu["torch_threads"],
        "torch": imported_version("torch"),
    }
    if runners.device.type == "cpu":
        settings["cpu_capability"] = cpu["torch_cpu_capability"]
    if runners.backend == "onnxruntime":
        settings["onnxruntime"] = imported_version("onnxruntime")
        settings["ort_threads"] = int(os.environ.get("GENROBUST_ORT_THREADS", "0")) or "default"
    return settings


def same_bytes_expected(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two records of the same job promise byte-identical images (else: within PIXEL_BOUND)."""
    return a.get("compute") is not None and a.get("compute") == b.get("compute")

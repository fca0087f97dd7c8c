"""What a benchmark ran on, recorded under "machine" in every benchmark JSON and shown by `genrobust info`.

A speed figure means little without the machine: the CPU model and the SIMD it offers, the
instruction sets torch and our kernels actually use (both can be forced lower, e.g. to emulate an
AVX2 machine on an AVX-512 one), cores, threads and the library versions.

    info = machine_info()
    info["cpu_model"], info["kernels_isa"], info["torch_cpu_capability"]
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
from pathlib import Path
from typing import Any

# /proc/cpuinfo flags worth recording: what decides the kernels' and torch's code paths.
ISA_FLAGS = (
    "sse2",
    "ssse3",
    "sse4_2",
    "popcnt",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "bmi2",
    "avx512f",
    "avx512bw",
    "avx512dq",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "avx512_vpopcntdq",
    "amx_tile",
    "asimd",
    "sve",
)
# Settings that change which code paths or how many threads run.
ENV_VARS = (
    "GENROBUST_ISA",
    "GENROBUST_KERNELS",
    "OMP_NUM_THREADS",
    "ATEN_CPU_CAPABILITY",
    "ONEDNN_MAX_CPU_ISA",
    "NPY_DISABLE_CPU_FEATURES",
)
# Libraries whose speed the benchmarks compare against or run on, with the distributions that provide them.
LIBRARIES = {
    "torch": ("torch",),
    "numpy": ("numpy",),
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu"),
    "diffusers": ("diffusers",),
}


def read_cpuinfo(path: str | Path = "/proc/cpuinfo") -> str:
    """The text of /proc/cpuinfo, or "" where there is none (macOS, Windows)."""
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def _first_field(cpuinfo: str, names: tuple[str, ...]) -> str | None:
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in names:
            return value.strip()
    return None


def cpu_model(cpuinfo: str) -> str:
    """The first processor's model name (x86 "model name", Arm "Model"/"CPU part"), else the platform's."""
    return (
        _first_field(cpuinfo, ("model name", "Model", "Hardware"))
        or platform.processor()
        or platform.machine()
        or "unknown"
    )


def isa_flags(cpuinfo: str) -> list[str]:
    """Which of ISA_FLAGS the first processor lists (x86 "flags", Arm "Features")."""
    present = set((_first_field(cpuinfo, ("flags", "Features")) or "").split())
    return [flag for flag in ISA_FLAGS if flag in present]


def library_versions() -> dict[str, str | None]:
    """Installed versions of LIBRARIES (None when missing), read from package metadata without importing."""
    versions: dict[str, str | None] = {}
    for name, dists in LIBRARIES.items():
        versions[name] = None
        for dist in dists:
            try:
                versions[name] = importlib.metadata.version(dist)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
    return versions


def _torch_cpu() -> dict[str, Any]:
    try:
        import torch
    except ImportError:
        return {"torch_cpu_capability": None, "torch_threads": None}
    get_capability = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", None)
    return {
        "torch_cpu_capability": get_capability() if get_capability else None,
        "torch_threads": torch.get_num_threads(),
    }


def _kernels() -> dict[str, Any]:
    from ..kernels import implementation_report

    report = implementation_report(strict=False)  # a record says why the kernels are unusable
    return {
        "kernels_implementation": report["implementation"],
        "kernels_isa": report["isa"],
        "kernels_supported_isas": report["supported_isas"],
        "kernels_threads": report["threads"],
        "kernels_openmp": report["openmp"],
    }


def machine_info() -> dict[str, Any]:
    """CPU model and ISA flags, the instruction sets torch and our kernels use, cores and threads (torch's
    as set now: call it after the benchmark sets its thread count), library versions and the
    environment variables that change code paths."""
    cpuinfo = read_cpuinfo()
    return {
        "cpu_model": cpu_model(cpuinfo),
        "arch": platform.machine(),
        "isa_flags": isa_flags(cpuinfo),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        **_torch_cpu(),
        **_kernels(),
        "python": platform.python_version(),
        "libraries": library_versions(),
        "env": {name: os.environ[name] for name in ENV_VARS if name in os.environ},
    }


def record_result(result: dict[str, Any], out_path: str | Path | None = None) -> dict[str, Any]:
    """Every benchmark's one ending: the machine it ran on added (a benchmark that set its threads first
    records its own), and the JSON written atomically to `out_path` when given."""
    from ..fileio import atomic_write_json

    result.setdefault("machine", machine_info())
    if out_path:
        atomic_write_json(out_path, result)
    return result

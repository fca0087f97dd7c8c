"""Facts about this machine and its libraries: one table, one place that reads them.

Three records are built from these facts, each keeping the field names its readers rely on:
`environment_report()` (`genrobust info`: each library imported, its version or why it cannot be used),
`machine_info()` (the "machine" of every benchmark JSON, also shown by `info`: CPU model and SIMD, the
instruction sets torch and our kernels use, cores, threads, library versions read without importing) and
generation's `compute_settings` (generation/reproducibility.py: what decides an image's last bits).

    info = machine_info()
    info["cpu_model"], info["kernels_isa"], info["torch_cpu_capability"]
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import io
import os
import platform
from pathlib import Path
from typing import Any, NamedTuple


class Library(NamedTuple):
    label: str  # the key in every record
    import_name: str
    dists: tuple[str, ...]  # distributions that provide it, asked in order for a version
    extra: str | None = None  # the genrobust-fast extra that installs it, for the fix hint


# The libraries whose versions change what we compute or how fast: reported by `info` and recorded by
# every benchmark.
LIBRARIES = (
    Library("torch", "torch", ("torch",)),
    Library("torchvision", "torchvision", ("torchvision",)),
    Library("numpy", "numpy", ("numpy",)),
    Library("diffusers", "diffusers", ("diffusers",)),
    Library("transformers", "transformers", ("transformers",)),
    Library("onnx", "onnx", ("onnx",)),
    Library("onnxruntime", "onnxruntime", ("onnxruntime", "onnxruntime-gpu")),
    Library("dali", "nvidia.dali", ("nvidia-dali-cuda130", "nvidia-dali-cuda120"), "dali"),
    Library("deepspeed", "deepspeed", ("deepspeed",)),
    Library("tensorrt", "tensorrt", ("tensorrt", "tensorrt-cu12", "tensorrt-cu13"), "tensorrt"),
)
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


def installed_version(library: Library) -> str | None:
    """The version in the package metadata, without importing (None when not installed)."""
    for dist in library.dists:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def library_versions() -> dict[str, str | None]:
    """Installed versions of LIBRARIES (None when missing), read from package metadata without importing."""
    return {library.label: installed_version(library) for library in LIBRARIES}


def library_status(library: Library) -> dict[str, Any]:
    """Import the library and report its version, or the reason it cannot be used."""
    try:
        # Some libraries (DeepSpeed) print banners on import; keep stdout clean for `info --json`.
        with contextlib.redirect_stdout(io.StringIO()):
            module = importlib.import_module(library.import_name)
    except Exception as exc:  # noqa: BLE001 - any import failure is a reason to report, not to crash `info`
        extra, dist = library.extra, library.dists[0]
        hint = f"pip install 'genrobust-fast[{extra}]'" if extra else f"pip install {dist}"
        return {"available": False, "reason": f"{type(exc).__name__}: {exc}".strip(), "fix": hint}
    version = getattr(module, "__version__", None) or installed_version(library)
    return {"available": True, "version": version or "unknown"}


def imported_version(label: str) -> str | None:
    """The version the imported library reports (torch's keeps its "+cu130" build tag, which the package
    metadata lacks), None when it cannot be imported."""
    library = next(library for library in LIBRARIES if library.label == label)
    return library_status(library).get("version")


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


def torch_cpu() -> dict[str, Any]:
    """The instruction set torch's CPU kernels use and its thread count as set now (None without torch)."""
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
    from .kernels import implementation_report

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
        **torch_cpu(),
        **_kernels(),
        "python": platform.python_version(),
        "libraries": library_versions(),
        "env": {name: os.environ[name] for name in ENV_VARS if name in os.environ},
    }


def device_status() -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "cpu": platform.processor() or platform.machine(),
        "cuda": torch.cuda.is_available(),
    }
    if info["cuda"]:
        info["gpus"] = [
            {
                "name": torch.cuda.get_device_name(i),
                "compute_capability": ".".join(map(str, torch.cuda.get_device_capability(i))),
            }
            for i in range(torch.cuda.device_count())
        ]
    return info


def environment_report() -> dict[str, Any]:
    """What `genrobust info` shows: each library imported (version or the fix), devices, kernels, and the
    machine record every benchmark carries."""
    from . import __version__, kernels

    return {
        "genrobust_fast": __version__,
        "python": platform.python_version(),
        "libraries": {library.label: library_status(library) for library in LIBRARIES},
        "devices": device_status(),
        "kernels": kernels.implementation_report(strict=False),
        "machine": machine_info(),
    }

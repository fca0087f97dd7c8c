"""Sections of the GPU check, each a subprocess with its own time limit; prints a final table.

Called by benchmarks/gpu_check.sh (which sets PYTHONPATH and installs carried wheels).
"""

import argparse
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

BENCH = [sys.executable, "benchmarks/bench_unet.py", "--model", "sd15-arch", "--batch", "4", "--size", "512x512",
         "--seconds", "6", "--device", "cuda"]


def have(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def sections():
    """(name, argv, timeout s, reason it cannot run or None)."""
    import torch

    cuda = torch.cuda.is_available()
    no_models = None if have("diffusers") and have("transformers") else \
        "diffusers/transformers not installed: put their wheels under ./wheels/"
    trt = have("tensorrt")
    ort_cuda = False
    if have("onnxruntime"):
        import onnxruntime

        ort_cuda = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    base = no_models or (None if cuda else "no CUDA GPU visible to torch")
    backends = ["--backend", "torch"] + (["--backend", "onnxruntime"] if ort_cuda else []) + \
        (["--backend", "tensorrt"] if trt else [])
    return [
        ("pytest -m gpu (parity)", [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider",
                                    "tests/engines"], 150, base),
        ("unet fp16 " + "/".join(backends[1::2]), BENCH + backends + ["--precision", "fp16"], 200, base),
        ("unet bf16 torch", BENCH + ["--backend", "torch", "--precision", "bf16"], 60, base),
        ("unet fp16 torch.compile", BENCH + ["--backend", "torch", "--precision", "fp16", "--compile"], 240, base),
        ("tensorrt build+parity", None, 0, None if trt else "TensorRT not installed (pip install tensorrt)"),
        ("onnxruntime CUDA provider", None, 0, None if ort_cuda else "onnxruntime has no CUDAExecutionProvider "
                                                                      "(install onnxruntime-gpu)"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="build/gpu-check")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, argv, limit, reason in sections():
        if reason:
            rows.append((name, "cannot run", reason))
            continue
        if argv is None:  # covered by the other sections when available
            rows.append((name, "included", "runs inside the pytest and unet sections"))
            continue
        start = time.perf_counter()
        log = out / (name.split()[0] + "-" + name.split()[1].replace("/", "_") + ".log")
        try:
            proc = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=limit)
            status = "ok" if proc.returncode == 0 else f"failed (exit {proc.returncode})"
            text = proc.stdout + proc.stderr
        except subprocess.TimeoutExpired as exc:
            status, text = f"timeout after {limit} s", str(exc.stdout or "") + str(exc.stderr or "")
        log.write_text(text)
        detail = summarize(text) if status == "ok" else text.strip().splitlines()[-1:][0] if text.strip() else ""
        rows.append((name, f"{status} {time.perf_counter() - start:.0f}s", detail))
        print(f"[{name}] {status}", flush=True)
    width = max(len(r[0]) for r in rows)
    print("\n" + f"{'section':<{width}}  status            detail")
    for name, status, detail in rows:
        print(f"{name:<{width}}  {status:<17} {detail}")
    (out / "summary.json").write_text(json.dumps([dict(zip(("section", "status", "detail"), r)) for r in rows], indent=2))
    return 0


def summarize(text: str) -> str:
    """Per backend: images/s, ratio vs torch, fraction of peak (from the benchmark JSON), else pytest's tail."""
    start = text.find("{\n")
    if start < 0:
        return text.strip().splitlines()[-1] if text.strip() else ""
    try:
        doc = json.loads(text[start: text.rfind("}") + 1])
    except ValueError:
        return "unparsable JSON"
    parts = [f"{k}: {v['images_per_s']} img/s x{v['ratio_vs_torch']} {v['achieved_tflops']} TFLOP/s "
             f"({v.get('fraction_of_peak')} of peak) err {v['relative_error_vs_torch_fp32']}"
             for k, v in doc["backends"].items()]
    return "; ".join(parts)


if __name__ == "__main__":
    sys.exit(main())

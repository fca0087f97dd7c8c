"""The GPU check's two steps, called by benchmarks/gpu_check.sh:

    python benchmarks/gpu_check.py install --wheelhouse build/wheelhouse --site /tmp/genrobust-site
    python benchmarks/gpu_check.py run --out build/gpu-check [--require tensorrt] [--skip NAME] \\
        [--with-compile]

`install` checks the wheelhouse made by scripts/gpu_wheelhouse.py (every piece's sha256, and that its
project wheel was built from the sources beside it), joins the complete sets and installs them offline:
the core set into this Python (pip keeps what is already there and satisfies the pins), onnxruntime-gpu
into --site (on PYTHONPATH, so it shadows a CPU onnxruntime without uninstalling it).

`run` runs each section as a subprocess with its own time limit and log file (NN-name.log, written as
it goes, so a timeout keeps what was printed), prints what each measured, and exits non-zero when a
required section failed or could not run. TensorRT sections are optional unless --require tensorrt:
TensorRT's wheels (GBs) cannot be carried to a machine that cannot download.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTALL_STATUS = "install.json"


# --- install ------------------------------------------------------------------------------------


def _source_hash() -> str:
    spec = importlib.util.spec_from_file_location("gpu_wheelhouse", ROOT / "scripts" / "gpu_wheelhouse.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.source_hash(ROOT)


def _pip(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pip", *args, "--no-index", "--disable-pip-version-check", "-q"]
    if os.geteuid() == 0:
        cmd.append("--root-user-action=ignore")
    return subprocess.run(cmd, check=False, capture_output=True, text=True)


def _join(wheelhouse: Path, name: str, entry: dict, into: Path) -> list[str]:
    """Problems with set `name`'s pieces ([] when complete: then its wheels are extracted into `into`)."""
    problems = []
    for piece in entry["pieces"]:
        path = wheelhouse / piece["file"]
        if not path.is_file():
            problems.append(f"{piece['file']} is missing")
        elif (
            path.stat().st_size != piece["bytes"]
            or hashlib.sha256(path.read_bytes()).hexdigest() != piece["sha256"]
        ):
            problems.append(f"{piece['file']} is damaged (size or sha256 differs from MANIFEST.json)")
    if problems:
        have = len(entry["pieces"]) - len(problems)
        return [f"{name}: {have} of {len(entry['pieces'])} pieces usable ({'; '.join(problems)})"]
    tar_path = into / f"{name}.tar"
    digest = hashlib.sha256()
    with open(tar_path, "wb") as out:
        for piece in entry["pieces"]:
            block = (wheelhouse / piece["file"]).read_bytes()
            digest.update(block)
            out.write(block)
    if digest.hexdigest() != entry["tar_sha256"]:
        return [f"{name}: the joined pieces do not give the tar MANIFEST.json describes"]
    with tarfile.open(tar_path) as tar:
        tar.extractall(into / name, filter="data")
    tar_path.unlink()
    return []


def install(wheelhouse: Path, site: Path, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    status = {"wheelhouse": str(wheelhouse), "installed": [], "problems": []}

    def finish() -> int:
        (out / INSTALL_STATUS).write_text(json.dumps(status, indent=2))
        for line in status["problems"]:
            print(f"install: {line}", flush=True)
        return 1 if status["problems"] else 0

    manifest_path = wheelhouse / "MANIFEST.json"
    if not manifest_path.is_file():
        status["note"] = f"no wheelhouse at {wheelhouse}: using what this Python already has"
        return finish()
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("project_source_sha256") != _source_hash():
        status["problems"].append(
            f"the project wheel in {wheelhouse} was built from other sources than these; rerun "
            "`python scripts/gpu_wheelhouse.py` here before carrying it"
        )
        return finish()
    with tempfile.TemporaryDirectory(prefix="genrobust-wheels-") as tmp:
        tmp_path = Path(tmp)
        for name, entry in manifest["sets"].items():
            problems = _join(wheelhouse, name, entry, tmp_path)
            if problems:
                status["problems"] += problems
                continue
            wheels = tmp_path / name
            if name == "core":
                steps = [
                    ("requirements", _pip("install", "--find-links", str(wheels), *manifest["requirements"])),
                    (
                        "project",
                        _pip(
                            "install",
                            "--no-deps",
                            "--force-reinstall",
                            str(wheels / manifest["project_wheel"]),
                        ),
                    ),
                ]
            else:  # onnxruntime-gpu beside (and ahead of) a CPU onnxruntime, which stays installed
                shutil.rmtree(site, ignore_errors=True)
                steps = [
                    (
                        name,
                        _pip("install", "--no-deps", "--target", str(site), *map(str, wheels.glob("*.whl"))),
                    )
                ]
            for label, proc in steps:
                if proc.returncode:
                    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
                    status["problems"].append(f"pip install of {label} failed: {' | '.join(tail)}")
                else:
                    status["installed"].append(label)
    return finish()


# --- run ----------------------------------------------------------------------------------------


def have(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def environment() -> dict:
    env: dict = {"python": sys.version.split()[0], "torch": have("torch"), "cuda": False}
    if env["torch"]:
        import torch

        env.update(torch=torch.__version__, cuda=torch.cuda.is_available())
    if env["cuda"]:
        import torch

        env["gpu"] = torch.cuda.get_device_name(0)
        env["compute_capability"] = ".".join(map(str, torch.cuda.get_device_capability(0)))
    for module in (
        "diffusers",
        "transformers",
        "click",
        "pytest",
        "onnxruntime",
        "tensorrt",
        "genrobust_fast",
    ):
        env[module] = have(module)
    if env["onnxruntime"]:
        import onnxruntime

        env["onnxruntime_providers"] = onnxruntime.get_available_providers()
        env["onnxruntime_version"] = onnxruntime.__version__
    if env["genrobust_fast"]:
        import genrobust_fast

        env["genrobust_fast_from"] = str(Path(genrobust_fast.__file__).parent)
    if env["tensorrt"]:
        import tensorrt

        env["tensorrt_version"] = tensorrt.__version__
    return env


def sections(env: dict, engines: Path, with_compile: bool) -> list[dict]:
    """Each: name, argv, limit (s), why it cannot run (or None), optional (needs a library the lent GPU
    machine cannot get), and what to report from its log."""
    py = [sys.executable, "-P"]  # -P: import the installed genrobust_fast, not the source folder
    missing = [m for m in ("diffusers", "transformers", "click", "pytest", "genrobust_fast") if not env[m]]
    base = None if env["cuda"] else ("torch sees no CUDA GPU" if env["torch"] else "torch is not installed")
    if base is None and missing:
        base = (
            f"{', '.join(missing)} not installed: prepare the wheelhouse here with "
            "`python scripts/gpu_wheelhouse.py` and carry build/wheelhouse"
        )
    trt = None if env["tensorrt"] else "TensorRT is not installed (pip install 'genrobust-fast[tensorrt]')"
    ort = (
        None
        if "CUDAExecutionProvider" in env.get("onnxruntime_providers", [])
        else (
            "onnxruntime has no CUDAExecutionProvider: carry the wheelhouse's ort-gpu pieces "
            "(scripts/gpu_wheelhouse.py)"
        )
    )
    bench = [
        *py,
        "-m",
        "genrobust_fast",
        "bench",
        "unet",
        "--model",
        "sd15-arch",
        "--batch",
        "4",
        "--size",
        "512x512",
        "--seconds",
        "6",
        "--device",
        "cuda",
        "--engine-dir",
        str(engines),
    ]
    with_trt = ["--backend", "tensorrt"] if env["tensorrt"] else []
    out = [
        {
            "name": "onnxruntime-cuda-provider",
            "argv": [*py, "-c", _ORT_PROBE],
            "limit": 60,
            "reason": base or ort,
            "report": "probe",
        },
        {
            "name": "tensorrt-engines",
            "argv": [
                *py,
                "-m",
                "genrobust_fast",
                "engine",
                "build",
                "--model",
                "sd15-arch",
                "--backend",
                "tensorrt",
                "--precision",
                "fp16",
                "--batch",
                "4",
                "--size",
                "512x512",
                "--engine-dir",
                str(engines),
            ],
            "limit": 420,
            "reason": base or trt,
            "optional": "tensorrt",
            "report": "tail",
        },
        {
            "name": "pytest-gpu",
            "argv": [
                *py,
                "-m",
                "pytest",
                "-q",
                "-s",
                "-m",
                "gpu",
                "-p",
                "no:cacheprovider",
                "-rs",
                "tests/engines",
            ],
            "limit": 300,
            "reason": base,
            "report": "pytest",
        },
        {
            "name": "unet-fp16",
            "argv": [*bench, "--backend", "torch", *with_trt, "--precision", "fp16"],
            "limit": 240,
            "reason": base,
            "report": "bench",
        },
        {
            "name": "unet-bf16",
            "argv": [*bench, "--backend", "torch", "--precision", "bf16"],
            "limit": 150,
            "reason": base,
            "report": "bench",
        },
    ]
    if with_compile:
        out.append(
            {
                "name": "unet-fp16-compile",
                "argv": [*bench, "--backend", "torch", "--precision", "fp16", "--compile"],
                "limit": 300,
                "reason": base,
                "report": "bench",
            }
        )
    return out


_ORT_PROBE = """
import torch, onnxruntime as ort, numpy as np
from onnx import helper, TensorProto
g = helper.make_graph([helper.make_node("Mul", ["x", "x"], ["y"])], "g",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
s = ort.InferenceSession(m.SerializeToString(), providers=["CUDAExecutionProvider"])
used = s.get_providers()
assert used[0] == "CUDAExecutionProvider", f"session fell back to {used}"
y = s.run(None, {"x": np.arange(4, dtype=np.float32)})[0]
assert y.tolist() == [0.0, 1.0, 4.0, 9.0], y
print(f"onnxruntime {ort.__version__} from {ort.__file__}: session on {used[0]} (CUDA {torch.version.cuda})")
"""


def measured(kind: str, text: str) -> str:
    """One line of what a section measured, from its log."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if kind == "pytest":
        picked = [
            line.strip()
            for line in lines
            if re.match(r"(onnxruntime cuda|tensorrt|generate --batch-size 1)", line.strip())
        ]
        totals = next(
            (line.strip("= ") for line in reversed(lines) if re.search(r"\d+ (passed|failed)", line)), ""
        )
        skipped = [line for line in lines if line.startswith("SKIPPED")]
        return "; ".join([totals, *picked, *(s[:120] for s in skipped)])
    if kind == "bench":
        start = text.find("{\n")
        if start < 0:
            return lines[-1] if lines else ""
        try:
            doc = json.loads(text[start : text.rfind("}") + 1])
        except ValueError:
            return "unparsable JSON"
        return "; ".join(
            f"{k} {doc['precision']}: {v['images_per_s']} img/s x{v['ratio_vs_torch']} vs torch, "
            f"{v['achieved_tflops']} TFLOP/s ({v.get('fraction_of_peak')} of peak), err "
            f"{v['relative_error_vs_torch_fp32']}"
            for k, v in doc["backends"].items()
        )
    return lines[-1] if lines else ""


def run_section(section: dict, log: Path) -> tuple[str, str]:
    start = time.perf_counter()
    with open(log, "w") as handle:
        proc = subprocess.Popen(
            section["argv"], stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
        )
        try:
            code = proc.wait(timeout=section["limit"])
            status = "ok" if code == 0 else f"FAILED (exit {code})"
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the whole group: pytest's or a bench's children too
            proc.wait()
            status = f"FAILED (timeout after {section['limit']} s)"
    text = log.read_bytes().decode("utf-8", errors="replace")
    detail = measured(section["report"], text) if status == "ok" else (text.strip().splitlines() or [""])[-1]
    return f"{status} {time.perf_counter() - start:.0f}s", detail


def run(args) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("[0-9][0-9]-*.log"):
        old.unlink()
    engines = out / "engines"
    env = environment()
    print("environment: " + json.dumps(env), flush=True)
    planned = sections(env, engines, args.with_compile)
    unknown = sorted(set(args.skip) - {s["name"] for s in planned})
    if unknown:
        print(
            f"--skip {', '.join(unknown)}: no such section; sections: {', '.join(s['name'] for s in planned)}"
        )
        return 2
    rows, failed = [], False
    install_status = out / INSTALL_STATUS
    if install_status.is_file():
        status = json.loads(install_status.read_text())
        ok = not status["problems"]
        failed |= not ok
        rows.append(
            (
                "install",
                "ok" if ok else "FAILED",
                "; ".join(status["problems"])
                or status.get("note")
                or "installed " + ", ".join(status["installed"]),
            )
        )
    for index, section in enumerate(planned, start=1):
        name = section["name"]
        optional = section.get("optional") and section["optional"] not in args.require
        if name in args.skip:
            rows.append((name, "skipped", "--skip"))
            continue
        if section["reason"]:
            rows.append((name, "not run (optional)" if optional else "CANNOT RUN", section["reason"]))
            failed |= not optional
            continue
        log = out / f"{index:02d}-{name}.log"
        status, detail = run_section(section, log)
        failed |= not status.startswith("ok")
        rows.append((name, status, f"{detail}  [{log.name}]"))
        print(f"[{name}] {status}: {detail}", flush=True)
    width = max(len(r[0]) for r in rows)
    print(f"\n{'section':<{width}}  {'status':<20} measured / reason")
    for name, status, detail in rows:
        print(f"{name:<{width}}  {status:<20} {detail}")
    summary = {
        "environment": env,
        "sections": [dict(zip(("section", "status", "detail"), r)) for r in rows],
        "passed": not failed,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    ret = os.environ.get("OUT")  # the device tool's return folder: at most 8 files, so logs go as one tar
    if ret and Path(ret).resolve() != out.resolve():
        shutil.copy(out / "summary.json", Path(ret) / "summary.json")
        with tarfile.open(Path(ret) / "gpu-check-logs.tar.gz", "w:gz") as tar:
            for path in sorted(out.glob("*.log")) + [install_status] * install_status.is_file():
                tar.add(path, arcname=path.name)
    print(f"\nGPU check {'FAILED' if failed else 'passed'}; logs in {out}/", flush=True)
    return 1 if failed else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="step", required=True)
    inst = sub.add_parser("install")
    inst.add_argument("--wheelhouse", default="build/wheelhouse")
    inst.add_argument("--site", default="/tmp/genrobust-site")
    inst.add_argument("--out", default="build/gpu-check")
    go = sub.add_parser("run")
    go.add_argument("--out", default="build/gpu-check")
    go.add_argument(
        "--require",
        action="append",
        default=[],
        choices=["tensorrt"],
        help="make the TensorRT sections required (fail when TensorRT is missing)",
    )
    go.add_argument(
        "--skip", action="append", default=[], help="skip a section by name (reported as skipped)"
    )
    go.add_argument("--with-compile", action="store_true", help="also time torch.compile (about 4 minutes)")
    args = parser.parse_args(argv)
    if args.step == "install":
        return install(Path(args.wheelhouse), Path(args.site), Path(args.out))
    return run(args)


if __name__ == "__main__":
    sys.exit(main())

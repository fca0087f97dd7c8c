"""The GPU check, sized for the machine it gets: one device call of at most 9 minutes carrying the working
tree and build/wheelhouse (at most ~25 MiB; a call may carry 64 MiB). Called by benchmarks/gpu_check.sh:

    python benchmarks/gpu_check.py plan                  # here: bytes carried and section budgets
    python benchmarks/gpu_check.py run [--out DIR] [--skip NAME]   # there

`run` installs the wheels the image lacks (offline, --no-deps, into --site, first on PYTHONPATH), then runs
each section as a child process under its own limit, cut short by one overall deadline: what no longer
fits is skipped and reported, never started. summary.json (and, under the device tool, $OUT/summary.json
and $OUT/gpu-check-logs.tar.gz) is rewritten after every section, so a run killed from outside still
returns what it measured. Each section runs in its own process group, killed whenever the check ends
(timeout, signal, exit): pytest's or torchrun's children must not hold the GPU through a rerun.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
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
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIB = 2**20
CALL_LIMIT = 64 * MIB  # what one device call may carry: tracked + untracked files + carried paths
CALL_TARGET = 25 * MIB  # what this check means to carry, leaving room for the tree to grow
WHEEL_BUDGET = 11 * MIB  # build/wheelhouse at most (scripts/gpu_wheelhouse.py asserts it)
DEADLINE = 540  # seconds, install included: a command may run 600 s
INSTALL_BUDGET = 30
MIN_START = 10  # a section with less time than this left is skipped, not started
# name -> seconds. The sums are checked by `plan` and by tests/engines/test_gpu_check.py.
SECTIONS = {
    "machine": 30,
    "pytest-torch-gpu": 75,
    "deepspeed-nccl": 75,
    "unet-bf16": 80,
    "unet-fp16": 80,
    "generate-tiny": 60,
    "generate-sd15-arch": 100,
}
TENSORRT_LINE = (
    "cannot be had here: TensorRT's PyPI packages are stubs that download from NVIDIA at install time, "
    "and this machine cannot download"
)


# --- plan (CPU) ---------------------------------------------------------------------------------


def tree_bytes(root: Path = ROOT) -> int:
    """Bytes of what a device call sends without being asked: tracked and untracked-not-ignored files."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        check=True,
        capture_output=True,
    ).stdout
    paths = (root / p.decode() for p in listed.split(b"\0") if p)
    return sum(p.stat().st_size for p in paths if p.is_file() and not p.is_symlink())


def plan(wheelhouse: Path, tree: int | None = None) -> tuple[list[str], list[str]]:
    """(lines to print, problems): the one call's carried bytes and every section's budget."""
    tree = tree_bytes() if tree is None else tree
    if (wheelhouse / "MANIFEST.json").is_file():
        wheels = sum(p.stat().st_size for p in wheelhouse.rglob("*") if p.is_file())
        wheel_note = f"{wheelhouse} as built"
    else:
        wheels, wheel_note = WHEEL_BUDGET, f"{wheelhouse} not built here: its budget"
    total = tree + wheels
    budgets = {"install": INSTALL_BUDGET, **SECTIONS}
    limits = f"limit {CALL_LIMIT / MIB:.0f}, target {CALL_TARGET / MIB:.0f}"
    lines = [
        f"call 1 of 1: carries {total / MIB:.1f} MiB ({limits}), runs at most {DEADLINE} s",
        f"  working tree      {tree / MIB:6.1f} MiB",
        f"  wheels            {wheels / MIB:6.1f} MiB  ({wheel_note})",
        *(f"  {name:<20} {seconds:4d} s" for name, seconds in budgets.items()),
        f"  {'total':<20} {sum(budgets.values()):4d} s of a {DEADLINE} s deadline",
        "  tensorrt             " + TENSORRT_LINE,
    ]
    problems = []
    if total > CALL_LIMIT:
        problems.append(f"the call carries {total / MIB:.1f} MiB, over the {CALL_LIMIT / MIB:.0f} MiB limit")
    elif total > CALL_TARGET:
        lines.append(f"note: {total / MIB:.1f} MiB is over the {CALL_TARGET / MIB:.0f} MiB target")
    if DEADLINE > 540 or sum(budgets.values()) > DEADLINE:
        problems.append(f"section budgets add to {sum(budgets.values())} s, over the {DEADLINE} s deadline")
    return lines, problems


# --- install (GPU machine) ----------------------------------------------------------------------


def _installed(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def install(wheelhouse: Path, site: Path, limit: float) -> tuple[str, str]:
    """(status, detail): the wheelhouse's wheels this Python lacks, checked and installed into `site`."""
    manifest_path = wheelhouse / "MANIFEST.json"
    if not manifest_path.is_file():
        return "ok", f"no {manifest_path}: using what this Python has"
    manifest = json.loads(manifest_path.read_text())
    wanted, have = [], []
    for wheel in manifest["wheels"]:
        path = wheelhouse / wheel["file"]
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != wheel["sha256"]:
            return "FAILED", f"{wheel['file']} is missing or damaged; rerun scripts/gpu_wheelhouse.py here"
        if _installed(wheel["name"]) == wheel["version"]:
            have.append(wheel["name"])
        else:
            wanted.append(path)
    shutil.rmtree(site, ignore_errors=True)
    if wanted:
        cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile"]
        cmd += ["--disable-pip-version-check", "--target", str(site), *map(str, wanted)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit, check=False)
        except subprocess.TimeoutExpired:
            return "FAILED", f"pip install took over {limit:.0f} s"
        if proc.returncode:
            return "FAILED", "pip: " + " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
    names = ", ".join(p.name.split("-")[0] for p in wanted)
    return "ok", f"installed {names or 'nothing'} into {site}" + (f"; had {', '.join(have)}" if have else "")


# --- sections (GPU machine) ---------------------------------------------------------------------

_MACHINE = r"""
import json, subprocess, time, importlib.metadata as md, torch
query = ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]
try:
    print("nvidia-smi:", subprocess.run(query, capture_output=True, text=True).stdout.strip())
except FileNotFoundError:
    print("nvidia-smi: not found")
versions = {}
for name in ("torch", "diffusers", "transformers", "deepspeed", "onnxruntime", "onnx", "pydantic"):
    try:
        versions[name] = md.version(name)
    except md.PackageNotFoundError:
        versions[name] = None
print("versions:", versions)
a, b = (torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16) for _ in range(2))
for _ in range(3):
    a @ b
torch.cuda.synchronize()
start, n = time.perf_counter(), 50
for _ in range(n):
    a @ b
torch.cuda.synchronize()
tflops = 2 * 8192**3 * n / (time.perf_counter() - start) / 1e12
print(json.dumps({"gpu": torch.cuda.get_device_name(0), "capability": torch.cuda.get_device_capability(0),
                  "cuda": torch.version.cuda, "bf16_matmul_tflops": round(tflops, 1), "versions": versions}))
"""


def commands(out: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (argv, how to read its log)."""
    py = sys.executable
    bench = [py, "-m", "genrobust_fast", "bench"]
    unet = [*bench, "unet", "--model", "sd15-arch", "--backend", "torch", "--batch", "4"]
    unet += ["--size", "512x512", "--seconds", "4", "--device", "cuda", "--engine-dir", str(out / "engines")]
    generate = [*bench, "generate", "--backend", "torch", "--device", "cuda"]
    return {
        "machine": ([py, "-c", _MACHINE], "machine"),
        "pytest-torch-gpu": (
            [py, "-m", "pytest", "-q", "-s", "-m", "gpu", "-p", "no:cacheprovider", "-rs", "-k"]
            + ["torch_gpu_precisions", "tests/engines/test_engine_parity.py"],
            "pytest",
        ),
        "deepspeed-nccl": (
            [py, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1"]
            + [str(Path(__file__).resolve()), "deepspeed-steps", "--steps", "2"],
            "last-json",
        ),
        "unet-bf16": ([*unet, "--precision", "bf16"], "unet"),
        "unet-fp16": ([*unet, "--precision", "fp16"], "unet"),
        "generate-tiny": (
            [
                *generate,
                "--model",
                "tiny",
                "--images",
                "32",
                "--steps",
                "10",
                "--batch",
                "8",
                "--rounds",
                "3",
            ],
            "generate",
        ),
        "generate-sd15-arch": (
            [*generate, "--model", "sd15-arch", "--images", "4", "--steps", "4", "--batch", "4"]
            + ["--rounds", "2", "--size", "512x512"],
            "generate",
        ),
    }


def _json_doc(text: str) -> dict | None:
    """The benchmark's JSON document (printed last, indented) or a one-line JSON last line."""
    start = text.rfind("\n{\n") + 1 if "\n{\n" in text else (0 if text.startswith("{\n") else -1)
    candidates = [text[start : text.rfind("}") + 1]] if start >= 0 else []
    candidates += [line for line in reversed(text.splitlines()) if line.startswith("{")][:1]
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    return None


def measured(kind: str, text: str, machine: dict) -> str:
    """One line of what a section measured, read from its log."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if kind == "pytest":
        totals = next(
            (line.strip("= ") for line in reversed(lines) if re.search(r"\d+ (passed|failed|skipped)", line)),
            "",
        )
        errors = [line for line in lines if line.startswith("torch ") and "relative error" in line]
        return "; ".join([totals, *errors])
    doc = _json_doc(text)
    if doc is None:
        return lines[-1] if lines else ""
    if kind == "machine":
        gpu = f"{doc['gpu']} (sm {doc['capability']}), CUDA {doc['cuda']}"
        return f"{gpu}, bf16 matmul {doc['bf16_matmul_tflops']} TFLOP/s"
    if kind == "unet":
        peak = machine.get("bf16_matmul_tflops")
        parts = []
        for name, v in doc["backends"].items():
            share = f", {v['achieved_tflops'] / peak:.2f} of the measured bf16 matmul peak" if peak else ""
            parts.append(
                f"{name} {doc['precision']}: {v['images_per_s']} img/s, "
                f"{v['achieved_tflops']} TFLOP/s{share}, error vs fp32 {v['relative_error_vs_torch_fp32']}"
            )
        return "; ".join(parts)
    if kind == "generate":
        return (
            f"{doc['model']} {doc['precision']} on {doc['device']}: {doc['ours_images_per_s']} img/s, "
            f"x{doc['speedup_vs_diffusers']} vs diffusers ({doc['diffusers_images_per_s']} img/s), "
            f"pixels within {doc['parity_max_abs_diff_vs_diffusers']} of diffusers', overhead vs UNet "
            f"{doc['overhead_vs_unet_bound']:.1%}"
        )
    return json.dumps(doc)


class Check:
    """Runs the sections in order under one deadline, keeping summary.json current."""

    def __init__(self, out: Path, seconds: float):
        self.out, self.seconds, self.child = out, seconds, None
        self.deadline = time.monotonic() + seconds
        self.summary = {"deadline_s": seconds, "machine": {}, "sections": [], "passed": False, "done": False}
        self.pgid_file = out / "running.pgid"

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def record(self, name: str, status: str, detail: str, seconds: float | None = None) -> None:
        row = {"section": name, "status": status, "detail": detail}
        if seconds is not None:
            row["seconds"] = round(seconds, 1)
        self.summary["sections"].append(row)
        print(f"[{name}] {status}: {detail}", flush=True)
        self.save()

    def save(self) -> None:
        bad = [r for r in self.summary["sections"] if r["status"] not in ("ok", "not run")]
        self.summary["passed"] = self.summary["done"] and not bad
        path = self.out / "summary.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.summary, indent=2))
        tmp.replace(path)
        ret = os.environ.get("OUT")  # the device tool's return folder: at most 8 files, so logs go as one tar
        if ret and Path(ret).resolve() != self.out.resolve():
            shutil.copy(path, Path(ret) / "summary.json")
            with tarfile.open(Path(ret) / "gpu-check-logs.tar.gz", "w:gz") as tar:
                for log in sorted(self.out.glob("*.log")):
                    tar.add(log, arcname=log.name)

    def kill_child(self) -> None:
        """The running section's whole process group (torchrun's workers, pytest's children)."""
        if self.child is not None:  # the leader may be gone and its children not: kill the group anyway
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.child.pid, signal.SIGKILL)
            self.child.wait()
        self.child = None
        self.pgid_file.unlink(missing_ok=True)

    def kill_leftovers(self) -> None:
        """A group an earlier, killed run of this check left behind on a warm machine."""
        if self.pgid_file.is_file():
            try:
                os.killpg(int(self.pgid_file.read_text()), signal.SIGKILL)
                print(f"killed process group {self.pgid_file.read_text()} left by an earlier run", flush=True)
            except (ProcessLookupError, ValueError):
                pass
            self.pgid_file.unlink()

    def section(self, name: str, argv: list[str], budget: float, kind: str, env: dict) -> None:
        limit = min(budget, self.left())
        if limit < min(budget, MIN_START):
            self.record(
                name, "SKIPPED", f"the {self.seconds:.0f} s deadline leaves {max(self.left(), 0):.0f} s"
            )
            return
        log = self.out / f"{len(self.summary['sections']):02d}-{name}.log"
        start = time.monotonic()
        with open(log, "w") as handle:
            # A new process group in the same session: killable as one, and still ended with the
            # session by whoever runs this check (a new session would outlive it).
            self.child = subprocess.Popen(
                argv, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT, env=env, process_group=0
            )
            self.pgid_file.write_text(str(self.child.pid))
            try:
                code = self.child.wait(timeout=limit)
                status = "ok" if code == 0 else f"FAILED (exit {code})"
            except subprocess.TimeoutExpired:
                status = f"FAILED (timeout after {limit:.0f} s)"
            self.kill_child()  # after a clean exit too: a section's stray children go with it
        seconds = time.monotonic() - start
        text = log.read_bytes().decode("utf-8", errors="replace")
        if kind == "pytest" and status == "ok" and not re.search(r"\d+ passed", text):
            status = "FAILED (no test passed)"  # all skipped (no GPU seen) is not a green run
        if kind == "machine" and status == "ok":
            self.summary["machine"] = _json_doc(text) or {}
        detail = (
            measured(kind, text, self.summary["machine"])
            if status == "ok"
            else (text.strip().splitlines() or [""])[-1]
        )
        self.record(name, status, f"{detail}  [{log.name}]", seconds)


def run(args) -> int:
    started = time.monotonic()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    check = Check(out, min(args.deadline, DEADLINE))
    check.kill_leftovers()
    for old in [*out.glob("[0-9][0-9]-*.log"), out / "summary.json"]:
        old.unlink(missing_ok=True)
    unknown = sorted(set(args.skip) - set(SECTIONS))
    if unknown:
        print(f"--skip {', '.join(unknown)}: no such section; sections: {', '.join(SECTIONS)}")
        return 2

    def stop(signum, frame):
        check.kill_child()
        check.record("check", "FAILED", f"stopped by signal {signum}")
        sys.exit(128 + signum)

    handled = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    before = {signum: signal.signal(signum, stop) for signum in handled}
    atexit.register(check.kill_child)  # also on an exception out of this function
    try:
        run_sections(check, args, started)
    finally:
        check.kill_child()
        atexit.unregister(check.kill_child)
        for signum, handler in before.items():
            signal.signal(signum, handler)
    print(
        f"\nGPU check {'passed' if check.summary['passed'] else 'FAILED'} in "
        f"{time.monotonic() - started:.0f} s; logs in {out}/",
        flush=True,
    )
    return 0 if check.summary["passed"] else 1


def run_sections(check: Check, args, started: float) -> None:
    status, detail = install(Path(args.wheelhouse), Path(args.site), min(INSTALL_BUDGET, check.left()))
    check.record("install", status, detail, time.monotonic() - started)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    # The sources beside this script, then the carried wheels, then the image's own packages.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), args.site, os.environ.get("PYTHONPATH")]))
    for name, (argv, kind) in commands(check.out).items():
        if name in args.skip:
            check.record(name, "not run", "--skip")
        elif status != "ok":
            check.record(name, "SKIPPED", "the install failed")
        else:
            check.section(name, argv, SECTIONS[name], kind, env)
    trt = "installed, not exercised by this check" if importlib.util.find_spec("tensorrt") else TENSORRT_LINE
    check.summary["tensorrt"] = trt
    check.summary["done"] = True
    check.record("tensorrt", "not run", trt)


# --- the DeepSpeed section's rank (started by torchrun) ------------------------------------------


def deepspeed_steps(steps: int) -> int:
    """Our trainer on NCCL: the process group joined our way (device from LOCAL_RANK, set before init),
    then `steps` DeepSpeed steps of a torchvision ResNet-18 on generated JPEGs."""
    import math
    import tempfile

    import torch.distributed as dist

    from genrobust_fast.bench.loader import make_generated_jpegs
    from genrobust_fast.training import TrainConfig, train
    from genrobust_fast.training.distributed import init_distributed, pick_device

    device = pick_device("auto")
    rank, world = init_distributed(device)
    info = {"rank": rank, "world_size": world, "device": device, "backend": dist.get_backend()}
    with tempfile.TemporaryDirectory(prefix="gpu-check-ds-") as tmp:
        real = make_generated_jpegs(Path(tmp) / "real", 64, 128, classes=4)
        result = train(
            TrainConfig(
                real=str(real),
                arch="resnet18",
                image_size=112,
                batch_size=16,
                max_steps=steps,
                loader="torch",
                precision="bf16",
                progress=False,
                log_every=1,
                out=str(Path(tmp) / "run"),
            )
        )
    info.update({k: result.get(k) for k in ("final_loss", "images_per_s", "precision", "loader")})
    print(json.dumps(info), flush=True)
    ok = (
        info["backend"] == "nccl"
        and result.get("final_loss") is not None
        and math.isfinite(result["final_loss"])
    )
    return 0 if ok else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="step", required=True)
    show = sub.add_parser("plan", help="print the call's carried bytes and section budgets; exit 1 if over")
    show.add_argument("--wheelhouse", default=str(ROOT / "build" / "wheelhouse"))
    go = sub.add_parser("run")
    go.add_argument("--out", default=str(ROOT / "build" / "gpu-check"))
    go.add_argument("--wheelhouse", default=str(ROOT / "build" / "wheelhouse"))
    go.add_argument("--site", default="/tmp/genrobust-site")
    go.add_argument("--deadline", type=float, default=DEADLINE, help=f"seconds, at most {DEADLINE}")
    go.add_argument("--skip", action="append", default=[], help="skip a section by name")
    ds = sub.add_parser("deepspeed-steps", help="one rank of the deepspeed-nccl section (under torchrun)")
    ds.add_argument("--steps", type=int, default=2)
    args = parser.parse_args(argv)
    if args.step == "plan":
        lines, problems = plan(Path(args.wheelhouse))
        print("\n".join([*lines, *(f"PLAN FAILS: {p}" for p in problems)] or ["plan ok"]))
        print("plan fails" if problems else "plan ok")
        return 1 if problems else 0
    if args.step == "deepspeed-steps":
        return deepspeed_steps(args.steps)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())

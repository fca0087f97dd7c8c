"""benchmarks/gpu_check.py and scripts/gpu_wheelhouse.py on a CPU machine (issue 25): the check fits one
device call (bytes and time), stops at its deadline with every section's process group killed, writes its
summary after every section, and installs only checked wheels; the wheelhouse refuses wheels whose
requirements the GPU image cannot meet."""

import hashlib
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def gpu_check():
    return _load("gpu_check", ROOT / "benchmarks" / "gpu_check.py")


@pytest.fixture(scope="module")
def wheelhouse_tool():
    return _load("gpu_wheelhouse", ROOT / "scripts" / "gpu_wheelhouse.py")


def test_the_check_fits_one_device_call(gpu_check, tmp_path, monkeypatch):
    """The working tree plus the wheelhouse (as built, or its budget where it is not) fit the 64 MiB a call
    carries, and the install and section budgets fit the deadline, itself inside a 600 s command."""
    assert gpu_check.DEADLINE <= 540
    lines, problems = gpu_check.plan(ROOT / "build" / "wheelhouse")
    assert problems == [], problems
    carried = gpu_check.tree_bytes() + gpu_check.WHEEL_BUDGET
    assert carried <= gpu_check.CALL_LIMIT and gpu_check.WHEEL_BUDGET + 13 * 2**20 <= gpu_check.CALL_TARGET
    assert gpu_check.INSTALL_BUDGET + sum(gpu_check.SECTIONS.values()) <= gpu_check.DEADLINE
    assert any("tensorrt" in line and "cannot be had here" in line for line in lines)
    # The same plan fails on a wheelhouse too big to carry, or budgets past the deadline.
    house = tmp_path / "wheelhouse"
    house.mkdir()
    (house / "MANIFEST.json").write_text("{}")
    with open(house / "big.whl", "wb") as f:
        f.truncate(gpu_check.CALL_LIMIT)
    assert "over the 64 MiB limit" in gpu_check.plan(house)[1][0]
    monkeypatch.setitem(gpu_check.SECTIONS, "one-more", 60)
    assert "over the 540 s deadline" in gpu_check.plan(ROOT / "no-wheelhouse")[1][0]


def test_plan_from_the_shell_script():
    proc = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--plan"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("call 1 of 1: carries ") and proc.stdout.rstrip().endswith("plan ok")
    assert "generate-sd15-arch" in proc.stdout and "of a 540 s deadline" in proc.stdout


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child of ours stays a zombie until reaped; it holds nothing.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[1][0] != "Z"


def _leaves_a_grandchild(pid_file: Path, then: str) -> str:
    """A section that starts a sleeping grandchild (its pid in pid_file), then runs `then`."""
    return (
        "import subprocess, sys, time; "
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        f"open({str(pid_file)!r}, 'w').write(str(p.pid)); {then}"
    )


def _args(out: Path, deadline: float, **kw):
    return SimpleNamespace(
        out=str(out),
        wheelhouse=str(out / "no-wheelhouse"),
        site=str(out / "site"),
        deadline=deadline,
        skip=kw.get("skip", []),
    )


def test_deadline_skips_what_is_left_and_every_section_group_is_killed(gpu_check, tmp_path, monkeypatch):
    ret = tmp_path / "ret"
    ret.mkdir()
    monkeypatch.setenv("OUT", str(ret))
    out = tmp_path / "check"
    py = sys.executable
    summary = out / "summary.json"
    sections = {
        # exits at once, its grandchild still sleeping: the group goes with it
        "first": ([py, "-c", _leaves_a_grandchild(tmp_path / "a.pid", "print('{\"x\": 1}')")], "last-json"),
        # reads the summary written before it started, then hangs past its budget
        "hangs": (
            [
                py,
                "-c",
                _leaves_a_grandchild(
                    tmp_path / "b.pid", f"print(open({str(summary)!r}).read()); time.sleep(60)"
                ),
            ],
            "last-json",
        ),
        "late": ([py, "-c", "print('never')"], "last-json"),
    }
    monkeypatch.setattr(gpu_check, "commands", lambda out: sections)
    monkeypatch.setattr(gpu_check, "SECTIONS", {"first": 20, "hangs": 3, "late": 20})
    monkeypatch.setattr(gpu_check, "MIN_START", 6)  # `late` finds ~5 s of the 8 s deadline left: skipped
    start = time.monotonic()
    assert gpu_check.run(_args(out, deadline=8)) == 1
    assert time.monotonic() - start < 10
    rows = {r["section"]: r for r in json.loads(summary.read_text())["sections"]}
    assert rows["install"]["status"] == "ok" and rows["first"]["status"] == "ok"
    assert rows["hangs"]["status"].startswith("FAILED (timeout after 3 s)")
    assert rows["late"]["status"] == "SKIPPED" and re.match(
        r"the 8 s deadline leaves [0-5] s$", rows["late"]["detail"]
    )
    assert "cannot be had here" in rows["tensorrt"]["detail"]
    for pid_file in ("a.pid", "b.pid"):
        pid = int((tmp_path / pid_file).read_text())
        assert not _alive(pid), f"{pid_file}: the section's grandchild outlived it"
    # `hangs` printed the summary as it stood when it started: install and first already there.
    hung_log = (out / "02-hangs.log").read_text()
    assert [r["section"] for r in json.loads(hung_log)["sections"]] == ["install", "first"]
    assert json.loads((ret / "summary.json").read_text()) == json.loads(summary.read_text())
    assert (ret / "gpu-check-logs.tar.gz").stat().st_size > 0
    assert not (out / "running.pgid").exists()


def test_a_group_left_by_an_earlier_killed_run_is_killed_first(gpu_check, tmp_path, monkeypatch):
    out = tmp_path / "check"
    out.mkdir()
    left = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], process_group=0)
    (out / "running.pgid").write_text(str(left.pid))
    monkeypatch.setattr(gpu_check, "commands", lambda out: {})
    monkeypatch.delenv("OUT", raising=False)
    assert gpu_check.run(_args(out, deadline=30)) == 0
    assert left.wait(timeout=5) == -signal.SIGKILL


def test_a_pytest_section_where_nothing_passed_fails(gpu_check, tmp_path, monkeypatch):
    """On a machine where torch sees no GPU every gpu test skips: exit 0, but nothing was checked."""
    monkeypatch.delenv("OUT", raising=False)
    check = gpu_check.Check(tmp_path, 60)
    skipped = [sys.executable, "-c", "print('2 skipped, 8 deselected in 1.49s')"]
    check.section("pytest-torch-gpu", skipped, 30, "pytest", dict(os.environ))
    passed = [
        sys.executable,
        "-c",
        "print('torch bf16 unet: relative error 3.1e-03 vs fp32'); print('2 passed')",
    ]
    check.section("pytest-again", passed, 30, "pytest", dict(os.environ))
    rows = json.loads((tmp_path / "summary.json").read_text())["sections"]
    assert rows[0]["status"] == "FAILED (no test passed)"
    assert rows[1]["status"] == "ok" and rows[1]["detail"].startswith(
        "2 passed; torch bf16 unet: relative error"
    )


def _wheel(folder: Path, name: str, version: str, requires=()) -> Path:
    path = folder / f"{name}-{version}-py3-none-any.whl"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    meta += "".join(f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{name}/__init__.py", f"VERSION = {version!r}\n")
        z.writestr(f"{name}-{version}.dist-info/METADATA", meta)
        z.writestr(f"{name}-{version}.dist-info/RECORD", "")
        z.writestr(
            f"{name}-{version}.dist-info/WHEEL",
            "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
    return path


def _manifest(house: Path, wheels: list[Path]) -> None:
    entries = [
        {
            "file": w.name,
            "name": w.name.split("-")[0],
            "version": w.name.split("-")[1],
            "sha256": hashlib.sha256(w.read_bytes()).hexdigest(),
        }
        for w in wheels
    ]
    (house / "MANIFEST.json").write_text(json.dumps({"wheels": entries}))


def test_install_checks_every_wheel_and_installs_only_what_is_missing(gpu_check, tmp_path):
    import pytest as installed

    house = tmp_path / "wheelhouse"
    house.mkdir()
    wheels = [_wheel(house, "gc_alpha", "1.0"), _wheel(house, "pytest", installed.__version__)]
    _manifest(house, wheels)
    site = tmp_path / "site"
    status, detail = gpu_check.install(house, site, limit=120)
    assert status == "ok" and detail.startswith(f"installed gc_alpha into {site}; had pytest"), detail
    assert (site / "gc_alpha" / "__init__.py").read_text() == "VERSION = '1.0'\n"
    assert not (site / "pytest").exists()
    data = wheels[0].read_bytes()
    wheels[0].write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    status, detail = gpu_check.install(house, site, limit=120)
    assert status == "FAILED" and "gc_alpha-1.0-py3-none-any.whl is missing or damaged" in detail


def test_wheelhouse_refuses_requirements_the_image_cannot_meet(wheelhouse_tool, tmp_path):
    good = [
        _wheel(tmp_path, "gc_lib", "2.0", ["torch>=2.4", "gc_dep>=1", "pytest; extra == 'test'"]),
        _wheel(tmp_path, "gc_dep", "1.5", ["typing-extensions>=4.1", "tomli; python_version < '3.11'"]),
    ]
    problems, unverified = wheelhouse_tool.unmet(good)
    assert problems == [] and unverified == ["gc_dep needs typing-extensions>=4.1"]
    bad = [*good, _wheel(tmp_path, "gc_new", "1.0", ["torch>=2.12", "gc_dep>=2", "gc_absent"])]
    problems, _ = wheelhouse_tool.unmet(bad)
    assert problems == [
        "gc_new needs torch>=2.12, the image's is 2.11.0",
        "gc_new needs gc_dep>=2, carried is 1.5",
        "gc_new needs gc_absent, which neither the image nor the wheelhouse has",
    ]


def test_measured_lines_read_the_benchmark_json(gpu_check):
    unet = {
        "precision": "bf16",
        "backends": {
            "torch": {
                "images_per_s": 20.5,
                "achieved_tflops": 395.0,
                "relative_error_vs_torch_fp32": 0.004,
            }
        },
    }
    text = "loading...\n" + json.dumps(unet, indent=2) + "\n"
    line = gpu_check.measured("unet", text, {"bf16_matmul_tflops": 790.0})
    assert line == (
        "torch bf16: 20.5 img/s, 395.0 TFLOP/s, 0.50 of the measured bf16 matmul peak, error vs fp32 0.004"
    )
    pytest_log = (
        "torch fp16 unet: relative error 1.20e-03 vs fp32 on the CPU\n..\n==== 2 passed in 3.1s ====\n"
    )
    assert gpu_check.measured("pytest", pytest_log, {}) == (
        "2 passed in 3.1s; torch fp16 unet: relative error 1.20e-03 vs fp32 on the CPU"
    )

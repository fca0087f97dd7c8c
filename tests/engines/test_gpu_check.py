"""benchmarks/gpu_check.py on a CPU machine: a check that cannot run what it should fails, a damaged or
incomplete wheelhouse is reported piece by piece, and a timed-out section keeps its decoded output."""

import hashlib
import importlib.util
import json
import sys
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


@pytest.fixture(scope="module")
def gpu_check():
    return _load("gpu_check", ROOT / "benchmarks" / "gpu_check.py")


@pytest.fixture(scope="module")
def wheelhouse_tool():
    return _load("gpu_wheelhouse", ROOT / "scripts" / "gpu_wheelhouse.py")


def _run_args(out, **kw):
    return SimpleNamespace(
        out=str(out), require=kw.get("require", []), skip=kw.get("skip", []), with_compile=False
    )


def test_a_gpu_machine_without_the_wheels_fails_naming_them(gpu_check, tmp_path, monkeypatch, capsys):
    """The lent GPU image has torch and onnxruntime but not diffusers: every section is CANNOT RUN, exit 1."""
    env = {
        "python": "3.12",
        "torch": "2.11",
        "cuda": True,
        "diffusers": False,
        "transformers": True,
        "click": True,
        "pytest": True,
        "onnxruntime": True,
        "onnxruntime_providers": ["CPUExecutionProvider"],
        "tensorrt": False,
        "genrobust_fast": False,
    }
    monkeypatch.setattr(gpu_check, "environment", lambda: env)
    assert gpu_check.run(_run_args(tmp_path)) == 1
    summary = json.loads((tmp_path / "summary.json").read_text())
    status = {row["section"]: row for row in summary["sections"]}
    assert status["pytest-gpu"]["status"] == "CANNOT RUN"
    assert "diffusers, genrobust_fast not installed" in status["pytest-gpu"]["detail"]
    assert "scripts/gpu_wheelhouse.py" in status["unet-fp16"]["detail"]
    assert status["tensorrt-engines"]["status"] == "not run (optional)"
    assert not summary["passed"] and "GPU check FAILED" in capsys.readouterr().out
    # With the wheels but a CPU-only onnxruntime, the ORT section alone cannot run, and still fails the check.
    env.update(diffusers=True, genrobust_fast=True)
    monkeypatch.setattr(gpu_check, "run_section", lambda section, log: ("ok 1s", "measured"))
    assert gpu_check.run(_run_args(tmp_path)) == 1
    rows = {r["section"]: r for r in json.loads((tmp_path / "summary.json").read_text())["sections"]}
    assert (
        rows["onnxruntime-cuda-provider"]["status"] == "CANNOT RUN"
        and rows["pytest-gpu"]["status"] == "ok 1s"
    )
    assert gpu_check.run(_run_args(tmp_path, skip=["onnxruntime-cuda-provider"])) == 0  # said explicitly
    assert gpu_check.run(_run_args(tmp_path, require=["tensorrt"], skip=["onnxruntime-cuda-provider"])) == 1
    assert gpu_check.run(_run_args(tmp_path, skip=["no-such-section"])) == 2


def test_timed_out_sections_keep_their_decoded_output(gpu_check, tmp_path):
    code = (
        "import sys, time; sys.stdout.buffer.write(b'started \\xff\\n'); sys.stdout.flush(); time.sleep(30)"
    )
    section = {"name": "slow", "argv": [sys.executable, "-c", code], "limit": 2, "report": "tail"}
    status, detail = gpu_check.run_section(section, tmp_path / "01-slow.log")
    assert status.startswith("FAILED (timeout after 2 s)") and detail == "started \ufffd"


def _wheel(folder: Path, name: str, version: str) -> Path:
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{name}/__init__.py", "")
        z.writestr(
            f"{name}-{version}.dist-info/METADATA",
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        )
    return path


def test_wheelhouse_pieces_are_checked_before_anything_is_installed(gpu_check, wheelhouse_tool, tmp_path):
    house = tmp_path / "wheelhouse"
    house.mkdir()
    wheels = [_wheel(tmp_path, "alpha", "1.0"), _wheel(tmp_path, "beta", "2.0")]
    entry = wheelhouse_tool.pack("core", wheels, house, piece_bytes=700)
    assert len(entry["pieces"]) >= 3 and all(p["bytes"] <= 700 for p in entry["pieces"])
    manifest = {
        "sets": {"core": entry},
        "requirements": [],
        "project_wheel": "x.whl",
        "project_source_sha256": wheelhouse_tool.source_hash(ROOT),
    }
    (house / "MANIFEST.json").write_text(json.dumps(manifest))
    joined = tmp_path / "joined"
    joined.mkdir()
    assert gpu_check._join(house, "core", entry, joined) == []
    assert sorted(p.name for p in (joined / "core").iterdir()) == sorted(w.name for w in wheels)
    second = house / entry["pieces"][1]["file"]
    data = second.read_bytes()
    second.write_bytes(bytes([data[0] ^ 1]) + data[1:])
    (house / entry["pieces"][2]["file"]).unlink()
    out = tmp_path / "check"
    assert gpu_check.install(house, tmp_path / "site", out) == 1
    problems = json.loads((out / "install.json").read_text())["problems"]
    assert len(problems) == 1 and problems[0].startswith(
        f"core: {len(entry['pieces']) - 2} of {len(entry['pieces'])}"
    )
    assert "core.tar.001 is damaged" in problems[0] and "core.tar.002 is missing" in problems[0]
    manifest["project_source_sha256"] = hashlib.sha256(b"other sources").hexdigest()
    (house / "MANIFEST.json").write_text(json.dumps(manifest))
    assert gpu_check.install(house, tmp_path / "site", out) == 1
    assert "built from other sources" in json.loads((out / "install.json").read_text())["problems"][0]

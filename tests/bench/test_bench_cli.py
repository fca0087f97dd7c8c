"""`genrobust bench <area>`: the commands pass their options straight to the library functions that
`bench all` calls, stdout carries the JSON alone, and the scripts in benchmarks/ are the same commands."""

import importlib
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from genrobust_fast.bench.all import BENCHMARKS
from genrobust_fast.cli.bench import bench, run_benchmark
from genrobust_fast.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]


def _function(area):
    module, name = BENCHMARKS[area].split(":")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("area", sorted(BENCHMARKS))
def test_each_option_is_a_keyword_of_the_function_with_its_default(area):
    # `bench all` calls the function with its defaults: they must be what the command runs by default.
    # Contexts as the real command line makes them (click caches each command's help option on first use).
    root = click.Context(cli, info_name="genrobust", **cli.context_settings)
    command = bench.get_command(root, area)
    parent = click.Context(bench, info_name="bench", parent=root)
    passed = command.make_context(area, [], parent=parent).params  # what the function gets by default
    defaults = {name: p.default for name, p in inspect.signature(_function(area)).parameters.items()}
    passed.pop("out_path")
    assert set(passed) <= set(defaults), f"not keywords of {BENCHMARKS[area]}: {set(passed) - set(defaults)}"
    assert passed == {name: defaults[name] for name in passed}
    assert defaults["quick"] is False  # `bench all` passes quick to every function


def test_stdout_is_the_json_alone_whatever_the_benchmark_prints(capfd):
    def noisy(width):
        print("[deepspeed] a banner")  # Python-level, as DeepSpeed prints
        os.write(1, b"native code writing to fd 1\n")
        return {"width": width}

    run_benchmark(noisy, None, width=3)
    out, err = capfd.readouterr()
    doc = json.loads(out)
    assert doc["width"] == 3 and doc["machine"]["kernels_implementation"] in ("native", "reference")
    assert "a banner" in err and "native code writing" in err
    print("after")  # stdout is back once the benchmark is done
    assert capfd.readouterr().out == "after\n"


@pytest.mark.parametrize("area", sorted(BENCHMARKS))
def test_each_script_is_the_command(area):
    script = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / f"bench_{area}.py"), "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    command = CliRunner().invoke(cli, ["bench", area, "--help"], prog_name="genrobust")
    assert script.stdout.split() == command.output.split()  # the same words; wrapped to another width


def test_precision_is_parsed_once_at_the_command_line(monkeypatch):
    from genrobust_fast.bench import unet
    from genrobust_fast.engines.specs import Precision

    seen = []
    monkeypatch.setattr(unet, "run_unet_benchmark", lambda **kwargs: seen.append(kwargs["precision"]) or {})
    for args in (["--precision", "bf16"], []):
        result = CliRunner().invoke(cli, ["bench", "unet", *args])
        assert result.exit_code == 0, result.output
    assert seen == [Precision.BF16, None] and type(seen[0]) is Precision  # the enum, not its text
    refused = CliRunner().invoke(cli, ["bench", "unet", "--precision", "fp64"])
    assert refused.exit_code == 2 and "'fp32', 'fp16', 'bf16', 'fp8'" in refused.output
    assert "[default: fp16]" in CliRunner().invoke(cli, ["engine", "refit", "--help"]).output

"""Run-time instruction-set dispatch: which paths exist, how GENROBUST_ISA forces one, what a bad value says.

The paths' results are checked against the NumPy reference in the crop, to_uint8 and hash tests (the
`isa` fixture); here: the choice itself, its errors, and where it is reported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from genrobust_fast import kernels
from genrobust_fast.bench.kernels import run_kernel_benchmarks
from genrobust_fast.cli.main import cli
from genrobust_fast.environment import cpu_model, isa_flags, machine_info, read_cpuinfo
from genrobust_fast.errors import ConfigError
from genrobust_fast.kernels import _native, _reference

ALL_ISAS = ("baseline", "avx2", "avx512")


@pytest.fixture
def core():
    module = _native.core()
    yield module
    module.reset_isa()


def test_supported_paths_follow_the_cpu_flags(core):
    supported = core.supported_isas()
    assert supported[0] == "baseline" and list(supported) == [i for i in ALL_ISAS if i in supported]
    flags = set(isa_flags(read_cpuinfo()))
    if flags:  # Linux: the CPUID view and /proc/cpuinfo agree on what the paths need
        assert ("avx2" in supported) == ({"avx2", "fma", "f16c"} <= flags)
        assert ("avx512" in supported) == ({"avx2", "avx512f", "avx512bw", "avx512dq", "avx512vl"} <= flags)


def test_forcing_each_supported_path_is_what_gets_reported(core):
    for name in core.supported_isas():
        core.set_isa(name)
        assert core.isa() == name and kernels.implementation_report()["isa"] == name


def test_unknown_names_list_the_valid_ones(core):
    with pytest.raises(
        ValueError,
        match=r"isa=sse9 is not an instruction set; expected one of baseline, avx2, "
        r"avx512 or auto; this CPU supports baseline",
    ):
        core.set_isa("sse9")


def test_unsupported_paths_are_refused_naming_the_supported_ones(core):
    # The rule isa() applies to GENROBUST_ISA, for a CPU without AVX-512 ...
    with pytest.raises(
        ValueError,
        match=r"GENROBUST_ISA=avx512: this CPU does not support avx512; expected one "
        r"of baseline, avx2 or auto",
    ):
        core.resolve_isa("avx512", ["baseline", "avx2"])
    with pytest.raises(ValueError, match="does not support avx2; expected one of baseline or auto"):
        core.resolve_isa("avx2", ["baseline"])
    # ... and on this one, for whatever it lacks.
    for name in set(ALL_ISAS) - set(core.supported_isas()):
        with pytest.raises(ValueError, match=f"does not support {name}"):
            core.set_isa(name)


def test_names_are_read_like_an_environment_variable(core):
    assert core.resolve_isa(" AVX2\n", ["baseline", "avx2", "avx512"]) == "avx2"
    assert core.resolve_isa("", ["baseline", "avx2"]) == "avx2"
    assert core.resolve_isa("auto", ["baseline"]) == "baseline"


def test_environment_variable_chooses_and_a_bad_one_is_a_config_error(core, monkeypatch):
    x = np.zeros((1, 3, 2, 2), np.float32)
    monkeypatch.setenv("GENROBUST_ISA", "baseline")
    core.reset_isa()
    assert kernels.implementation_report()["isa"] == "baseline"
    np.testing.assert_array_equal(kernels.to_uint8(x), _reference.to_uint8(x))
    monkeypatch.setenv("GENROBUST_ISA", "fastest")
    core.reset_isa()
    for call in (lambda: kernels.to_uint8(x), kernels.implementation_report):
        with pytest.raises(
            ConfigError, match=r"GENROBUST_ISA=fastest is not an instruction set.*unset GENROBUST_ISA"
        ):
            call()


def test_info_reports_a_bad_isa_and_everything_else(core, monkeypatch):
    monkeypatch.setenv("GENROBUST_ISA", "fastest")
    core.reset_isa()
    result = CliRunner().invoke(cli, ["info"])
    assert result.exit_code == 0, result.output
    assert "kernels:        unusable (GENROBUST_ISA=fastest is not an instruction set" in result.output
    assert "torch cpu:" in result.output and "cpu model:" in result.output
    report = json.loads(CliRunner().invoke(cli, ["info", "--json"]).output)
    assert report["kernels"]["implementation"] == "unusable" and report["machine"]["kernels_isa"] is None


def test_a_new_process_reads_the_variable_once():
    code = "from genrobust_fast import kernels; print(kernels.implementation_report()['isa'])"
    env = dict(os.environ, GENROBUST_ISA="baseline")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "baseline"


def test_hamming_automatic_variant_matches_the_reference_on_each_path(isa):
    rng = np.random.default_rng(3)
    refs = rng.integers(0, 2**64, 3000, dtype=np.uint64)
    queries = np.concatenate([refs[:5] ^ np.uint64(1), rng.integers(0, 2**64, 20, dtype=np.uint64)])
    for k in (1, 5, 40):  # 40 > 32: the counting-sort path
        got, want = _native.hamming_topk(queries, refs, k), _reference.hamming_topk(queries, refs, k)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_machine_info_names_cpu_isa_and_libraries(core):
    core.set_isa("baseline")
    info = machine_info()
    assert info["kernels_isa"] == "baseline" and info["kernels_supported_isas"] == core.supported_isas()
    assert info["torch_cpu_capability"] and info["torch_threads"] >= 1
    assert info["cores"] >= info["usable_cores"] >= 1
    assert info["cpu_model"] == cpu_model(read_cpuinfo())
    assert info["libraries"]["torch"] == torch.__version__.split("+")[0]  # "+cu130" is not in the metadata
    assert info["libraries"]["numpy"] == np.__version__


def test_cpuinfo_parsing():
    text = (
        "processor\t: 0\nmodel name\t: Example CPU 9000\nflags\t\t: fpu sse2 avx2 fma avx512f\n\n"
        "processor\t: 1\n"
    )
    assert cpu_model(text) == "Example CPU 9000"
    assert isa_flags(text) == ["sse2", "avx2", "fma", "avx512f"]
    assert isa_flags("Features\t: fp asimd sve\n") == ["asimd", "sve"]


def test_info_prints_torch_capability_threads_and_kernel_path(core):
    core.set_isa("baseline")
    result = CliRunner().invoke(cli, ["info"])
    assert result.exit_code == 0, result.output
    lines = {line.split(":")[0].strip(): line for line in result.output.splitlines() if ":" in line}
    assert (
        f"capability {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads"
        in lines["torch cpu"]
    )
    assert lines["kernels isa"].split(":", 1)[1].strip().startswith("baseline (this CPU supports baseline")


def test_kernel_benchmark_records_the_path_it_ran_on(core):
    core.set_isa("baseline")  # not the best path here: the record must say what ran, not what could
    threads = torch.get_num_threads()
    try:
        result = run_kernel_benchmarks(threads=1, quick=True, repeats=1)
    finally:
        torch.set_num_threads(threads)  # the benchmark sets torch's threads for its contenders
    machine = result["machine"]
    assert machine["kernels_isa"] == "baseline" and machine["torch_threads"] == 1
    assert machine["cpu_model"] and machine["libraries"]["onnxruntime"]
    assert result["crop_resize_normalize"]["parity"]["max_abs_vs_reference"] <= 1e-4

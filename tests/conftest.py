"""Shared test set-up: offline, few threads, tiny models built in code."""

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# Scan caches go to a temporary folder, never to the user's cache. Session scope: module-scoped tree
# fixtures (and the ranks they start) must see the same cache.
@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENROBUST_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "genrobust-cache"))
        yield


# Runs `python -c KILLER <args>`: the real CLI in a real process that SIGKILLs itself at an exact point --
# around the N-th call of module.attr -- so a resume test kills where it says, not where a race lands.
_KILLER = r"""
import importlib, os, signal, sys
parts = os.environ["GR_KILL_TARGET"].split(".")
at, when = int(os.environ["GR_KILL_AT"]), os.environ["GR_KILL_WHEN"]
owner, split = importlib.import_module(parts[0]), 1
while split < len(parts) - 1 and not isinstance(getattr(owner, parts[split], None), type):
    owner, split = importlib.import_module(".".join(parts[:split + 1])), split + 1  # deeper module
for name in parts[split:-1]:  # a class inside the module
    owner = getattr(owner, name)
attr = parts[-1]
original, calls = getattr(owner, attr), [0]
prelude = os.environ.get("GR_KILL_PRELUDE")
def patched(*args, **kwargs):
    calls[0] += 1
    if calls[0] == at and when == "before":
        if prelude:
            exec(prelude, {"args": args})
        os.kill(os.getpid(), signal.SIGKILL)
    result = original(*args, **kwargs)
    if calls[0] == at and when == "after":
        os.kill(os.getpid(), signal.SIGKILL)
    return result
setattr(owner, attr, patched)
from genrobust_fast.cli.main import cli
cli(sys.argv[1:])
"""


@pytest.fixture
def run_killed():
    """run_killed(cli_args, "pkg.module.Class.method", at=3, when="after"|"before", prelude=None, env=None)
    -> CompletedProcess of a `genrobust` process that killed itself at that call (returncode -9)."""
    import subprocess
    import sys

    def run(args, target, at, when="before", prelude=None, env=None):
        full_env = {
            **os.environ,
            **(env or {}),
            "GR_KILL_TARGET": target,
            "GR_KILL_AT": str(at),
            "GR_KILL_WHEN": when,
        }
        if prelude:
            full_env["GR_KILL_PRELUDE"] = prelude
        proc = subprocess.run(
            [sys.executable, "-c", _KILLER, *map(str, args)],
            env=full_env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert proc.returncode == -9, f"it did not die at call {at} of {target}: {proc.stderr[-2000:]}"
        return proc

    return run

"""`genrobust info`: versions, devices and kernel implementation in use."""

from __future__ import annotations

import json

import click

from .options import json_option


@click.command()
@json_option
def info(as_json: bool) -> None:
    """Show library versions (or why each is missing), whether they match the lock, CPU/GPU, and which
    kernels are in use. Paste its output into a bug report.

    \b
    Example:
      genrobust info --json
    """
    from ..environment import environment_report
    from ..lockfile import compare_with_lock

    report = environment_report()
    lock = compare_with_lock()
    report["lock"] = {
        "files": lock.lock_files,
        "matches": lock.matches,
        "summary": lock.summary(),
        "different": [{"name": n, "installed": have, "locked": want} for n, have, want in lock.different],
        "missing": lock.missing,
    }
    machine = report["machine"]
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"genrobust-fast {report['genrobust_fast']} (Python {report['python']})")
    click.echo("libraries:")
    for name, status in report["libraries"].items():
        if status["available"]:
            click.echo(f"  {name:<13} {status['version']}")
        else:
            click.echo(f"  {name:<13} missing: {status['reason']}  (fix: {status['fix']})")
    click.echo(f"lock:           {lock.summary()}")
    devices = report["devices"]
    click.echo(f"device:         cpu {devices['cpu']}; cuda {'yes' if devices['cuda'] else 'no'}")
    for gpu in devices.get("gpus", []):
        click.echo(f"  gpu          {gpu['name']} (sm {gpu['compute_capability']})")
    click.echo(
        f"cpu model:      {machine['cpu_model']} ({machine['arch']}), {machine['usable_cores']} of "
        f"{machine['cores']} cores usable"
    )
    click.echo(f"cpu isa flags:  {' '.join(machine['isa_flags']) or 'none recognised'}")
    click.echo(
        f"torch cpu:      capability {machine['torch_cpu_capability']}, {machine['torch_threads']} threads"
    )
    kern = report["kernels"]
    click.echo(f"kernels:        {kern['implementation']} ({kern['reason']})")
    if kern["isa"]:
        click.echo(
            f"kernels isa:    {kern['isa']} (this CPU supports {', '.join(kern['supported_isas'])}; "
            f"GENROBUST_ISA chooses), {kern['threads']} threads"
        )

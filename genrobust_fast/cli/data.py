"""`genrobust data`: dataset checks, one small subcommand each.

Other areas add theirs as their own modules, listed in DATA_COMMANDS (shown only once the module exists):
`verify` (evaluation: a benchmark tree against its expected layout) and `audit` (generation: a generated
set's provenance).
"""

from __future__ import annotations

import click

from .lazy import LazyGroup
from .options import emit_report, json_option

DATA_COMMANDS = {
    "verify": "genrobust_fast.cli.data_verify:verify",
    "audit": "genrobust_fast.cli.data_audit:audit",
}


@click.group(cls=LazyGroup, lazy_commands=DATA_COMMANDS)
def data() -> None:
    """Inspect datasets: scan, check and verify trees before training or evaluation.

    \b
    Example:
      genrobust data check /data/imagenet/train
    """


@data.command("check")
@click.argument("root", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--workers", type=click.IntRange(min=1), default=None, help="Decode threads (default: all CPUs)."
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the full JSON report here.",
)
@click.option("--strict", is_flag=True, help="Exit non-zero when any image is unreadable.")
@json_option
def check(root: str, workers: int | None, report_path: str | None, strict: bool, as_json: bool) -> None:
    """Count images per class, find unreadable/truncated files and exact duplicates.

    Training skips the files marked bad here. The scan cache of ROOT is refreshed.

    \b
    Example:
      genrobust data check real/ --report real-check.json
    """
    from ..data.check import check_image_folder
    from ..paths import refuse_report_among_inputs

    refuse_report_among_inputs(report_path, "--report", {"ROOT": root})
    report = check_image_folder(root, workers=workers)
    emit_report(report, as_json, _check_lines, report_path)
    if strict and report["bad"]:
        raise click.ClickException(
            f"{len(report['bad'])} unreadable image(s) in {root}; training will skip them"
        )


def _check_lines(report: dict) -> list[str]:
    lines = [
        (
            f"{report['images']} images in {report['classes']} classes; {len(report['bad'])} unreadable; "
            f"{report['duplicate_files']} duplicate file(s) in {len(report['duplicate_groups'])} group(s)"
        )
    ]
    lines += [f"  bad: {item['file']}: {item['error']}" for item in report["bad_details"][:20]]
    if report["empty_classes"]:
        lines.append(f"  classes without readable images: {', '.join(report['empty_classes'][:20])}")
    return lines

"""`genrobust data audit`: generated images that are near-copies of a benchmark's images."""

from __future__ import annotations

import click

from .options import emit_report, json_option


@click.command("audit")
@click.option(
    "--generated",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="A `genrobust generate` output (imagefolder or webdataset) or any image tree.",
)
@click.option(
    "--against",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="The benchmark's image tree, e.g. /data/imagenet-r.",
)
@click.option(
    "--max-distance",
    type=click.IntRange(0, 64),
    default=8,
    show_default=True,
    help="Largest phash Hamming distance (bits of 64) counted as a near-copy.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the JSON report (every match) here.",
)
@click.option("--strict", is_flag=True, help="Exit non-zero when any near-copy is found.")
@json_option
def audit(
    generated: str, against: str, max_distance: int, report_path: str | None, strict: bool, as_json: bool
) -> None:
    """Find generated images within --max-distance of a benchmark image (test-set leakage check).

    \b
    Example:
      genrobust data audit --generated gen/ --against /data/imagenet-r --report leak.json
    """
    from ..generation.dedup import audit_generated
    from ..paths import refuse_report_among_inputs

    refuse_report_among_inputs(report_path, "--report", {"--generated": generated, "--against": against})
    report = audit_generated(generated, against, max_distance=max_distance)
    emit_report(report, as_json, _audit_lines, report_path)
    if strict and report["near_copies"]:
        raise click.ClickException(f"{report['near_copies']} near-copies of {against} in {generated}")


def _audit_lines(report: dict) -> list[str]:
    lines = [
        (
            f"{report['near_copies']} of {report['generated']} generated image(s) are within "
            f"{report['max_distance']} bits of one of {report['benchmark']} benchmark image(s)"
        )
    ]
    return lines + [
        f"  {m['generated']} ~ {m['benchmark']} (distance {m['distance']})" for m in report["matches"][:20]
    ]

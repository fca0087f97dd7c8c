"""`genrobust data verify`: is a benchmark folder complete before a run is spent on it?"""

from __future__ import annotations

import click

from ..labels import read_class_map
from .options import emit_report, json_option


@click.command("verify")
@click.option(
    "--benchmark",
    "name",
    required=True,
    help="Registry name: imagenet-val, imagenet-v2, imagenet-sketch, imagenet-r, imagenet-a, objectnet, "
    "imagenet-c, generated, folder.",
)
@click.argument("root", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--class-map",
    "class_map_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Folder -> class id map (JSON object or TSV) for a `folder` benchmark.",
)
@click.option("--force", is_flag=True, help="Report a partial folder instead of failing.")
@json_option
def verify(name: str, root: str, class_map_path: str | None, force: bool, as_json: bool) -> None:
    """Check image counts and class folders of a benchmark and print its file-list hash.

    A partial download is an error (exit 1) unless --force. The hash is recorded with every result
    computed from the folder, so two results on the same hash saw the same files.

    \b
    Example:
      genrobust data verify --benchmark imagenet-r /data/imagenet-r
    """
    from ..evaluation.completeness import verify_benchmark

    class_map = read_class_map(class_map_path) if class_map_path else None
    report = verify_benchmark(name, root, force=force, class_map=class_map)
    emit_report(report, as_json, _verify_lines)


def _verify_lines(report: dict) -> list[str]:
    expected = report["expected_images"]
    return [
        f"{report['benchmark']}: {report['images']} images"
        + (f" of {expected} expected" if expected else "")
        + f", {report['classes_present']}/{report['classes']} classes present, "
        + ("complete" if report["complete"] else "INCOMPLETE"),
        f"file list sha256: {report['file_list_sha256']}",
        *(f"  problem: {problem}" for problem in report["problems"]),
    ]

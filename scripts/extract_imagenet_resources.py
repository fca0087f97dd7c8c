"""Regenerate genrobust_fast/resources/ from the timm and open_clip_torch wheels.

    pip download --no-deps -d /tmp/wheels timm open_clip_torch
    python scripts/extract_imagenet_resources.py /tmp/wheels

The files are shipped so that the toolkit depends on neither package at run time:
- imagenet_classes.tsv: index, WordNet id (timm imagenet_synsets.txt, class-index order) and the clean
  class name the paper's prompts use (open_clip IMAGENET_CLASSNAMES, same order);
- imagenet_templates.txt: the 80 OpenAI CLIP ImageNet prompt templates with `{}` for the class name;
- imagenet_r_wnids.txt / imagenet_a_wnids.txt: the 200 WordNet ids of ImageNet-R / ImageNet-A (timm).
imagenet100_wnids.txt is the 100-class subset of Tian et al., "Contrastive Multiview Coding" (2020),
as published with that paper's code; it is not in either wheel and is kept as is.
"""

from __future__ import annotations

import ast
import sys
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "genrobust_fast" / "resources"


def _read(wheel_dir: Path, pattern: str, member: str) -> str:
    wheel = next(wheel_dir.glob(pattern), None)
    if wheel is None:
        sys.exit(
            f"no wheel matching {pattern} in {wheel_dir}; run the pip download line in this script's "
            "docstring"
        )
    with zipfile.ZipFile(wheel) as zf:
        return zf.read(member).decode("utf-8")


def _tuple_literal(source: str, name: str) -> ast.AST:
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return node.value
    sys.exit(f"{name} not found in open_clip's zero_shot_metadata.py")


def main(wheel_dir: Path) -> None:
    synsets = _read(wheel_dir, "timm-*.whl", "timm/data/_info/imagenet_synsets.txt").split()
    meta = _read(wheel_dir, "open_clip_torch-*.whl", "open_clip/zero_shot_metadata.py")
    names = ast.literal_eval(_tuple_literal(meta, "IMAGENET_CLASSNAMES"))
    if len(synsets) != 1000 or len(names) != 1000:
        sys.exit(f"expected 1000 synsets and names, got {len(synsets)} and {len(names)}")
    rows = [f"{i}\t{wnid}\t{name}" for i, (wnid, name) in enumerate(zip(synsets, names))]
    (OUT / "imagenet_classes.tsv").write_text("index\twnid\tname\n" + "\n".join(rows) + "\n")

    # Templates are lambdas `lambda c: f'...{c}...'`: keep the f-string text with {c} -> {}.
    templates = []
    for lam in _tuple_literal(meta, "OPENAI_IMAGENET_TEMPLATES").elts:
        parts = []
        for piece in lam.body.values:
            parts.append(piece.value if isinstance(piece, ast.Constant) else "{}")
        templates.append("".join(parts))
    (OUT / "imagenet_templates.txt").write_text("\n".join(templates) + "\n")

    for subset in ("r", "a"):
        wnids = _read(wheel_dir, "timm-*.whl", f"timm/data/_info/imagenet_{subset}_synsets.txt").split()
        (OUT / f"imagenet_{subset}_wnids.txt").write_text("\n".join(wnids) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/wheels"))

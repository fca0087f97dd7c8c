"""No module outside genrobust_fast/genset/ spells a generated set's file names: the manifest, the `_meta`
and `shards` folders, the dedup and bad lists, shard metadata, done markers and tars are reached through
genset's constants and Layout only, so the format has one owner (issue 26)."""

import ast
import re
from pathlib import Path

import genrobust_fast
from genrobust_fast.genset import lists, names

PACKAGE = Path(genrobust_fast.__file__).parent
# A whole string that names one of the set's files or folders (a message that mentions one is fine).
NAMES = {
    names.MANIFEST_NAME,
    names.META_DIR,
    names.DEDUP_LIST_NAME,
    names.DONE_SUFFIX,
    f"*{names.DONE_SUFFIX}",
    lists.BAD_LIST_NAME,
}
# "shards" is also a config key and an option, so only a path built from it counts: `root / "shards"`, or a
# string starting "shards/" or "_meta/".
FOLDERS = (names.SHARDS_DIR, names.META_DIR)
# A shard file built or matched by its pattern: f"shard-{k:05d}...", "shard-*.tar", r"^shard-(\d{5})...".
SHARD_PATTERN = re.compile(r"shard-(\{|\*|\(|\d)")


def _strings(tree: ast.AST):
    """(line, text) of every string constant; an f-string is one text with {} for each value."""
    inside_fstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            inside_fstrings.update(id(v) for v in node.values)
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            yield node.lineno, text
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in inside_fstrings:
            yield node.lineno, node.value


def _joined_folders(tree: ast.AST):
    """(line, name) of each `path / "shards"`-style join with one of the set's folder names."""
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            right = node.right
            if isinstance(right, ast.Constant) and right.value in FOLDERS:
                yield node.lineno, right.value


def _spells_a_file(text: str) -> bool:
    text = text.strip()
    if " " in text:
        return False  # a sentence: a message or docstring naming the file, not a path
    return (
        text in NAMES or bool(SHARD_PATTERN.search(text)) or text.startswith(tuple(f + "/" for f in FOLDERS))
    )


def file_name_spellings(source: str) -> list[tuple[int, str]]:
    """(line, text) of each place in `source` that spells a generated set's file name, by line."""
    tree = ast.parse(source)
    found = [(line, text) for line, text in _strings(tree) if _spells_a_file(text)]
    found += [(line, f"/ {name!r}") for line, name in _joined_folders(tree)]
    return sorted(set(found))


def test_the_check_finds_names_built_by_hand():
    source = (
        "import json\n"
        "def read(root, k, n):\n"
        '    json.loads((root / "manifest.json").read_text())\n'
        '    done = root / "_meta" / f"shard-{k:05d}-of-{n:05d}.done.json"\n'
        '    return sorted((root / "shards").glob("shard-*.tar"))\n'
    )
    assert file_name_spellings(source) == [
        (3, "manifest.json"),
        (4, "/ '_meta'"),
        (4, "_meta"),
        (4, "shard-{}-of-{}.done.json"),
        (5, "/ 'shards'"),
        (5, "shard-*.tar"),
    ]
    # Messages may mention the files; they open nothing.
    assert file_name_spellings('raise ValueError("gen/ has no manifest.json; pass --out")') == []


def test_no_module_outside_genset_spells_a_generated_set_file_name():
    owner = PACKAGE / "genset"
    found = {
        f"{path.relative_to(PACKAGE)}:{line}": text
        for path in sorted(PACKAGE.rglob("*.py"))
        if owner not in path.parents
        for line, text in file_name_spellings(path.read_text(encoding="utf-8"))
    }
    assert found == {}

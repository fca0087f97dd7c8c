"""Text files users give us (classes, prompts, templates, class maps): read, and checked, in one place.

    lines = read_lines(path, "template file")   # UTF-8 (a BOM dropped), else InputError at line:column
    check_template("a sketch of a {}", where="templates.txt:3")

Templates are Python format strings filled with one positional argument, the class name. `{x}`, `{0} {}`
or `{:>5}` would raise KeyError, ValueError or IndexError deep in the job (or pad every name); they are
refused when the file is read, naming the file and line.
"""

from __future__ import annotations

import codecs
import os
import string
from pathlib import Path

from .errors import InputError

TEMPLATE_RULE = (
    "a template needs exactly one '{}' where the class name goes, with no name, index or format spec in it "
    "('{{' and '}}' for literal braces)"
)


def read_lines(path: str | os.PathLike, what: str) -> list[str]:
    """The lines of a UTF-8 text file; a byte that is not UTF-8 is an InputError naming file, line and
    column (a Latin-1 class file would otherwise become wrong class names or a traceback)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{what} {str(path)!r} cannot be read ({exc.strerror})") from None
    if data.startswith(codecs.BOM_UTF8):  # Windows editors add one; it would stick to the first class id
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"{path}:{line}: the {what} is not UTF-8 text (byte 0x{data[exc.start]:02x} at column "
            f"{exc.start - line_start + 1}); save it as UTF-8"
        ) from None


def check_template(template: str, where: str) -> str:
    """`template` when it formats with the class name alone, else an InputError naming `where`."""
    try:
        fields = [
            (name, spec, conv)
            for _, name, spec, conv in string.Formatter().parse(template)
            if name is not None
        ]
    except ValueError as exc:  # "Single '}' encountered", "unmatched '{'"
        raise InputError(f"{where}: {template!r} is not a template ({exc}); {TEMPLATE_RULE}") from None
    if fields != [("", "", None)]:
        found = ", ".join(
            "{" + name + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "") + "}"
            for name, spec, conv in fields
        )
        raise InputError(f"{where}: {template!r} has {found or 'no field'}; {TEMPLATE_RULE}")
    return template

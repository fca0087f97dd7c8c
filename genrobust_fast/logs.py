"""Logging set-up used by the CLI; library modules only call logging.getLogger(__name__)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


def configure_logging(verbose: int = 0) -> None:
    level = logging.WARNING - 10 * max(0, min(verbose, 2))
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("genrobust_fast").setLevel(min(level, logging.INFO))


class _Hold(logging.Filter):
    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix
        self.held: dict[int, logging.LogRecord] = {}  # by id: every handler sees the same record

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING and record.name.startswith(self.prefix):
            self.held.setdefault(id(record), record)
            return False
        return True


@contextlib.contextmanager
def info_until_accepted(prefix: str = "genrobust_fast") -> Iterator[None]:
    """Hold back the info lines `prefix`'s loggers write inside the block (e.g. while inputs are checked)
    and let them out, in order, when the block ends without an error: a refused command then shows only
    its error; an accepted one shows the same lines as before. Warnings pass at once."""
    handlers = list(logging.getLogger().handlers)
    hold = _Hold(prefix)
    for handler in handlers:
        handler.addFilter(hold)
    accepted = False
    try:
        yield
        accepted = True
    finally:
        for handler in handlers:
            handler.removeFilter(hold)
        for record in hold.held.values() if accepted else ():
            for handler in handlers:
                if record.levelno >= handler.level:
                    handler.handle(record)

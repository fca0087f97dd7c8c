"""Logging set-up used by the CLI; library modules only call logging.getLogger(__name__)."""

from __future__ import annotations

import logging


def configure_logging(verbose: int = 0) -> None:
    level = logging.WARNING - 10 * max(0, min(verbose, 2))
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("genrobust_fast").setLevel(min(level, logging.INFO))

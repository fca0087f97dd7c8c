import io
import logging

import pytest

from genrobust_fast.logs import info_until_accepted


@pytest.fixture
def stream():
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root, log = logging.getLogger(), logging.getLogger("genrobust_fast.test")
    root.addHandler(handler)
    log.setLevel(logging.INFO)
    yield out
    root.removeHandler(handler)
    log.setLevel(logging.NOTSET)


def test_info_lines_wait_for_acceptance_and_vanish_on_refusal(stream):
    log = logging.getLogger("genrobust_fast.test")
    with info_until_accepted():
        log.info("listed 6 images")
        log.warning("a warning passes at once")
        assert stream.getvalue() == "WARNING a warning passes at once\n"
        log.info("checked")
    assert stream.getvalue().splitlines() == [
        "WARNING a warning passes at once",
        "INFO listed 6 images",
        "INFO checked",
    ]

    with pytest.raises(ValueError), info_until_accepted():
        log.info("listed 0 images")
        raise ValueError("refused")
    assert "listed 0 images" not in stream.getvalue()
    log.info("after the block")
    assert stream.getvalue().endswith("INFO after the block\n")

"""One table of libraries feeds `info` (imports them) and every benchmark's machine record (metadata)."""

from __future__ import annotations

import torch

from genrobust_fast.environment import (
    LIBRARIES,
    environment_report,
    imported_version,
    library_versions,
)


def test_info_and_the_machine_record_name_the_same_libraries():
    report = environment_report()
    reported, recorded = report["libraries"], report["machine"]["libraries"]
    assert list(reported) == list(recorded) == [library.label for library in LIBRARIES]
    missing = [label for label in reported if recorded[label] is None]
    assert missing, "no library reads as missing here (tensorrt cannot be installed on these machines)"
    for label in missing:  # not installed per the metadata: missing, with the fix
        assert not reported[label]["available"] and reported[label]["fix"].startswith("pip install")


def test_imported_version_keeps_the_build_tag_the_metadata_lacks():
    assert imported_version("torch") == torch.__version__
    assert library_versions()["torch"] == torch.__version__.split("+")[0]

"""Claiming an output folder: identities compared as JSON reads them back, each change named."""

from __future__ import annotations

import pytest

from genrobust_fast.claim import changed_fields, describe_changes, read_identity, refuse_changed
from genrobust_fast.errors import JobConflictError


def test_a_tuple_now_equals_the_list_recorded_then():
    theirs = {"size": [64, 64], "lr": 0.1, "old": 1}
    ours = {"size": (64, 64), "lr": 0.01, "new": 2}
    assert changed_fields(theirs, ours) == ["lr", "new", "old"]
    assert changed_fields(theirs, ours, fields=ours) == ["lr", "new"]  # only the fields asked about


def test_the_refusal_names_each_change_there_and_now():
    theirs, ours = {"a": 1, "b": "x", "c": 3}, {"a": 2, "b": "y", "c": 3}
    with pytest.raises(JobConflictError) as info:
        refuse_changed(theirs, ours, held="out holds another job", advice="use another --out")
    assert (
        str(info.value)
        == "out holds another job (a: 1 there vs 2 now, b: 'x' there vs 'y' now); use another --out"
    )
    assert describe_changes(theirs, ours, limit=1) == "a: 1 there vs 2 now"
    refuse_changed(theirs, {**theirs}, held="same", advice="none")  # the same job: no error
    # A caller that decides by other means (generate's job ids) gets the same message, or no error.
    with pytest.raises(JobConflictError, match=r"^out holds another job \(a: 1 there vs 2 now\); x$"):
        refuse_changed(theirs, ours, held="out holds another job", advice="x", limit=1, different=True)
    refuse_changed(theirs, ours, held="same id", advice="none", different=False)


def test_identity_records_missing_unreadable_or_not_an_object(tmp_path):
    assert read_identity(tmp_path / "job.json", "advice") is None
    (tmp_path / "job.json").write_text('{"lr": 0.1')
    with pytest.raises(JobConflictError, match="job.json is unreadable .*; delete it"):
        read_identity(tmp_path / "job.json", "delete it")
    (tmp_path / "job.json").write_text("[1, 2]")
    with pytest.raises(JobConflictError, match="holds list, not a job record"):
        read_identity(tmp_path / "job.json", "delete it")
    (tmp_path / "job.json").write_text('{"lr": 0.1}')
    assert read_identity(tmp_path / "job.json", "delete it") == {"lr": 0.1}

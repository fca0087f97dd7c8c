"""One spelling of an image's place: `<file>` or `<tar>#<member>`, and `<file>@<offset>` for a byte range."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genrobust_fast.errors import DatasetError
from genrobust_fast.genset import (
    Entry,
    byte_range_label,
    class_id_of_name,
    image_stem,
    member_name,
    valid_class_id,
)

SHARD = "shards/shard-00000-of-00004.tar"


def test_a_file_and_a_tar_member_read_back_as_written():
    assert Entry.parse("n01440764/n01440764_0000003.jpg") == Entry("n01440764/n01440764_0000003.jpg")
    member = Entry.parse(f"{SHARD}#n01440764_0000003.jpg")
    assert (member.path, member.member, member.stem, member.class_id) == (
        SHARD,
        "n01440764_0000003.jpg",
        "n01440764_0000003",
        "n01440764",
    )
    assert str(member) == f"{SHARD}#n01440764_0000003.jpg"


def test_a_hash_in_the_folder_above_a_set_is_not_the_separator():
    root = "/data/run#3/gen"
    entry = Entry(SHARD, "cat_0000001.png").under(root)
    assert Entry.parse(str(entry)) == Entry(f"{root}/{SHARD}", "cat_0000001.png")
    assert Entry.parse(f"{root}/cat/cat_0000001.png").member is None


def test_a_byte_offset_is_never_read_as_a_member():
    label = byte_range_label(SHARD, 10240)
    assert label == f"{SHARD}@10240"
    assert Entry.parse(label) == Entry(label)  # a plain file name, not tar + member


@settings(max_examples=50, deadline=None)
@given(
    class_id=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_ -]{0,20}", fullmatch=True),
    index=st.integers(0, 9_999_999),
    ext=st.sampled_from(["jpg", "png", "webp"]),
)
def test_every_valid_class_id_round_trips_through_a_member_name(class_id, index, ext):
    assert valid_class_id(class_id)
    name = member_name(image_stem(class_id, index), ext)
    entry = Entry.parse(str(Entry(SHARD, name)))
    assert (entry.member, entry.class_id) == (name, class_id)
    assert Entry.parse(f"{class_id}/{name}").class_id == class_id


@pytest.mark.parametrize("class_id", ["", "a/b", "a\\b", "a#b", ".hidden", "_meta"])
def test_class_ids_that_cannot_name_a_folder_or_an_entry_are_invalid(class_id):
    assert not valid_class_id(class_id)


def test_a_member_not_named_class_underscore_index_is_refused():
    with pytest.raises(DatasetError, match="is not named <class_id>_<index>.<ext>"):
        class_id_of_name("picture.png")

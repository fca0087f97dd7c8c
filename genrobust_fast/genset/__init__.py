"""The generated-set contract: the one reader and writer of what `genrobust generate` puts on disk.

    gset = GeneratedSet.open("gen/")            # manifest checked (versioned schema), records, entries, bytes
    Layout(root, num_shards).jsonl(k)           # every file name of a set (`names.py`)
    Entry.parse("shards/shard-00000-of-00001.tar#n01440764_0000000.jpg")   # file, or tar + member
    RecordLog(jsonl).append(record); write_done(done, stats)                # a shard's metadata

It sits low in the house (on constants, errors, fileio, paths and labels only): generation writes through
it, and data, evaluation and bench read through it, so none of them needs another's copy of the format.
"""

from .entries import (
    Entry,
    byte_range_label,
    class_id_of_name,
    image_stem,
    member_name,
    valid_class_id,
)
from .generated_set import GeneratedSet
from .lists import read_bad_list, read_dedup_list, write_bad_list, write_dedup_list
from .manifest import Manifest, is_generated_set, parse_manifest, read_manifest, write_manifest
from .names import (
    REGENERATE_HINT,
    SHARD_TAR,
    Layout,
    manifest_path,
    meta_dir,
    partial_of,
    record_files,
    shard_name,
    shard_tar_rel,
    shards_dir,
)
from .records import (
    RecordLog,
    count_records,
    encode_record,
    first_record,
    keep_records,
    read_done,
    read_records,
    recorded_images,
    sort_records,
    write_done,
)
from .tars import END_OF_ARCHIVE, TarReader, header_at, image_members, image_with_sidecar, member_bytes

__all__ = [
    "END_OF_ARCHIVE",
    "REGENERATE_HINT",
    "SHARD_TAR",
    "Entry",
    "GeneratedSet",
    "Layout",
    "Manifest",
    "RecordLog",
    "TarReader",
    "byte_range_label",
    "class_id_of_name",
    "count_records",
    "encode_record",
    "first_record",
    "header_at",
    "image_members",
    "image_stem",
    "image_with_sidecar",
    "is_generated_set",
    "keep_records",
    "manifest_path",
    "member_bytes",
    "member_name",
    "meta_dir",
    "parse_manifest",
    "partial_of",
    "read_bad_list",
    "read_dedup_list",
    "read_done",
    "read_manifest",
    "read_records",
    "record_files",
    "recorded_images",
    "shard_name",
    "shard_tar_rel",
    "shards_dir",
    "sort_records",
    "valid_class_id",
    "write_bad_list",
    "write_dedup_list",
    "write_done",
    "write_manifest",
]

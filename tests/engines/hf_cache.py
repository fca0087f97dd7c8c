"""A Hugging Face hub cache filled from local folders, in the layout huggingface_hub's downloads leave:

    <cache>/models--owner--name/blobs/<etag>                    file contents, one blob per distinct file
    <cache>/models--owner--name/snapshots/<commit>/<path>       relative symlinks to the blobs
    <cache>/models--owner--name/refs/<branch or tag>            the commit it points at

Written with huggingface_hub's own helpers (folder name, symlinks, refs, git blob hash), so the real
`snapshot_download(local_files_only=True)` resolves it, and `scan_cache_dir` reads it back.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def add_snapshot(cache: Path, repo_id: str, folder: Path, commit: str, refs: tuple[str, ...] = ()) -> Path:
    """Put every file under `folder` into `cache` as commit `commit` of `repo_id`; point `refs` at it."""
    from huggingface_hub.file_download import (
        _cache_commit_hash_for_specific_revision,
        _create_symlink,
        repo_folder_name,
    )
    from huggingface_hub.utils.sha import git_hash

    storage = cache / repo_folder_name(repo_id=repo_id, repo_type="model")
    snapshot = storage / "snapshots" / commit
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        # The Hub's etag, which names the blob: an LFS file's sha256, a plain git file's blob sha1.
        lfs = path.suffix in (".safetensors", ".bin")
        etag = hashlib.sha256(data).hexdigest() if lfs else git_hash(data)
        blob = storage / "blobs" / etag
        if not blob.exists():
            blob.parent.mkdir(parents=True, exist_ok=True)
            blob.write_bytes(data)
        target = snapshot / path.relative_to(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        _create_symlink(str(blob), str(target))
    for ref in refs:
        _cache_commit_hash_for_specific_revision(str(storage), ref, commit)
    return snapshot


def fake_commit(label: str) -> str:
    """A 40-hex commit hash (what the Hub's commits are named by)."""
    return hashlib.sha1(label.encode()).hexdigest()


def add_tree_listing(cache: Path, repo_id: str, commit: str, folder: Path) -> None:
    """Record every file under `folder` as the Hub's file listing of `commit` (`trees/<commit>.json`, which
    huggingface_hub >= 2 caches online and checks an offline snapshot against); `folder` may hold more
    files than the snapshot, as a snapshot fetched with fewer allow-patterns does."""
    from huggingface_hub._tree_cache import TreeCacheEntry, write_tree_cache
    from huggingface_hub.file_download import repo_folder_name
    from huggingface_hub.utils.sha import git_hash

    entries = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        lfs = hashlib.sha256(data).hexdigest() if path.suffix in (".safetensors", ".bin") else None
        entries[path.relative_to(folder).as_posix()] = TreeCacheEntry(
            size=len(data), blob_id=git_hash(data), lfs_sha256=lfs, lfs_size=len(data) if lfs else None
        )
    write_tree_cache(str(cache / repo_folder_name(repo_id=repo_id, repo_type="model")), commit, entries)

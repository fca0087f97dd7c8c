"""What a --model argument names: a built-in model, a local diffusers folder, or a Hugging Face Hub id.

    source = resolve_model("stable-diffusion-v1-5/stable-diffusion-v1-5", revision="main")
    source.folder   # the revision's snapshot folder in the HF cache; loaded like any local folder
    source.commit   # the commit the revision resolved to (job provenance, engine keys)

Precedence: a built-in name, then an existing folder, then an `owner/name` Hub id. A Hub id resolves
through huggingface_hub's `snapshot_download` into the user's HF cache (`cache_dir`, else HF_HUB_CACHE
or HF_HOME/hub) with the user's token (HF_TOKEN or `hf auth login`), fetching only the files the
diffusers components need: with a --variant, its weight files, and the plain weights only of the
components that have no variant files (diffusers' per-component fallback, recorded as provenance).
Offline (HF_HUB_OFFLINE=1) it resolves from the cache alone (a unique prefix of a cached commit is
accepted as the revision), and a model or revision that is not there is one InputError naming the id,
the revision, the cache and the fix; so are network failures and snapshots cached for another variant.
"""

from __future__ import annotations

import fnmatch
import logging
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError

log = logging.getLogger(__name__)

HUB_EXAMPLE = "stable-diffusion-v1-5/stable-diffusion-v1-5"
# The component folders the loaders read (SDXL's second text encoder included); a Hub repo's other
# files (safety checker, single-file checkpoints of several GB, samples) are never downloaded.
COMPONENT_FOLDERS = (
    "unet",
    "vae",
    "text_encoder",
    "text_encoder_2",
    "tokenizer",
    "tokenizer_2",
    "scheduler",
    "image_encoder",
    "feature_extractor",
)
WEIGHT_FOLDERS = ("unet", "vae", "text_encoder", "text_encoder_2", "image_encoder")
WEIGHT_STEMS = ("diffusion_pytorch_model", "model")  # diffusers' and transformers' weight file names


@dataclass(frozen=True)
class ModelSource:
    """Where a model's files come from, and which revision of them (recorded as provenance)."""

    argument: str  # as given: a built-in name, a folder or a Hub id
    folder: Path | None  # the files to load; None for a built-in model (made in code)
    repo_id: str | None = None
    revision: str | None = None  # as asked: a branch, tag or commit hash; None is the default branch
    commit: str | None = None  # the commit hash the revision resolved to
    variant: str | None = (
        None  # weight-file variant, e.g. fp16: unet/diffusion_pytorch_model.fp16.safetensors
    )
    # Weight folders that have no `variant` files and load their plain weights, as diffusers falls back
    variant_fallback: tuple[str, ...] = ()

    @property
    def is_hub(self) -> bool:
        return self.repo_id is not None

    def provenance(self) -> dict[str, Any]:
        """What a job records about the model's files (the weights hash is recorded beside it)."""
        recorded: dict[str, Any] = {
            "hub_id": self.repo_id,
            "revision": self.revision,
            "commit": self.commit,
            "variant": self.variant,
        }
        if self.variant_fallback:  # only then: records of jobs without a fallback keep their old shape
            recorded["variant_fallback"] = list(self.variant_fallback)
        return recorded

    def cli_options(self) -> list[str]:
        """The options after `--model <id>` that select these exact files again (the commit, not a
        branch that may have moved)."""
        options = ["--revision", self.commit] if self.commit else []
        return options + (["--variant", self.variant] if self.variant else [])


def model_files(cfg: Any) -> dict[str, Any]:
    """A job config's revision/variant/cache_dir fields, as `load_components` keywords."""
    return {"revision": cfg.revision, "variant": cfg.variant, "cache_dir": cfg.cache_dir}


def is_hub_id(text: str) -> bool:
    """`owner/name` as the Hub spells repo ids (one slash, no `--` or `..`, at most 96 characters)."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if text.count("/") != 1:
        return False
    try:
        validate_repo_id(text)
    except HFValidationError:
        return False
    return True


def resolve_model(
    model: str | Path,
    revision: str | None = None,
    variant: str | None = None,
    cache_dir: str | Path | None = None,
    local_only: bool | None = None,
    builtins: tuple[str, ...] = (),
) -> ModelSource:
    """The files `model` names; a Hub id is fetched into (or found in) the HF cache.

    `local_only`: never download (default: HF_HUB_OFFLINE). `builtins`: the names of models made in code
    (`builtin.BUILTIN_MODELS`, passed in: models imports this module). Raises InputError for a string
    that is no built-in, folder or Hub id, and for a Hub model or revision that cannot be had.
    """
    text = str(model)
    if text in builtins:
        if revision or variant:
            raise InputError(
                f"built-in model {text!r} is made in code and has no files: --revision and --variant select "
                "the files of a Hub id or folder; drop them"
            )
        return ModelSource(text, None)
    if Path(text).expanduser().is_dir():
        if revision:
            raise InputError(
                f"--revision {revision!r} selects a commit, branch or tag of a Hub id, but {text!r} is a "
                "local folder; drop --revision (or pass the Hub id)"
            )
        folder = Path(text).expanduser()
        return ModelSource(
            text, folder, variant=variant, variant_fallback=plain_weight_folders(folder, variant)
        )
    if not is_hub_id(text):
        raise InputError(
            f"model {text!r} is neither a built-in model ({', '.join(builtins)}) nor a folder nor a "
            f"Hugging Face Hub id (owner/name); pass a local diffusers Stable Diffusion folder or a Hub id "
            f"such as {HUB_EXAMPLE}"
        )
    return _resolve_hub(text, revision, variant, cache_dir, local_only)


def weight_files(variant: str | None) -> list[str]:
    """Name patterns of a component's safetensors weights of `variant`, whole or sharded. Pickled .bin
    weights are never fetched: loading them runs code from the download."""
    suffix = f".{variant}" if variant else ""
    return [
        p
        for stem in WEIGHT_STEMS
        for p in (f"{stem}{suffix}.safetensors", f"{stem}{suffix}-*-of-*.safetensors")
    ]


def allow_patterns(variant: str | None) -> list[str]:
    """What `snapshot_download` fetches first: the index, and per component folder its configs,
    tokenizer files and the variant's weights (`fallback_patterns` adds plain weights where needed)."""
    patterns = ["model_index.json"]
    for sub in COMPONENT_FOLDERS:
        patterns += [f"{sub}/*.json", f"{sub}/*.txt"]
        if sub in WEIGHT_FOLDERS:
            patterns += [f"{sub}/{name}" for name in weight_files(variant)]
    return patterns


def fallback_patterns(folders: tuple[str, ...]) -> list[str]:
    """The plain weights of the weight folders that have no variant files."""
    return [f"{sub}/{name}" for sub in folders for name in weight_files(None)]


def holds_weights(folder: Path, variant: str | None) -> bool:
    """Whether `folder` (one component's) holds safetensors weights of `variant` (None: plain)."""
    names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
    return any(fnmatch.fnmatch(name, pattern) for name in names for pattern in weight_files(variant))


def plain_weight_folders(root: Path, variant: str | None) -> tuple[str, ...]:
    """The weight folders of `root` that lack `variant` files and so load their plain weights, as
    diffusers does per component; none when no folder has the variant (that is an error, as in
    diffusers: `_check_weights`)."""
    present = [sub for sub in WEIGHT_FOLDERS if (root / sub / "config.json").is_file()]
    lacking = tuple(sub for sub in present if not holds_weights(root / sub, variant))
    if not variant or len(lacking) == len(present):
        return ()
    return lacking


def _resolve_hub(
    repo_id: str, revision: str | None, variant: str | None, cache_dir, local_only: bool | None
) -> ModelSource:
    from huggingface_hub import constants

    # Read at call time (not import time) so a cache or offline switch set by the caller is honoured.
    cache = Path(cache_dir or constants.HF_HUB_CACHE).expanduser()
    offline = constants.HF_HUB_OFFLINE if local_only is None else local_only
    if offline and revision:
        revision = _full_commit(_storage(cache, repo_id), revision)
    hub = _Hub(repo_id, cache, offline, variant)
    folder = hub.download(revision, allow_patterns(variant))
    commit = folder.name  # the snapshot folder is named by the commit hash
    fallback = plain_weight_folders(folder, variant)
    if fallback:  # the plain weights of those folders, pinned to the commit the first call resolved
        folder = hub.download(commit, fallback_patterns(fallback), asked=revision)
    source = ModelSource(repo_id, folder, repo_id, revision, commit, variant, fallback)
    _check_weights(source, cache)
    if fallback:
        log.info("variant %s: %s load plain weights (no %s files)", variant, ", ".join(fallback), variant)
    log.info("model %s revision %s -> commit %s (%s)", repo_id, revision or "main", commit, folder)
    return source


def _storage(cache: Path, repo_id: str) -> Path:
    return cache / ("models--" + repo_id.replace("/", "--"))  # huggingface_hub's folder name


def _full_commit(storage: Path, revision: str) -> str:
    """A unique prefix of a cached snapshot's commit, as the full hash (offline, where the Hub cannot
    expand it; the not-cached error lists commits shortened); any other revision as given."""
    if not re.fullmatch(r"[0-9a-f]{4,39}", revision) or (storage / "refs" / revision).is_file():
        return revision  # not a hash prefix, or a branch/tag of that name
    snapshots = storage / "snapshots"
    matches = (
        sorted(p.name for p in snapshots.iterdir() if p.name.startswith(revision))
        if snapshots.is_dir()
        else []
    )
    if len(matches) > 1:
        raise InputError(
            f"--revision {revision!r} is the start of several cached commits ({', '.join(matches)}); "
            "pass more of the hash"
        )
    return matches[0] if matches else revision


@dataclass(frozen=True)
class _Hub:
    """One Hub id's `snapshot_download` calls, with huggingface_hub's errors turned into InputErrors."""

    repo_id: str
    cache: Path
    offline: bool
    variant: str | None

    def download(self, revision: str | None, patterns: list[str], asked: str | None = None) -> Path:
        """The snapshot folder of `revision` holding `patterns`; `asked`: the revision the user gave,
        for messages, when `revision` is the commit it resolved to."""
        from huggingface_hub import snapshot_download
        from huggingface_hub.utils import (
            GatedRepoError,
            HfHubHTTPError,
            LocalEntryNotFoundError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
            httpx,  # the http library this huggingface_hub uses (httpx2 in 2.x), under its 1.x name
        )

        asked = asked if asked is not None else revision
        try:
            return Path(
                snapshot_download(
                    self.repo_id,
                    revision=revision,
                    cache_dir=self.cache,
                    local_files_only=self.offline,
                    allow_patterns=patterns,
                )
            )
        except LocalEntryNotFoundError as exc:  # before HfHubHTTPError, its base in older huggingface_hub
            if getattr(exc, "snapshot_path", None):  # IncompleteSnapshotError (huggingface_hub >= 2)
                raise self._incomplete(asked, Path(exc.snapshot_path), patterns) from exc
            raise self._not_cached(asked, exc) from exc
        except RevisionNotFoundError as exc:
            raise InputError(
                f"Hub model {self.repo_id!r} has no revision {asked!r}; pass a branch, tag or commit hash it "
                f"has (see https://huggingface.co/{self.repo_id}/commits/main), or drop --revision for its "
                "default branch"
            ) from exc
        except (RepositoryNotFoundError, GatedRepoError) as exc:
            raise InputError(
                f"Hub model {self.repo_id!r} was not found or needs access ({type(exc).__name__}), and "
                f"{_no_folder(self.repo_id)}; check the id (or the folder's path), accept the model's "
                "license on the Hub if it is gated, and log in (`hf auth login` or HF_TOKEN), or pass a "
                "local diffusers folder"
            ) from exc
        except HfHubHTTPError as exc:  # the Hub answered with an error (5xx, rate limit)
            raise InputError(
                f"cannot download Hub model {self.repo_id!r} (revision {asked or 'main'!r}) into "
                f"{str(self.cache)!r}: {type(exc).__name__}: {exc}; retry, or set HF_HUB_OFFLINE=1 to use "
                "what is cached"
            ) from exc
        except httpx.HTTPError as exc:  # no answer after huggingface_hub's retries: connect, proxy, timeout
            raise InputError(
                f"cannot reach the Hugging Face Hub for model {self.repo_id!r} (revision "
                f"{asked or 'main'!r}): {type(exc).__name__}: {exc}. Fix: check the network and the proxy "
                "settings (HTTPS_PROXY), "
                f"or run with HF_HUB_OFFLINE=1 against a cache that holds the model ({str(self.cache)!r}; "
                "--cache-dir or HF_HUB_CACHE), or pass a local diffusers folder"
            ) from exc
        except OSError as exc:  # the cache folder: permissions, disk full
            raise InputError(
                f"cannot download Hub model {self.repo_id!r} (revision {asked or 'main'!r}) into "
                f"{str(self.cache)!r}: {type(exc).__name__}: {exc}; check the cache folder (--cache-dir)"
            ) from exc

    def fetch_command(self, revision: str | None, patterns: list[str] | None = None) -> str:
        """The `hf download` line that fetches what a later offline run reads: `patterns`, by default the
        first call's (configs and the variant's weights)."""
        words = ["hf", "download", self.repo_id]
        words += ["--revision", revision] if revision else []
        words += ["--cache-dir", str(self.cache)] if self.cache != _default_cache() else []
        for pattern in patterns or allow_patterns(self.variant):
            words += ["--include", pattern]
        return shlex.join(words)

    def _not_cached(self, revision: str | None, exc: Exception) -> InputError:
        """The one error for a Hub model (or one revision of it) that is not in the cache and not fetched."""
        asked = revision or "main"
        cache = str(self.cache)
        known = _cached_refs(_storage(self.cache, self.repo_id))
        if known:
            what = f"revision {asked!r} of Hub model {self.repo_id!r} is not in the Hugging Face cache "
            what += f"{cache!r} (it holds: {', '.join(known)})"
        else:
            what = (
                f"Hub model {self.repo_id!r} (revision {asked!r}) is not in the Hugging Face cache {cache!r}"
            )
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        why = (
            "downloads are off (HF_HUB_OFFLINE=1)"
            if self.offline
            else f"the Hub could not be reached ({first_line})"
        )
        return InputError(
            f"{what}, {_no_folder(self.repo_id)}, and {why}. Fix: run this command once with network "
            f"access (it fetches only the diffusers components), or `{self.fetch_command(revision)}` "
            "(`huggingface-cli download` in older huggingface_hub), or point --cache-dir / HF_HUB_CACHE at "
            "the cache holding it, or pass a local diffusers folder"
        )

    def _incomplete(self, revision: str | None, snapshot: Path, patterns: list[str]) -> InputError:
        """Offline, a cached snapshot that lacks files this run reads (often: fetched for --variant fp16,
        run without it). The weights check names the variant it holds; else the missing files."""
        commit = snapshot.name
        missing = _missing_files(self.repo_id, commit, self.cache, snapshot, patterns)
        absent = f"the cached snapshot lacks files this run reads: {_few(missing)}"
        source = ModelSource(self.repo_id, snapshot, self.repo_id, revision, commit, self.variant)
        weights = _weights_problem(source, self.cache, also=absent)
        if weights:  # the usual case: say which variant the cached weights are, and pass it
            return InputError(weights)
        what = (
            f"Hub model {self.repo_id!r} (revision {revision or 'main'!r}, commit {commit}) in "
            f"{str(self.cache)!r}: {absent}"
        )
        return InputError(
            f"{what}. Fix: run this command once with network access, or "
            f"`{self.fetch_command(revision, patterns)}`"
        )


def _default_cache() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE).expanduser()


def _no_folder(name: str) -> str:
    """Says that `name`, read as a path, is no folder either: a mistyped `models/sd15` is a valid Hub id."""
    return f"no local folder {name!r} exists (in {str(Path.cwd())!r})"


def _few(names: list[str], shown: int = 3) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more if names else "(unknown files)"


def _missing_files(repo_id: str, commit: str, cache: Path, snapshot: Path, patterns: list[str]) -> list[str]:
    """The files of the commit's cached tree listing that `patterns` select and `snapshot` lacks."""
    from huggingface_hub import get_cached_repo_tree
    from huggingface_hub.utils import filter_repo_objects

    try:
        listed = [f.path for f in get_cached_repo_tree(repo_id, revision=commit, cache_dir=cache)]
    except Exception:  # noqa: BLE001 - only the message loses its file list
        return []
    wanted = filter_repo_objects(listed, allow_patterns=patterns)
    return sorted(path for path in wanted if not (snapshot / path).is_file())


def _cached_refs(storage: Path) -> list[str]:
    """'main -> 1a2b3c4d5e6f' for every cached branch or tag, then bare commit snapshots, for the error
    (offline, a shortened commit is accepted as --revision: `_full_commit`)."""
    refs = storage / "refs"
    named = sorted(p for p in refs.rglob("*") if p.is_file()) if refs.is_dir() else []
    found = [f"{p.relative_to(refs)} -> {p.read_text().strip()[:12]}" for p in named]
    snapshots = storage / "snapshots"
    pointed = {p.read_text().strip() for p in named}
    if snapshots.is_dir():
        found += [f"commit {p.name[:12]}" for p in sorted(snapshots.iterdir()) if p.name not in pointed]
    return found


def _check_weights(source: ModelSource, cache: Path) -> None:
    """Every component folder of the snapshot holds safetensors weights it can load: a snapshot cached
    for another variant (or interrupted) would otherwise fail deep inside a loader."""
    problem = _weights_problem(source, cache)
    if problem:
        raise InputError(problem)


def _weights_problem(source: ModelSource, cache: Path, also: str = "") -> str | None:
    """What weights the snapshot lacks and the fix (with `also` said before the fix), or None. Per
    folder: the variant's files, else (where another folder has them, as diffusers falls back) the plain
    ones."""
    root = Path(source.folder or "")
    fallback = plain_weight_folders(root, source.variant)
    lacking, held_variants = [], set()
    for sub in WEIGHT_FOLDERS:
        folder = root / sub
        if not (folder / "config.json").is_file():
            continue  # a component this model does not have
        variant = None if sub in fallback else source.variant
        if holds_weights(folder, variant):
            continue
        held = sorted(p.name for p in folder.iterdir() if p.name.endswith((".safetensors", ".bin")))
        held_variants |= {
            m.group(1) for n in held if (m := re.search(r"\.(\w+)(-\d+-of-\d+)?\.safetensors$", n))
        }
        lacking.append(f"{sub}/ holds {', '.join(held) or 'no weights'}")
    if not lacking:
        return None
    asked = f"variant {source.variant!r}" if source.variant else "plain (no variant)"
    others = sorted(held_variants - {source.variant})
    try_variant = f", e.g. --variant {others[0]}" if others else ""
    return (
        f"Hub model {source.repo_id!r} at commit {source.commit} in {str(cache)!r} lacks {asked} "
        f"safetensors weights: {'; '.join(lacking)}{f' ({also})' if also else ''}. Fix: pass the --variant "
        f"its files have{try_variant} "
        "(or none), or run once with network access to fetch the missing files"
    )

"""What a --model argument names: a built-in model, a local diffusers folder, or a Hugging Face Hub id.

    source = resolve_model("stable-diffusion-v1-5/stable-diffusion-v1-5", revision="main")
    source.folder   # the revision's snapshot folder in the HF cache; loaded like any local folder
    source.commit   # the commit the revision resolved to (job provenance, engine keys)

Precedence: a built-in name, then an existing folder, then an `owner/name` Hub id. A Hub id resolves
through huggingface_hub's `snapshot_download` into the user's HF cache (`cache_dir`, else HF_HUB_CACHE
or HF_HOME/hub) with the user's token (HF_TOKEN or `hf auth login`), fetching only the files the
diffusers components need. Offline (HF_HUB_OFFLINE=1) it resolves from the cache alone, and a model or
revision that is not there is one InputError naming the id, the revision, the cache and the fix.
"""

from __future__ import annotations

import fnmatch
import logging
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

    @property
    def is_hub(self) -> bool:
        return self.repo_id is not None

    def provenance(self) -> dict[str, Any]:
        """What a job records about the model's files (the weights hash is recorded beside it)."""
        return {
            "hub_id": self.repo_id,
            "revision": self.revision,
            "commit": self.commit,
            "variant": self.variant,
        }

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
        return ModelSource(text, Path(text).expanduser(), variant=variant)
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
    """What `snapshot_download` fetches: the index, and per component folder its configs, tokenizer
    files and the variant's weights."""
    patterns = ["model_index.json"]
    for sub in COMPONENT_FOLDERS:
        patterns += [f"{sub}/*.json", f"{sub}/*.txt"] + [f"{sub}/{name}" for name in weight_files(variant)]
    return patterns


def _resolve_hub(
    repo_id: str, revision: str | None, variant: str | None, cache_dir, local_only: bool | None
) -> ModelSource:
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.utils import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    # Read at call time (not import time) so a cache or offline switch set by the caller is honoured.
    cache = Path(cache_dir or constants.HF_HUB_CACHE).expanduser()
    offline = constants.HF_HUB_OFFLINE if local_only is None else local_only
    try:
        folder = snapshot_download(
            repo_id,
            revision=revision,
            cache_dir=cache,
            local_files_only=offline,
            allow_patterns=allow_patterns(variant),
        )
    except LocalEntryNotFoundError as exc:  # before HfHubHTTPError, its base class in older huggingface_hub
        raise _not_cached(repo_id, revision, cache, offline, exc) from exc
    except RevisionNotFoundError as exc:
        raise InputError(
            f"Hub model {repo_id!r} has no revision {revision!r}; pass a branch, tag or commit hash it has "
            f"(see https://huggingface.co/{repo_id}/commits/main), or drop --revision for its default branch"
        ) from exc
    except (RepositoryNotFoundError, GatedRepoError) as exc:
        raise InputError(
            f"Hub model {repo_id!r} was not found or needs access ({type(exc).__name__}); check the id, "
            "accept its license on the Hub if it is gated, and log in (`hf auth login` or HF_TOKEN), or "
            "pass a local diffusers folder"
        ) from exc
    except (HfHubHTTPError, OSError) as exc:
        raise InputError(
            f"cannot download Hub model {repo_id!r} (revision {revision or 'main'!r}) into {str(cache)!r}: "
            f"{type(exc).__name__}: {exc}; retry, or set HF_HUB_OFFLINE=1 to use what is cached"
        ) from exc
    source = ModelSource(repo_id, Path(folder), repo_id, revision, Path(folder).name, variant)
    _check_weights(source, cache)
    log.info("model %s revision %s -> commit %s (%s)", repo_id, revision or "main", source.commit, folder)
    return source


def _not_cached(repo_id: str, revision: str | None, cache: Path, offline: bool, exc: Exception) -> InputError:
    """The one error for a Hub model (or one revision of it) that is not in the cache and not fetched."""
    asked = revision or "main"
    known = _cached_refs(cache / ("models--" + repo_id.replace("/", "--")))  # huggingface_hub's folder name
    if known:
        what = f"revision {asked!r} of Hub model {repo_id!r} is not in the Hugging Face cache {str(cache)!r} "
        what += f"(it holds: {', '.join(known)})"
    else:
        what = f"Hub model {repo_id!r} (revision {asked!r}) is not in the Hugging Face cache {str(cache)!r}"
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    why = (
        "downloads are off (HF_HUB_OFFLINE=1)" if offline else f"the Hub could not be reached ({first_line})"
    )
    fetch = f"hf download {repo_id}" + (f" --revision {revision}" if revision else "")
    return InputError(
        f"{what}, no local folder {repo_id!r} exists, and {why}. Fix: run this command once with network "
        f"access (it fetches only the diffusers components), or `{fetch}` (`huggingface-cli download` in "
        "older huggingface_hub), or point --cache-dir / HF_HUB_CACHE at the cache holding it, or pass a "
        "local diffusers folder"
    )


def _cached_refs(storage: Path) -> list[str]:
    """'main -> 1a2b3c4d5e6f' for every cached branch or tag, then bare commit snapshots, for the error."""
    refs = storage / "refs"
    named = sorted(p for p in refs.rglob("*") if p.is_file()) if refs.is_dir() else []
    found = [f"{p.relative_to(refs)} -> {p.read_text().strip()[:12]}" for p in named]
    snapshots = storage / "snapshots"
    pointed = {p.read_text().strip() for p in named}
    if snapshots.is_dir():
        found += [f"commit {p.name[:12]}" for p in sorted(snapshots.iterdir()) if p.name not in pointed]
    return found


def _check_weights(source: ModelSource, cache: Path) -> None:
    """Every component folder of the snapshot holds safetensors weights of the asked variant: a snapshot
    cached for another variant (or interrupted) would otherwise fail deep inside a loader."""
    wanted = weight_files(source.variant)
    lacking = []
    for sub in WEIGHT_FOLDERS:
        folder = Path(source.folder or "") / sub
        if not (folder / "config.json").is_file():
            continue  # a component this model does not have
        names = sorted(p.name for p in folder.iterdir())
        if not any(fnmatch.fnmatch(name, pattern) for name in names for pattern in wanted):
            held = [n for n in names if n.endswith((".safetensors", ".bin"))]
            lacking.append(f"{sub}/ holds {', '.join(held) or 'no weights'}")
    if lacking:
        asked = f"variant {source.variant!r}" if source.variant else "plain (no variant)"
        raise InputError(
            f"Hub model {source.repo_id!r} at commit {source.commit} in {str(cache)!r} lacks {asked} "
            f"safetensors weights: {'; '.join(lacking)}. Fix: pass the --variant its files have (or none), "
            "or run once with network access to fetch the missing files"
        )

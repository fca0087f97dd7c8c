"""Engine cache: where built artifacts live, and the key that says what built them.

    engines/<model>/onnx-fp32/unet.onnx + unet.json  (ONNX Runtime runs these; TensorRT parses them)
    engines/<model>/tensorrt-fp16-b1-4-8_512x512/unet.plan + unet.json
    engines/timing-caches/trt-10.9-sm90.cache

The sidecar JSON holds the `EngineKey` (weights hash, Hub commit, ONNX opset, precision, shape profiles,
TensorRT version, GPU compute capability, builder flags) and the artifact's size, sha256 and file identity
(size, mtime, ctime, inode). It is written last, after the artifacts were renamed into place, so an
artifact without a sidecar is an unfinished build and is never loaded. Loading compares the stored key
with the one the caller needs field by field, then checks the files are the ones built: the sha256 is
recomputed for small artifacts every time, and for large ones whenever a file's identity differs from
the sidecar's (copied, replaced, rewritten, touched), after which the new identity is recorded. Any
difference is an `EngineMismatchError` naming the rebuild command. Nothing is reused or rebuilt silently.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shlex
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BackendUnavailableError, EngineMismatchError, InputError
from ..fileio import atomic_write_json
from ..outlock import is_lock_file
from .builtin import BUILTIN_MODELS
from .components import DiffusionComponents
from .hub import is_hub_id

log = logging.getLogger(__name__)

ENGINE_FORMAT = 3  # bump when the layout or the meaning of a key field changes (2: as-loaded weights
# hash, text_batch profile, TensorRT typing flags, file identities; 3: fp16 ONNX keeps the timestep
# sinusoids and what feeds them in fp32, so fp16 files and engines built before are rebuilt)
# Names of entry_dir's variant folders (onnx_build.onnx_variant, trt_build.variant_name).
VARIANT_PREFIXES = ("onnx-", "tensorrt-")
# Files an entry holds: sidecars, ONNX graphs and their external data, TensorRT plans, staged plans.
ENGINE_FILE_SUFFIXES = (".json", ".onnx", ".onnx.data", ".plan", ".plan.staged")
ALWAYS_HASH_BELOW = 64 << 20  # artifacts smaller than this are re-hashed at every load (~0.1 s)
DEFAULT_OPSET = 17
# Opsets the export works at: 14 brings scaled_dot_product_attention (the UNet's and CLIP's attention),
# 20 is the last torch.onnx's TorchScript exporter (dynamo=False, see onnx_export) supports.
OPSET_RANGE = (14, 20)
# The module each component's weights come from (both VAE halves hash the whole VAE).
COMPONENT_MODULE = {
    "unet": "unet",
    "vae_decoder": "vae",
    "vae_encoder": "vae",
    "text_encoder": "text_encoder",
    "text_encoder_2": "text_encoder_2",
    "image_encoder": "image_encoder",
}


class EngineNotBuiltError(BackendUnavailableError):
    """The backend can run here but its engine for this model/precision/shape has not been built."""


@dataclass(frozen=True)
class EngineKey:
    """Everything that changes a built artifact. Two artifacts with equal keys are interchangeable."""

    component: str
    artifact: str  # "onnx" or "tensorrt"
    precision: str
    weights_sha256: str
    onnx_opset: int
    profiles: dict[str, list] | None = None  # input -> [min, opt, max] shapes; None: dynamic ONNX axes
    tensorrt_version: str | None = None
    compute_capability: str | None = None
    builder_flags: tuple[str, ...] = ()
    # The Hub commit the weights came from (None: a folder or a built-in model, and sidecars written
    # before Hub ids): another commit is another model even where a component's weights are equal.
    model_revision: str | None = None
    format: int = ENGINE_FORMAT

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["builder_flags"] = list(self.builder_flags)
        return json.loads(json.dumps(data))  # tuples -> lists, so stored and fresh keys compare equal

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EngineKey:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise EngineMismatchError(
                f"engine key has unknown fields {unknown}; it was written by another version"
            )
        data = dict(data)
        data["builder_flags"] = tuple(data.get("builder_flags", ()))
        return cls(**data)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()

    def differences(self, other: EngineKey) -> list[str]:
        """'field: stored -> needed' for every field that differs."""
        mine, theirs = self.to_json(), other.to_json()
        return [
            f"{k}: built {_short(mine[k])}, need {_short(theirs[k])}" for k in mine if mine[k] != theirs[k]
        ]


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text[:19] + "…" if len(text) > 20 and isinstance(value, str) else text


@dataclass
class EngineRecord:
    """One committed artifact and its sidecar contents."""

    sidecar: Path
    key: EngineKey
    files: list[str]
    bytes: int
    sha256: str
    model: str
    model_id: str
    created: str
    build_command: str
    extra: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, list[int]] = field(default_factory=dict)  # file -> identity when last verified

    @property
    def path(self) -> Path:
        return self.sidecar.parent / self.files[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "sidecar": str(self.sidecar),
            "key": self.key.to_json(),
            "digest": self.key.digest(),
            "files": self.files,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "model": self.model,
            "model_id": self.model_id,
            "created": self.created,
            "build_command": self.build_command,
            "stats": self.stats,
            **self.extra,
        }


def model_argument(components: DiffusionComponents) -> str:
    """What to pass to --model to get these components again (a built-in name, the folder or the Hub id)."""
    name = components.model_id.removeprefix("builtin:")
    return name


def model_options(components: DiffusionComponents) -> str:
    """The options after --model that load the same files again: a Hub model's --revision <commit> and
    --variant (empty for folders and built-in models)."""
    source = components.source
    return shlex.join(source.cli_options()) if source is not None else ""


def source_revision(components: DiffusionComponents) -> str | None:
    """The Hub commit for `EngineKey.model_revision`."""
    return components.revision


def model_slug(model: str) -> str:
    """Folder name for a model's engines, from its --model argument (`model_argument(components)`): the
    built-in name; a Hub id's `hub--owner--name` (every revision and variant of it shares the folder:
    their keys differ, as a folder's do when its files change); else the folder's name + a hash of its
    resolved path, so `sd15/`, `./sd15` and the absolute path share one engine folder."""
    if model in BUILTIN_MODELS:
        return model
    if not Path(model).is_dir() and is_hub_id(model):  # an existing folder wins, as in `resolve_model`
        return "hub--" + model.replace("/", "--")
    resolved = str(Path(model).resolve())
    return f"{Path(resolved).name}-{hashlib.sha256(resolved.encode()).hexdigest()[:8]}"


def component_weights_hash(components: DiffusionComponents, component: str) -> str:
    """sha256 of the weights one component runs, as loaded (the one hasher: `components.hash_modules`).

    Per module rather than the whole model, so a finetuned UNet only invalidates UNet engines; taken
    before any runner's cast, so engines built by an fp32 process load in an fp16 one.
    """
    return components.module_hash(COMPONENT_MODULE[component])


def build_command(
    model: str,
    backend: str,
    precision: str,
    profile_args: str = "",
    force: bool = True,
    engine_dir: str | os.PathLike = "engines",
    model_opts: str = "",
) -> str:
    """The `genrobust engine build` line that (re)builds an engine; --force only when one exists.
    `model_opts`: `model_options(components)`, the Hub revision and variant."""
    cmd = f"genrobust engine build --model {shlex.quote(model)}{' ' + model_opts if model_opts else ''}"
    cmd += f" --backend {backend} --precision {precision}"
    if profile_args:
        cmd += f" {profile_args}"
    if str(engine_dir) != "engines":
        cmd += f" --engine-dir {shlex.quote(str(engine_dir))}"
    return cmd + (" --force" if force else "")


def retarget_command(command: str, engine_dir: str | os.PathLike, component: str | None = None) -> str:
    """A stored build command pointed at the engine folder the artifact is in now (it may have moved,
    or been built from another working directory), for one component, with --force."""
    words = shlex.split(command)
    out, skip = [], False
    for word in words:
        if skip:
            skip = False
            continue
        if word in ("--engine-dir", "--component"):
            skip = True
            continue
        if word != "--force":
            out.append(word)
    if component:
        out += ["--component", component]
    if str(engine_dir) != "engines":
        out += ["--engine-dir", str(engine_dir)]
    return shlex.join(out + ["--force"])


class EngineCache:
    """The engines folder: entry folders per model and variant, sidecar keys, atomic commits."""

    def __init__(self, root: str | os.PathLike = "engines"):
        self.root = Path(root)

    def entry_dir(self, slug: str, variant: str) -> Path:
        return self.root / slug / variant

    @classmethod
    def holding(cls, sidecar: Path) -> EngineCache:
        """The cache holding a sidecar (inverse of `entry_dir`): <root>/<model>/<variant>/<component>.json."""
        return cls(Path(sidecar).parent.parent.parent)

    def timing_cache_path(self, tensorrt_version: str, compute_capability: str) -> Path:
        return (
            self.root
            / "timing-caches"
            / f"trt-{tensorrt_version}-sm{compute_capability.replace('.', '')}.cache"
        )

    def read(self, sidecar: Path) -> EngineRecord:
        try:
            data = json.loads(sidecar.read_text())
            return EngineRecord(
                sidecar=sidecar,
                key=EngineKey.from_json(data["key"]),
                files=list(data["files"]),
                bytes=int(data["bytes"]),
                sha256=data["sha256"],
                model=data["model"],
                model_id=data["model_id"],
                created=data["created"],
                build_command=data["build_command"],
                extra={k: v for k, v in data.items() if k in ("inputs", "outputs", "build_seconds")},
                stats={k: list(v) for k, v in data.get("stats", {}).items()},
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise EngineMismatchError(
                f"engine sidecar {str(sidecar)!r} is unreadable ({type(exc).__name__}: {exc}); "
                f"delete it with `genrobust engine clean --engine-dir {self.root}` and rebuild"
            ) from exc

    def load(self, directory: Path, expected: EngineKey, rebuild: str) -> EngineRecord:
        """The committed artifact for `expected`, checked; missing -> EngineNotBuiltError, else mismatch."""
        sidecar = directory / f"{expected.component}.json"
        if not sidecar.is_file():
            raise EngineNotBuiltError(
                f"no {expected.artifact} {expected.precision} engine for {expected.component} in "
                f"{str(directory)!r}; build it with: {rebuild.removesuffix(' --force')}"
            )
        record = self.read(sidecar)
        diffs = record.key.differences(expected)
        if diffs:
            raise EngineMismatchError(
                f"engine {str(record.path)!r} does not match this request ({'; '.join(diffs)}); "
                f"rebuild it with: {rebuild}"
            )
        for name in record.files:
            path = directory / name
            if not path.is_file():
                raise EngineMismatchError(f"engine file {str(path)!r} is missing; rebuild with: {rebuild}")
        size = sum((directory / name).stat().st_size for name in record.files)
        if size != record.bytes:
            raise EngineMismatchError(
                f"engine {str(record.path)!r} is {size} bytes, its sidecar says {record.bytes} (truncated or "
                f"replaced); rebuild it with: {rebuild}"
            )
        self.check_content(record, rebuild)
        return record

    def check_content(self, record: EngineRecord, rebuild: str) -> None:
        """Refuse files that are not the bytes that were built, cheaply enough for every job start: the
        sha256 is recomputed when the artifact is small or a file's identity changed since it was last
        verified (then the new identity is recorded, so the next load is a stat again)."""
        current = {name: file_identity(record.sidecar.parent / name) for name in record.files}
        if record.bytes >= ALWAYS_HASH_BELOW and current == record.stats:
            return
        if not self.verify(record):
            raise EngineMismatchError(
                f"engine {str(record.path)!r} is not the file that was built: its sha256 differs from the "
                f"one recorded when it was built (damaged or replaced); rebuild it with: {rebuild}"
            )
        if current != record.stats:
            record.stats = current
            try:  # several ranks may do this at once: each writes the same content, atomically
                atomic_write_json(record.sidecar, record.to_json())
            except OSError as exc:  # a read-only engine folder: verified now, re-hashed next time
                log.debug("cannot record verified file identities in %s: %s", record.sidecar, exc)

    def rebuild_hint(self, record: EngineRecord) -> str:
        """The command that rebuilds `record` where it is now (this cache's folder), one component."""
        return retarget_command(record.build_command, self.root, record.key.component)

    def commit(
        self,
        directory: Path,
        key: EngineKey,
        staged: dict[str, Path],
        *,
        model: str,
        model_id: str,
        build_cmd: str,
        extra: dict[str, Any] | None = None,
    ) -> EngineRecord:
        """Move staged files (final name -> temp path, same filesystem) into place, then write the sidecar.

        The old sidecar is removed first, so a crash between renames leaves no sidecar pointing at a
        mix of old and new files; the artifact is then simply "not built".
        """
        directory.mkdir(parents=True, exist_ok=True)
        sidecar = directory / f"{key.component}.json"
        sidecar.unlink(missing_ok=True)
        digest = hashlib.sha256()
        total = 0
        for name, tmp in staged.items():
            total += tmp.stat().st_size
            digest.update(name.encode())
            _hash_into(digest, tmp)
            os.replace(tmp, directory / name)
        stats = {name: file_identity(directory / name) for name in staged}  # after the rename (ctime moves)
        record = EngineRecord(
            sidecar=sidecar,
            key=key,
            files=list(staged),
            bytes=total,
            sha256=digest.hexdigest(),
            model=model,
            model_id=model_id,
            created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            build_command=build_cmd,
            extra=dict(extra or {}),
            stats=stats,
        )
        atomic_write_json(sidecar, record.to_json())
        return record

    def verify(self, record: EngineRecord) -> bool:
        """Recompute the sha256 of the artifact files (slow for GB engines; `engine inspect --verify`)."""
        digest = hashlib.sha256()
        for name in record.files:
            digest.update(name.encode())
            _hash_into(digest, record.sidecar.parent / name)
        return digest.hexdigest() == record.sha256

    def records(self) -> tuple[list[EngineRecord], list[str]]:
        """Every committed engine, and the problems found (unreadable sidecars)."""
        found, problems = [], []
        if not self.root.is_dir():
            return found, problems
        for sidecar in sorted(self.root.glob("*/*/*.json")):
            try:
                found.append(self.read(sidecar))
            except EngineMismatchError as exc:
                problems.append(str(exc))
        return found, problems

    def clean(self, model: str | None = None, dry_run: bool = False) -> list[Path]:
        """Remove engines (all, or one model's) plus unfinished builds and timing caches; nothing else.

        Only cache entries are deleted: `<model>/<variant>/` folders (variants are named onnx-* or
        tensorrt-*) and `timing-caches/*.cache`. A model folder goes whole when it holds nothing but
        variants. A folder that holds something but no entry is not an engine cache (a typo of `.`, a
        data folder) and is refused, so a wrong --engine-dir never empties it.
        """
        if not self.root.is_dir():
            return []
        models = [p for p in self.root.iterdir() if p.is_dir() and _variants(p)]
        if model is not None:
            models = [p for p in models if p.name in (model, model_slug(model))]
        targets: list[Path] = []
        for folder in models:
            variants = _variants(folder)
            targets += [folder] if variants == sorted(folder.iterdir()) else variants
        timing = self.root / "timing-caches"
        if model is None and timing.is_dir():
            targets += sorted(f for f in timing.iterdir() if f.is_file() and f.suffix == ".cache")
        others = [p.name for p in self.root.iterdir() if p.name != "README.md"]
        if model is None and not targets and others:
            raise InputError(
                f"--engine-dir {str(self.root)!r} is not an engine cache: it holds {sorted(others)[:5]} but "
                "no <model>/<onnx-*|tensorrt-*>/ engine folders, so nothing in it is removed; pass the "
                "folder `genrobust engine build --engine-dir` wrote"
            )
        if not dry_run:
            for path in targets:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        return sorted(targets)


def _variants(model_dir: Path) -> list[Path]:
    """The engine variant folders of a model folder (what `EngineCache.entry_dir` makes): named like one
    and empty or holding an engine's files, finished (sidecar, artifact) or not (a killed build's)."""
    return sorted(
        p
        for p in model_dir.iterdir()
        if p.is_dir() and p.name.startswith(VARIANT_PREFIXES) and _holds_an_entry(p)
    )


def _holds_an_entry(variant: Path) -> bool:
    """Empty, or holding engine files, a staging folder or a build's lock file (all a failed build
    leaves behind: its staging folder is removed, its lock file stays)."""
    names = [p.name for p in variant.iterdir()]
    return not names or any(
        n.endswith(ENGINE_FILE_SUFFIXES) or n.startswith(".staging-") or is_lock_file(n) for n in names
    )


def sidecar_of(artifact: str | os.PathLike) -> Path:
    """The sidecar of an engine file (unet.onnx, unet.onnx.data, unet.plan: unet.json); a .json is itself."""
    path = Path(artifact)
    return path if path.suffix == ".json" else path.parent / (path.name.split(".")[0] + ".json")


def file_identity(path: Path) -> list[int]:
    """What changes when a file is rewritten, replaced, copied or touched: size, mtime, ctime, inode."""
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _hash_into(digest, path: Path, chunk: int = 1 << 22) -> None:
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)

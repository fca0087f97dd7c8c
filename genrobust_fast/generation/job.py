"""Sharded, resumable generation jobs: plan, check, generate, write, mark shards complete.

    summary = run_job(GenerateConfig(model="tiny", classes="imagenet100", per_class=2, steps=20, out="gen"))
    summary["images"], summary["images_per_s"], summary["stage_seconds"]

This worker runs the job shards s with s % W == K for `--shard K/W` (or RANK/WORLD_SIZE under torchrun
or the deepspeed launcher; all shards when neither is set). A shard with a done marker is skipped;
inside a shard, images recorded in its metadata JSONL are skipped, so rerunning the same command
resumes; images whose source could not be read are retried by the next run.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import itertools
import json
import logging
import os
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..claim import refuse_changed
from ..errors import DatasetError, InputError, JobConflictError
from ..fileio import sha256_bytes, sha256_file
from ..genset import (
    Layout,
    Manifest,
    count_records,
    is_generated_set,
    meta_dir,
    read_manifest,
    shard_name,
    write_manifest,
)
from ..outlock import lock_output
from ..paths import refuse_output_inside_inputs
from ..writefail import write_failure, writing
from .config import GenerateConfig, job_id, manifest_config, parse_shard, work_fields
from .reproducibility import compute_settings
from .worklist import Plan, WorkItem, build_plan
from .writers import encode_image, open_shard_writer

log = logging.getLogger(__name__)


def worker_slot(cfg: GenerateConfig) -> tuple[int, int]:
    """(K, W): this worker's index and the worker count, from --shard or RANK/WORLD_SIZE."""
    if cfg.shard:
        return parse_shard(cfg.shard)
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world > 1:
        return parse_shard(f"{os.environ.get('RANK', '0')}/{world}")
    return 0, 1


@dataclass
class Job:
    cfg: GenerateConfig
    plan: Plan
    out: Path
    job_id: str
    work: dict[str, Any]  # the work-defining fields the job id hashes (recorded in the manifest)
    existing: Manifest | None  # manifest found in the output folder

    @property
    def num_shards(self) -> int:
        return self.plan.num_shards

    def worker_shards(self) -> list[int]:
        k, w = worker_slot(self.cfg)
        return [s for s in range(self.num_shards) if s % w == k]

    @functools.cached_property
    def layout(self) -> Layout:
        return Layout(self.out, self.num_shards)

    def is_done(self, shard: int) -> bool:
        return self.layout.is_done(shard)

    def recorded(self, shard: int) -> int:
        return count_records(self.layout.jsonl(shard))

    def manifest(self, weights_hash: str | None, precision: str, source: dict | None = None) -> Manifest:
        return Manifest.create(
            job_id=self.job_id,
            config={**manifest_config(self.cfg), "shards": self.num_shards},
            work=self.work,
            label_space=self.plan.label_space,
            num_shards=self.num_shards,
            total_images=self.plan.total,
            output_format=self.cfg.format,
            weights_hash=weights_hash,
            model_source=source,  # Hub id, revision asked, its commit, variant (hub.ModelSource)
            precision=precision,
        )


def _identity_extra(cfg: GenerateConfig, plan: Plan) -> dict[str, Any]:
    """Contents, not paths, of the class, prompt and template files: a job whose files moved (another
    mount point on another node, a copied folder) is still the same job, and an edited file is not."""
    extra: dict[str, Any] = {
        "label_space_sha256": sha256_bytes(json.dumps(plan.label_space.to_json()).encode())
    }
    if cfg.classes and Path(cfg.classes).is_file():
        extra["classes"] = "file"
    if cfg.prompts:
        extra["prompts"] = "file"
        extra["prompts_sha256"] = sha256_file(cfg.prompts)
    if cfg.templates:
        extra["templates"] = "file"
        extra["templates_sha256"] = sha256_file(cfg.templates)
    if plan.real_names is not None:
        # The source listing too: an image added to or removed from --real shifts which index is made
        # from which source, so a rerun would skip work it never did and count images twice.
        listing = "\n".join(
            f"{cid}/{name}" for cid, names in zip(plan.label_space.ids, plan.real_names) for name in names
        )
        extra["real_listing_sha256"] = sha256_bytes(listing.encode())
    return extra


def open_job(cfg: GenerateConfig) -> Job:
    """Plan the job and check the output folder against it; reads no image and loads no model."""
    out = Path(cfg.out)
    refuse_output_inside_inputs(out, {"--real": cfg.real, "--model": cfg.model, "--classes": cfg.classes})
    try:
        existing = read_manifest(out) if is_generated_set(out) else None
    except DatasetError as exc:
        raise JobConflictError(f"{exc}; choose another --out or delete it") from exc
    if existing and cfg.shards and cfg.shards != existing.num_shards:
        raise JobConflictError(
            f"{out} holds a job of {existing.num_shards} shards, not {cfg.shards}; drop --shards or use "
            "another --out"
        )
    num_shards = existing.num_shards if existing else cfg.shards
    if num_shards is None and (cfg.shard or int(os.environ.get("WORLD_SIZE", "1") or 1) > 1):
        num_shards = worker_slot(cfg)[1]  # one job shard per worker unless told otherwise
    plan = build_plan(cfg, num_shards)
    extra = _identity_extra(cfg, plan)  # hashes the class and prompt files: once per job start
    jid, ours = job_id(cfg, extra), work_fields(cfg, extra)
    if existing:
        refuse_changed(
            existing.get("work", {}),
            ours,
            held=f"{out} holds a different generation job",
            advice="rerun with the same settings to resume it, or choose another --out",
            limit=4,
            different=existing.get("job_id") != jid,  # the ids decide; the recorded work fields explain
        )
    return Job(cfg, plan, out, jid, ours, existing)


def _check_writable(out: Path) -> None:
    probe = meta_dir(out) / f".write-test-{os.getpid()}"
    try:
        probe.parent.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise write_failure(exc, out) or DatasetError(
            f"cannot write to the output folder {str(out)!r} ({exc}); choose a writable --out"
        ) from exc


def create_pipeline(cfg: GenerateConfig, build_if_missing: bool = False):
    """(components, runners, GenerationPipeline) for the config's model, backend and settings.

    `build_if_missing` exports/builds engines that are not cached (benchmarks); a job instead asks the
    user to run `genrobust engine build`, so a multi-GPU job never builds the same engine on every rank."""
    from ..engines import create_runners, load_components
    from ..engines.hub import model_files
    from .conditioning import doubles_batch
    from .pipeline import GenerationPipeline

    comps = load_components(cfg.model, **model_files(cfg))
    size = tuple(cfg.size) if cfg.size else comps.default_size
    runners = create_runners(
        comps,
        backend=cfg.backend,
        precision=cfg.precision,
        device=cfg.device,
        engine_dir=cfg.engine_dir,
        batch_range=(1, cfg.batch_size, cfg.batch_size),
        size=size,
        guidance=doubles_batch(comps, cfg.guidance),  # LCM's embedding and guidance <= 1: batch, not 2x
        build_if_missing=build_if_missing,
    )
    mode = {"img2img": "img2img", "variation": "variation"}.get(cfg.strategy, "text")
    pipe = GenerationPipeline(runners, cfg.scheduler, cfg.steps, cfg.guidance, size, mode, cfg.strength)  # type: ignore[arg-type]
    return comps, runners, pipe


def _batched(items: Iterator[WorkItem], n: int) -> Iterator[list[WorkItem]]:
    while batch := list(itertools.islice(items, n)):
        yield batch


def run_job(
    cfg: GenerateConfig,
    progress: bool = True,
    max_images: int | None = None,
    prepared: tuple | None = None,
    verify: bool = False,
) -> dict[str, Any]:
    """Generate this worker's shards; returns a summary (images, failures, images/s, per-stage seconds,
    images repaired).

    Every start checks the recorded outputs of this worker's shards (sizes, tar headers; with `verify`
    also sha256s) and regenerates what is missing or damaged. `max_images` stops after that many new
    images (benchmarks); the job stays resumable. `prepared` is a (components, runners, pipeline) from
    `create_pipeline(cfg)` to reuse (benchmarks, verification).
    """
    job = open_job(cfg)
    _check_writable(job.out)
    with contextlib.ExitStack() as locks:
        # One lock per job shard, not per folder: the workers of one job share the folder by design, and a
        # second copy of a worker (or an overlapping --shard split) is refused on its first shard.
        for shard in job.worker_shards():
            locks.enter_context(lock_output(job.out, shard_name(shard, job.num_shards)))
        return _run_locked(job, progress, max_images, prepared, verify)


def _run_locked(
    job: Job, progress: bool, max_images: int | None, prepared: tuple | None, verify: bool
) -> dict[str, Any]:
    cfg = job.cfg
    comps, runners, pipe = prepared or create_pipeline(cfg)
    weights_hash = comps.weights_hash()
    _check_revision(job, comps)
    if job.existing and job.existing.get("weights_hash") not in (None, weights_hash):
        raise JobConflictError(
            f"{job.out} was generated with weights {job.existing['weights_hash'][:12]}..., but {cfg.model!r} "
            f"now hashes to {weights_hash[:12]}...; use the original model or another --out"
        )
    _check_precision(job, runners.precision)
    if (
        job.existing is None
    ):  # the first worker writes it; same job id = same work, whatever the speed settings
        source = comps.source.provenance() if comps.source is not None else None
        write_manifest(job.out, job.manifest(weights_hash, runners.precision, source))
    repaired = repair_outputs(job, deep=verify)
    with writing(job.out):  # the shards' images and metadata lines
        summary = _ShardRunner(job, comps, runners, pipe, weights_hash).run(progress, max_images)
    return {**summary, "repaired": repaired}


def _check_revision(job: Job, comps) -> None:
    """A Hub model's branch may move between a job's runs: resuming from another commit would mix two
    models' images in one data set, so the commit the job started from is required."""
    theirs = ((job.existing or {}).get("model_source") or {}).get("commit")
    if theirs is not None and theirs != comps.revision:
        raise JobConflictError(
            f"{job.out} was generated from commit {theirs} of {job.cfg.model!r}, this run loaded "
            f"{comps.revision}; rerun with --revision {theirs} to resume it, or choose another --out"
        )


def _check_precision(job: Job, precision: str) -> None:
    """Precision is part of what a job makes: fp16 or bf16 moves pixels far beyond the bound that batch
    size, threads and backends stay within, so one data set does not mix them. (The weights' identity does
    not depend on it: they are hashed as stored, before any cast.)"""
    theirs = (job.existing or {}).get("precision")
    if theirs is not None and theirs != precision:
        raise JobConflictError(
            f"{job.out} was generated in {theirs}, this run would add {precision} images (their pixels "
            f"differ beyond the stated bound); rerun with --precision {theirs} to resume it, or choose "
            "another --out"
        )


def repair_outputs(job: Job, deep: bool = False) -> dict[str, Any]:
    """Check this worker's shards' recorded images (a done marker is not proof) and forget the damaged
    ones so this run regenerates them; {"images": n, "shards": [...], "problems": [first few]}."""
    from .repair import check_shard, repair_shard

    images, shards, problems = 0, [], []
    for shard in job.worker_shards():
        damage = check_shard(job.out, job.cfg.format, shard, job.num_shards, deep=deep)
        if damage:
            images += repair_shard(job.out, job.cfg.format, shard, job.num_shards, damage)
            shards.append(shard)
            problems += [f"{d.file}: {d.problem}" for d in damage[: 3 - len(problems)]]
    return {"images": images, "shards": shards, "problems": problems}


def checked_images(images, items: list[WorkItem], model: str):
    """`images` (B, 3, H, W) unless some are non-finite or one flat colour: a real generator never makes
    those, corrupt or mis-cast weights do, and a data set of them would train silently on garbage."""
    import torch

    flat = images.flatten(1)
    finite = torch.isfinite(flat).all(dim=1)
    constant = flat.amax(dim=1) == flat.amin(dim=1)
    bad = [item.stem for item, ok in zip(items, (finite & ~constant).tolist()) if not ok]
    if bad:
        raise DatasetError(
            f"model {model!r} produced {len(bad)} image(s) that are not finite or are one flat colour "
            f"({', '.join(bad[:3])}); its weights are likely damaged or loaded in a precision they overflow "
            "in: check the model folder (or try --precision fp32). Images written so far are kept"
        )
    return images


class _ShardRunner:
    def __init__(self, job: Job, comps, runners, pipe, weights_hash: str):
        self.job, self.cfg, self.pipe, self.runners = job, job.cfg, pipe, runners
        self.common = {
            "model_id": comps.model_id,
            "model_revision": comps.revision,  # the Hub commit (None: a folder or built-in model)
            "weights_hash": weights_hash,
            "backend": runners.backend,
            "precision": runners.precision,
            "negative_prompt": None if job.cfg.strategy == "variation" else job.cfg.negative_prompt,
            "scheduler": job.cfg.scheduler,
            **pipe.describe(),
        }
        self.compute = compute_settings(runners, job.cfg.batch_size)
        self.encode_seconds = 0.0
        self.failures = 0

    def run(self, progress: bool, max_images: int | None) -> dict[str, Any]:
        from tqdm.auto import tqdm

        job = self.job
        shards = [s for s in job.worker_shards() if not job.is_done(s)]
        remaining = sum(job.plan.shard_size(s) - job.recorded(s) for s in shards)
        started = time.perf_counter()
        made = 0
        bar = tqdm(total=remaining, unit="img", disable=not progress, desc="generate", smoothing=0.1)
        pool = ThreadPoolExecutor(self.cfg.writer_threads, thread_name_prefix="genrobust-encode")
        try:
            for shard in shards:
                budget = None if max_images is None else max_images - made
                if budget is not None and budget <= 0:
                    break
                made += self._run_shard(shard, pool, bar, budget)
        finally:
            pool.shutdown(wait=True)
            bar.close()
        seconds = time.perf_counter() - started
        done = sum(job.is_done(s) for s in range(job.num_shards))
        summary = {
            "out": str(job.out),
            "job_id": job.job_id,
            "images": made,
            "failures": self.failures,
            "seconds": round(seconds, 3),
            "images_per_s": round(made / seconds, 3) if seconds > 0 else 0.0,
            "stage_seconds": {
                **{k: round(v, 3) for k, v in self.pipe.times.seconds.items()},
                "encode_write": round(self.encode_seconds, 3),
            },
            "worker_shards": len(job.worker_shards()),
            "shards_complete": done,
            "num_shards": job.num_shards,
            "backend": self.runners.backend,
            "precision": self.runners.precision,
        }
        log.debug("generation summary: %s", summary)
        return summary

    def _request(self, item: WorkItem):
        from .pipeline import Request, load_source_image

        image = None
        if item.source_image is not None:
            image = load_source_image(
                Path(self.cfg.real) / item.source_image,
                (self.pipe.height, self.pipe.width),  # type: ignore[arg-type]
                self.pipe.mode,
            )
        return Request(item.prompt, item.seed, self.cfg.negative_prompt, image)

    def _encode_store(self, writer, item: WorkItem, pixels) -> tuple[str, str, int, float]:
        t0 = time.perf_counter()
        data = encode_image(pixels, self.cfg.image_format, self.cfg.quality)
        rel = writer.store(item.stem, item.class_id, data)
        return rel, sha256_bytes(data), len(data), time.perf_counter() - t0

    def _record(self, item: WorkItem, rel: str, sha: str, size: int) -> dict[str, Any]:
        return {
            "file": rel,
            "class_id": item.class_id,
            "class_name": item.class_name,
            "index": item.index,
            "strategy": item.strategy,
            "prompt": item.prompt,
            "template_id": item.template_id,
            "prompt_id": item.prompt_id,
            "source_image": item.source_image,
            "seed": item.seed,
            **self.common,
            "compute": self.compute,
            "sha256": sha,
            "bytes": size,
        }

    def _load_batch(self, batch: list[WorkItem]) -> tuple[list, list[WorkItem]]:
        """(requests, items) for the batch's items whose inputs load; the others are logged and counted."""
        requests, items = [], []
        for item in batch:
            try:
                requests.append(self._request(item))
                items.append(item)
            except InputError as exc:
                self.failures += 1
                log.error("skipping %s (retried on the next run): %s", item.stem, exc)
        return requests, items

    def _warn_if_settings_changed(self, shard: int, records: list[dict[str, Any]]) -> None:
        before = records[-1].get("compute") if records else None
        if before is not None and before != self.compute:
            changed = sorted(
                k for k in set(before) | set(self.compute) if before.get(k) != self.compute.get(k)
            )
            log.warning(
                "shard %d resumes with other speed settings (%s): its new images match an uninterrupted run "
                "within the stated pixel bound, not byte for byte; each image records its settings under "
                "'compute'",
                shard,
                ", ".join(f"{k} {before.get(k)} -> {self.compute.get(k)}" for k in changed),
            )

    def _run_shard(self, shard: int, pool: ThreadPoolExecutor, bar, budget: int | None) -> int:
        from .. import kernels

        job = self.job
        writer = open_shard_writer(self.cfg.format, job.out, shard, job.num_shards, self.cfg.image_format)
        self._warn_if_settings_changed(shard, writer.records)
        t_start = time.perf_counter()
        finished = writer.finished_stems()
        pending: collections.deque[tuple[WorkItem, Future]] = collections.deque()
        # Bounded: at most this many encoded-but-unrecorded images are held, so memory stays flat.
        max_pending = max(2 * self.cfg.batch_size, 2 * self.cfg.writer_threads)
        made = submitted = 0
        failures_before = self.failures

        def drain(limit: int) -> None:
            nonlocal made
            while len(pending) > limit:
                item, future = pending.popleft()
                try:
                    rel, sha, size, secs = future.result()
                except OSError as exc:
                    raise write_failure(exc, job.out) or DatasetError(
                        f"writing {item.stem} to {job.out} failed ({exc}); free space or fix permissions, "
                        "then rerun the same command to resume"
                    ) from exc
                self.encode_seconds += secs
                writer.commit(self._record(item, rel, sha, size))
                made += 1
                bar.update(1)

        try:
            # Batches are units of the plan: item i of the shard always runs in batch i // batch_size, so a
            # resumed job recomputes a partly written batch whole and keeps only the images it lacks.
            for batch in _batched(job.plan.shard_items(shard), self.cfg.batch_size):
                if all(item.stem in finished for item in batch):
                    continue
                if budget is not None and submitted >= budget:
                    break
                requests, items = self._load_batch(batch)
                if not requests:
                    continue
                pixels = kernels.to_uint8(checked_images(self.pipe.generate(requests), items, self.cfg.model))
                for item, px in zip(items, pixels):
                    if item.stem in finished or (budget is not None and submitted >= budget):
                        continue
                    pending.append((item, pool.submit(self._encode_store, writer, item, px)))
                    submitted += 1
                drain(max_pending)
            drain(0)
        except BaseException:
            # Record the images already encoded and stored, in order (waiting for those still encoding), so
            # an error or Ctrl-C mid-job loses no finished work; the first failed write ends the list.
            while pending:
                item, future = pending.popleft()
                if future.cancelled() or future.exception() is not None:
                    break
                rel, sha, size, _ = future.result()
                writer.commit(self._record(item, rel, sha, size))
            for _, future in pending:
                future.cancel()
            writer.close()
            raise
        complete = self.failures == failures_before and job.recorded(shard) >= job.plan.shard_size(shard)
        if complete:
            seconds = time.perf_counter() - t_start
            writer.finish(
                {
                    "shard": shard,
                    "num_shards": job.num_shards,
                    "images": job.plan.shard_size(shard),
                    "generated_this_run": made,
                    "seconds_this_run": round(seconds, 3),
                    "compute": self.compute,
                },
                order=lambda r: job.plan.position_of(r["class_id"], r["index"]),
            )
        else:
            writer.close()
        return made

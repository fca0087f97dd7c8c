"""The generation benchmark on real tiny runs: its figures come from the rounds it measured, its UNet bound
times the UNet calls the job makes, and a pipeline that differs from diffusers is refused before timing."""

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from genrobust_fast.bench import generate as bench_generate
from genrobust_fast.cli.main import cli
from genrobust_fast.generation import job


@pytest.fixture
def measured(monkeypatch):
    """Spies on the real measurements: seconds of each timed round per side, our stage seconds, and the
    UNet calls made during each of our timed jobs and each bound (counted by a hook on the UNet)."""
    record = {"ours": [], "diffusers": [], "bound": [], "stages": [], "job_calls": [], "bound_calls": []}
    calls, hooks = [0], []
    create_pipeline, run_job = job.create_pipeline, job.run_job
    diffusers_run, unet_bound = bench_generate._diffusers_run, bench_generate._unet_bound

    def counting_pipeline(cfg, **kwargs):
        comps, runners, pipe = create_pipeline(cfg, **kwargs)
        hooks.append(comps.unet.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1)))
        return comps, runners, pipe

    def spied_job(cfg, **kwargs):
        before = calls[0]
        summary = run_job(cfg, **kwargs)
        if Path(cfg.out).name.startswith("ours-"):  # a timed round, not the warm-up
            record["ours"].append(summary["seconds"])
            record["stages"].append(summary["stage_seconds"])
            record["job_calls"].append(calls[0] - before)
        return summary

    def spied_diffusers(ours, comps, items, cfg, out):
        seconds = diffusers_run(ours, comps, items, cfg, out)
        if out.name.startswith("diffusers-"):
            record["diffusers"].append(seconds)
        return seconds

    def spied_bound(pipe, cfg, n_images):
        before = calls[0]
        seconds = unet_bound(pipe, cfg, n_images)
        record["bound"].append(seconds)
        record["bound_calls"].append(calls[0] - before - 1)  # less its one warm-up call
        return seconds

    monkeypatch.setattr(job, "create_pipeline", counting_pipeline)
    monkeypatch.setattr(job, "run_job", spied_job)
    monkeypatch.setattr(bench_generate, "_diffusers_run", spied_diffusers)
    monkeypatch.setattr(bench_generate, "_unet_bound", spied_bound)
    yield record
    for hook in hooks:
        hook.remove()


def test_figures_come_from_each_sides_best_measured_round(measured, tmp_path):
    result = bench_generate.run_generate_benchmark(
        model="tiny", images=3, steps=2, batch=2, backend="torch", rounds=2, engine_dir=str(tmp_path)
    )
    assert len(measured["ours"]) == len(measured["diffusers"]) == len(measured["bound"]) == 2
    ours, diffusers, bound = min(measured["ours"]), min(measured["diffusers"]), min(measured["bound"])
    assert result["ours_images_per_s"] == round(3 / ours, 3)
    assert result["diffusers_images_per_s"] == round(3 / diffusers, 3)
    assert result["speedup_vs_diffusers"] == round(diffusers / ours, 3)
    assert result["overhead_vs_unet_bound"] == round(ours / bound - 1, 4)
    assert result["ours_stage_seconds"] == measured["stages"][measured["ours"].index(ours)]
    # The stage clocks restart each round: the pipeline's stages are parts of that round's wall time.
    for stages, seconds in zip(measured["stages"], measured["ours"]):
        assert sum(v for k, v in stages.items() if k != "encode_write") <= seconds + 0.005
    # The bound makes as many UNet calls as the job did for the same images (batches of 2 and 1).
    assert measured["bound_calls"] == measured["job_calls"] == [2 * result["unet_calls_per_batch"]] * 2


def test_a_pipeline_that_differs_from_diffusers_is_refused_in_one_line_before_timing(measured, monkeypatch):
    diffusers_images = bench_generate._diffusers_images

    def other_seeds(pipe, batch, cfg, **kwargs):  # as if our side had used the wrong seeds
        batch = [dataclasses.replace(it, seed=it.seed + 1) for it in batch]
        return diffusers_images(pipe, batch, cfg, **kwargs)

    monkeypatch.setattr(bench_generate, "_diffusers_images", other_seeds)
    argv = ["bench", "generate", "--backend", "torch", "--images", "2", "--steps", "2", "--batch", "2"]
    result = CliRunner().invoke(cli, [*argv, "--quick"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and errors[0].startswith("Error: ParityError: our pipeline (torch fp32) differs")
    assert measured["ours"] == measured["diffusers"] == measured["bound"] == []


def test_onnxruntime_images_match_diffusers_within_two_levels(tmp_path):
    result = bench_generate.run_generate_benchmark(
        model="tiny", images=2, steps=2, batch=2, backend="onnxruntime", quick=True, engine_dir=str(tmp_path)
    )
    assert result["backend"] == "onnxruntime" and result["precision"] == "fp32"
    assert result["parity_max_abs_diff_vs_diffusers"] <= 2


def test_a_turbo_sdxl_run_reports_images_per_second_by_family_and_steps(tmp_path):
    result = bench_generate.run_generate_benchmark(
        model="tiny-sdxl",
        images=2,
        steps=1,
        batch=2,
        scheduler="turbo",
        guidance=0.0,
        backend="torch",
        quick=True,
        engine_dir=str(tmp_path),
    )
    assert result["family"] == "sdxl" and result["parity_max_abs_diff_vs_diffusers"] <= 1
    assert result["images_per_s_by_family_and_steps"] == {"sdxl": {"1": result["ours_images_per_s"]}}
    assert result["unet_calls_per_batch"] == 1  # one trailing step, no unconditional batch

"""The demo's plan and step runner: command lines, idempotent reruns, failures that name the command."""

import fnmatch
import json
import shlex

import pytest
from click.testing import CliRunner

from genrobust_fast.cli.main import cli
from genrobust_fast.demo.plan import DemoConfig, Layout, Step, model_runs, plan
from genrobust_fast.demo.run import DemoStepError, run_step
from genrobust_fast.demo.shifts import DERIVED_SHIFTS


def test_plan_covers_the_method_in_order(tmp_path):
    cfg = DemoConfig(out=str(tmp_path / "demo"), backend="onnxruntime")
    steps = plan(cfg)
    names = [s.name for s in steps]
    assert names[0] == "engine" and names[1:3] == ["generate-labels", "generate-templates"]
    assert names[-2:] == ["fit-baseline", "report"]
    trains = [s for s in steps if s.name.startswith("train-")]
    assert len(trains) == len(model_runs(cfg)) == 7
    by_name = {s.name: s.argv for s in steps}
    real_gen = by_name["train-real-100+gen-labels"]
    assert real_gen[real_gen.index("--generated") + 1].endswith("generated/labels")
    assert "--ratio" in real_gen and "--generated-only" not in real_gen
    gen_only = by_name["train-gen-templates-only"]
    assert "--generated-only" in gen_only and "--real" not in gen_only
    # Every model is evaluated on the clean split and each derived shift, paired with the clean split.
    evals = [s.argv for s in steps if s.name.startswith("eval-")]
    assert len(evals) == 7
    for argv in evals:
        benches = [argv[i + 1] for i, a in enumerate(argv) if a == "--benchmark"]
        assert len(benches) == 1 + len(DERIVED_SHIFTS)
        assert "fmnist-occlusion=fmnist-clean" in argv
    # The baseline is fitted on exactly the real-only runs.
    pattern = by_name["fit-baseline"][by_name["fit-baseline"].index("--models") + 1]
    fitted = [n for n, _ in model_runs(cfg) if fnmatch.fnmatch(n, pattern)]
    assert fitted == ["real-only-30", "real-only-100", "real-only-300"]
    # Generated images are added to the 100-per-class subset that real-only-100 was trained on.
    assert real_gen[real_gen.index("--real") + 1].endswith("real-train-100")


def test_mixed_subset_must_be_a_real_only_size():
    from genrobust_fast.errors import InputError

    with pytest.raises(InputError, match="mixed_real_per_class 50"):
        DemoConfig(mixed_real_per_class=50)


def test_command_lines_round_trip_through_a_shell():
    step = Step("x", ("eval", "--benchmark", "folder:a b=/tmp/x y"))
    assert shlex.split(step.command_line) == ["genrobust", *step.argv]


def test_dry_run_prints_and_saves_the_commands(tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(
        cli, ["demo", "--quick", "--dry-run", "--backend", "onnxruntime", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("$ genrobust ")]
    assert len(lines) == len(plan(DemoConfig.quick(out=str(out), backend="onnxruntime")))
    assert (out / "commands.sh").read_text().count("genrobust ") == len(lines)
    assert not (out / "data").exists()  # a dry run prepares nothing


def test_run_step_skips_a_finished_step_and_names_a_failing_one(tmp_path):
    lay = Layout(tmp_path)
    echoed = []
    ok = Step("help", ("generator", "--help"))
    run_step(ok, lay, echoed.append)
    assert json.loads((lay.steps / "help.json").read_text())["argv"] == ["generator", "--help"]
    assert run_step(ok, lay, echoed.append) == 0.0 and "done earlier, skipped" in echoed[-1]
    # The same name with another command line is not considered done.
    changed = Step("help", ("generator", "finetune", "--help"))
    run_step(changed, lay, echoed.append)
    assert echoed[-1] == "\n$ genrobust generator finetune --help"
    with pytest.raises(DemoStepError, match="genrobust generator finetune --model tiny"):
        run_step(Step("bad", ("generator", "finetune", "--model", "tiny")), lay, echoed.append)
    assert not (lay.steps / "bad.json").exists()


def test_a_failed_baseline_fit_still_gives_a_report_without_it(tmp_path, monkeypatch):
    import genrobust_fast.demo.run as run

    ran = []

    def fake_step(step, lay, echo):
        ran.append(step)
        if step.name == "fit-baseline":
            raise DemoStepError("a baseline fit needs at least 2 models with different ID accuracy")
        return 0.0

    monkeypatch.setattr(run, "prepare_data", lambda cfg: None)
    monkeypatch.setattr(run, "run_step", fake_step)
    monkeypatch.setattr(run, "summarize", lambda lay, cfg, timings: {"data": {}, "text": "summary"})
    echoed = []
    run.run_demo(DemoConfig.quick(out=str(tmp_path), backend="onnxruntime"), echo=echoed.append)
    report = ran[-1]
    assert (
        report.name == "report"
        and "--baselines" not in report.argv
        and report.argv[1].endswith("results.jsonl")
    )
    assert any("no baseline fit" in line for line in echoed)

    def failing_train(step, lay, echo):
        if step.name.startswith("train-"):
            raise DemoStepError("boom")
        return 0.0

    monkeypatch.setattr(run, "run_step", failing_train)
    with pytest.raises(DemoStepError, match="boom"):
        run.run_demo(DemoConfig.quick(out=str(tmp_path), backend="onnxruntime"), echo=echoed.append)

"""The demo's plan and step runner: command lines, idempotent reruns, failures that name the command."""

import fnmatch
import json
import shlex

import pytest
from click.testing import CliRunner

from genrobust_fast.cli.demo import run_in_process
from genrobust_fast.cli.main import cli
from genrobust_fast.demo.plan import (
    DemoConfig,
    Layout,
    Step,
    model_of_run,
    model_runs,
    models,
    plan,
    planned_steps,
    run_name,
)
from genrobust_fast.demo.run import DemoStepError, run_step
from genrobust_fast.demo.shift_benchmark import TEST_SHIFTS


def test_plan_covers_the_method_in_order(tmp_path):
    cfg = DemoConfig(out=str(tmp_path / "demo"), backend="onnxruntime")
    steps = plan(cfg)
    names = [s.name for s in steps]
    assert names[:2] == ["engine-base", "engine-finetuned"]
    assert names[2:5] == ["generate-base-labels", "generate-base-templates", "generate-finetuned-templates"]
    assert names[-2:] == ["fit-baseline", "report"]
    by_name = {s.name: s.argv for s in steps}
    # Each generated set comes from its generator with its strategy; templates read the rendition file.
    finetuned = by_name["generate-finetuned-templates"]
    assert finetuned[finetuned.index("--model") + 1].endswith("demo_generator_finetuned")
    assert finetuned[finetuned.index("--templates") + 1].endswith("data/templates.txt")
    assert "--templates" not in by_name["generate-base-labels"]
    # Eleven models, three seeds each: real-only at three sizes (the line), the step-matched real-only
    # twin, RandAugment and AugMix, the mixed subset plus each generated set, two smaller amounts.
    trains = [s for s in steps if s.name.startswith("train-")]
    assert len(trains) == len(model_runs(cfg)) == 11 * 3
    real_gen = by_name["train-real-30+base-templates-s2"]
    assert real_gen[real_gen.index("--generated") + 1].endswith("generated/base-templates")
    assert real_gen[real_gen.index("--real") + 1].endswith("real-train-30")
    assert real_gen[real_gen.index("--seed") + 1] == "2" and "--ratio" in real_gen
    assert real_gen[real_gen.index("--arch") + 1] == "cifar_resnet8"
    # Every model is evaluated on the clean split and each shift paired with it; only the real-only
    # models (which never trained on generated images) on the generated test set.
    for name, argv in by_name.items():
        if not name.startswith("eval-"):
            continue
        benches = [argv[i + 1].split("=")[0] for i, a in enumerate(argv) if a == "--benchmark"]
        expected = ["folder:fmnist-clean", *(f"folder:fmnist-{s}" for s in TEST_SHIFTS)]
        trained_on_generated = any(g in name for g in ("base-", "finetuned-"))
        expected += [] if trained_on_generated else ["folder:fmnist-generated"]
        assert benches == expected, name
        assert "fmnist-occluded=fmnist-clean" in argv and "fmnist-silhouette=fmnist-clean" in argv
    # The baseline is fitted on exactly the real-only runs, every seed.
    pattern = by_name["fit-baseline"][by_name["fit-baseline"].index("--models") + 1]
    fitted = [n for n, _, _ in model_runs(cfg) if fnmatch.fnmatch(n, pattern)]
    assert len(fitted) == 9 and all(n.startswith("real-only-") for n in fitted)


def option(argv, name):
    return argv[argv.index(name) + 1] if name in argv else None


def test_compared_models_take_the_same_optimizer_steps(tmp_path):
    cfg = DemoConfig(out=str(tmp_path / "demo"), backend="onnxruntime")
    by_name = {s.name: s.argv for s in plan(cfg)}
    steps = {m.name: planned_steps(cfg, m) for m in models(cfg)}
    # Every model but the baseline line's takes the ratio-1 mixed models' steps: 6 epochs of 600 images
    # in batches of 25, or 12 epochs of 300.
    assert {n: v for n, v in steps.items() if not n.startswith("real-only-")} == dict.fromkeys(
        [m.name for m in models(cfg) if not m.on_line], 144
    )
    assert steps["real-only-100"] == 240
    twin = by_name["train-real-30-2x-steps-s0"]
    assert option(twin, "--epochs") == "12" and option(twin, "--generated") is None
    for aug in ("randaugment", "augmix"):
        argv = by_name[f"train-real-30+{aug}-s1"]
        assert option(argv, "--augment") == aug and option(argv, "--epochs") == "12"
        assert option(argv, "--workers") == "0"  # no forked loader workers (see plan._train_steps)
    # The amounts: the main set at ratio 1 from a seeded pool of 8 and 15 images per class.
    small = by_name["train-real-30+base-templates-8pc-s2"]
    assert option(small, "--generated-count") == "80" and option(small, "--ratio") == "1"
    assert option(small, "--generated").endswith("generated/base-templates")
    assert option(by_name["train-real-30+base-templates-s2"], "--generated-count") is None


def test_the_sampler_agrees_with_planned_steps():
    from genrobust_fast.data.mixing import MixedSampler, MixPlan

    cfg = DemoConfig()
    for m in models(cfg):
        n = m.real * 10
        mix = MixPlan.create(
            n,
            300 if m.generated else 0,
            ratio=1.0 if m.generated else None,
            generated_count=m.amount * 10 if m.amount else None,
        )
        per_epoch = MixedSampler(mix, cfg.batch_size).steps_per_epoch
        assert planned_steps(cfg, m) == cfg.epochs * m.epochs_factor * per_epoch, m.name


def test_help_states_the_codes_defaults():
    text = CliRunner().invoke(cli, ["demo", "--help"]).output
    flat = " ".join(text.split())
    cfg = DemoConfig()
    assert f"Generated images per class and set [{cfg.generated_per_class}]" in flat
    assert f"[{','.join(map(str, cfg.amounts))}]" in flat
    assert f"mixed models [{cfg.epochs}]" in flat and f"(error bars) [{len(cfg.seeds)}]" in flat
    dense = "".join(text.split())  # help wraps long paths at hyphens
    assert f"[{cfg.fashion_mnist}]" in dense and f"[default:{cfg.out}]" in dense
    assert "{" not in text


def test_run_names_round_trip():
    assert model_of_run(run_name("real-100+base-templates", 12)) == ("real-100+base-templates", 12)


def test_mixed_subset_must_be_a_real_only_size():
    from genrobust_fast.errors import InputError

    with pytest.raises(InputError, match="mixed_real_per_class 70"):
        DemoConfig(mixed_real_per_class=70)
    with pytest.raises(InputError, match="at least two distinct seeds"):
        DemoConfig(seeds=(3, 3))
    with pytest.raises(InputError, match="largest equal to generated_per_class"):
        DemoConfig(amounts=(10, 25))


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
    # --seeds N trains every model with seeds 0..N-1
    five = CliRunner().invoke(cli, ["demo", "--dry-run", "--seeds", "5", "--out", str(tmp_path / "five")])
    trains = [line for line in five.output.splitlines() if line.startswith("$ genrobust train ")]
    assert len(trains) == 11 * 5 and sum("--seed 4 " in line for line in trains) == 11
    extended = CliRunner().invoke(cli, ["demo", "--dry-run", "--extended", "--out", str(tmp_path / "x")])
    trains = [line for line in extended.output.splitlines() if line.startswith("$ genrobust train ")]
    assert len(trains) == 13 * 5 and any("--generated-count 300 " in line for line in trains)
    oracle = [line for line in trains if "real-30+oracle-renditions-s0" in line]
    assert len(oracle) == 1 and "--generated data/oracle-renditions-30 " in oracle[0].replace(
        str(tmp_path / "x") + "/", ""
    )


def test_the_oracle_set_is_the_mixed_photos_in_the_generators_renditions(fmnist, tmp_path):
    import numpy as np
    from PIL import Image

    from genrobust_fast.demo.fashion_mnist import convert_split
    from genrobust_fast.demo.run import write_oracle_set
    from genrobust_fast.demo.shifts import RENDITIONS

    cfg = DemoConfig(real_per_class=(2, 4), mixed_real_per_class=2, fashion_mnist=str(fmnist), oracle=True)
    oracle = write_oracle_set(cfg, tmp_path / "oracle")
    photos = convert_split(fmnist, "train", tmp_path / "photos", per_class=2, seed=cfg.data_seed)
    read = lambda root: sorted(  # noqa: E731
        (p.relative_to(root), np.asarray(Image.open(p))) for p in root.rglob("*.png")
    )
    pairs = list(zip(read(oracle), read(photos), strict=True))
    assert len(pairs) == 20 and all(a[0] == b[0] for a, b in pairs)  # same files, same classes
    drawn = {
        name
        for (_, mine), (_, photo) in pairs
        for name in ("photo", "sketch", "negative")
        if np.array_equal(mine, RENDITIONS[name].transform(photo[None])[0])
    }
    assert {"photo", "sketch", "negative"} <= drawn


def test_fewer_than_two_seeds_are_refused():
    refused = CliRunner().invoke(cli, ["demo", "--dry-run", "--seeds", "1"])
    assert refused.exit_code != 0 and "--seeds" in refused.output


def test_run_step_skips_a_finished_step_and_names_a_failing_one(tmp_path):
    lay = Layout(tmp_path)
    echoed = []
    ok = Step("help", ("generator", "--help"))
    seconds = run_step(ok, lay, echoed.append, run_in_process)
    assert json.loads((lay.steps / "help.json").read_text())["argv"] == ["generator", "--help"]
    # Skipped, it reports the seconds the step took when it ran (the summary's timings stay the run's).
    ran = []
    assert run_step(ok, lay, echoed.append, lambda argv: ran.append(argv) or 0) == seconds
    assert not ran and "done earlier, skipped" in echoed[-1]
    # The same name with another command line is not considered done.
    changed = Step("help", ("generator", "finetune", "--help"))
    run_step(changed, lay, echoed.append, run_in_process)
    assert echoed[-1] == "\n$ genrobust generator finetune --help"
    with pytest.raises(DemoStepError, match="genrobust generator finetune --model tiny"):
        run_step(
            Step("bad", ("generator", "finetune", "--model", "tiny")), lay, echoed.append, run_in_process
        )
    assert not (lay.steps / "bad.json").exists()


def test_a_failed_baseline_fit_still_gives_a_report_without_it(tmp_path, monkeypatch):
    import genrobust_fast.demo.run as run

    ran = []

    def fake_step(step, lay, echo, run_command):
        ran.append(step)
        if step.name == "fit-baseline":
            raise DemoStepError("a baseline fit needs at least 2 models with different ID accuracy")
        return 0.0

    monkeypatch.setattr(run, "prepare_data", lambda cfg: None)
    monkeypatch.setattr(run, "run_step", fake_step)
    monkeypatch.setattr(run, "summarize", lambda lay, cfg, timings: {"data": {}, "text": "summary"})
    echoed = []
    run.run_demo(
        DemoConfig.quick(out=str(tmp_path), backend="onnxruntime"),
        echo=echoed.append,
        run_command=run_in_process,
    )
    report = ran[-1]
    assert (
        report.name == "report"
        and "--baselines" not in report.argv
        and report.argv[1].endswith("results.jsonl")
    )
    assert any("no baseline fit" in line for line in echoed)

    def failing_train(step, lay, echo, run_command):
        if step.name.startswith("train-"):
            raise DemoStepError("boom")
        return 0.0

    monkeypatch.setattr(run, "run_step", failing_train)
    with pytest.raises(DemoStepError, match="boom"):
        run.run_demo(
            DemoConfig.quick(out=str(tmp_path), backend="onnxruntime"),
            echo=echoed.append,
            run_command=run_in_process,
        )

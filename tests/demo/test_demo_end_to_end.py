"""`genrobust demo --quick` end to end: every step through the real CLI, on a miniature Fashion-MNIST."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from genrobust_fast.cli.main import cli
from genrobust_fast.demo.fashion_mnist import convert_split
from genrobust_fast.demo.generator import SHIPPED_DIR


def _class_images(n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Garment-like images a classifier can tell apart: class k is a bright bar at height 2k."""
    labels = np.arange(n) % 10
    images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(labels):
        images[i, 2 * k + 4 : 2 * k + 8, 4:24] = 220
    return images, labels


@pytest.mark.slow
def test_quick_demo_runs_every_step_and_reruns_as_a_no_op(tmp_path, write_idx):
    rng = np.random.default_rng(0)
    fmnist = tmp_path / "fmnist"
    fmnist.mkdir()
    for split, n in (("train", 120), ("t10k", 100)):
        images, labels = _class_images(n, rng)
        write_idx(fmnist / f"{split}-images-idx3-ubyte.gz", images)
        write_idx(fmnist / f"{split}-labels-idx1-ubyte.gz", labels)
    out = tmp_path / "demo"
    # A finetuned twin of the shipped generator, two steps on real photos: this tests the steps, not the
    # findings (the shipped finetuned generator is checked where it is built, `make demo-generator`).
    photos = convert_split(fmnist, "train", tmp_path / "photos", per_class=2)
    finetuned = tmp_path / "finetuned"
    tune = [
        "generator",
        "finetune",
        "--model",
        str(SHIPPED_DIR),
        "--real",
        str(photos),
        "--out",
        str(finetuned),
    ]
    tuned = CliRunner().invoke(cli, tune + ["--steps", "2", "--batch-size", "4"])
    assert tuned.exit_code == 0, tuned.output
    args = ["demo", "--quick", "--backend", "onnxruntime", "--fashion-mnist", str(fmnist), "--out", str(out)]
    args += ["--finetuned-generator", str(finetuned)]

    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    models = {"real-only-5", "real-only-10", "real-10-2x-steps", "real-10+randaugment"}
    models |= {"real-10+base-labels", "real-10+base-templates", "real-10+finetuned-templates"}
    models.add("real-10+base-templates-5pc")
    assert set(summary["models"]) == models and summary["seeds"] == 2
    shifts = {"sketch", "negative", "blurry", "silhouette", "occluded"}
    for name, model in summary["models"].items():
        on_generated = "base-" in name or "finetuned-" in name
        benches = {"clean", *shifts} | (set() if on_generated else {"generated"})
        assert set(model["accuracy"]) == benches, name
        for stat in model["accuracy"].values():
            assert set(stat["per_seed"]) == {"0", "1"}
            assert all(0.0 <= acc <= 100.0 for acc in stat["per_seed"].values())
            lo, hi = stat["ci95"]
            assert lo <= stat["mean"] <= hi
    names = [f["name"][:2] for f in summary["findings"]]
    assert names == ["a:", "a:", "b:", "c:", "d:", "d:", "e:", "f:", "he"]
    for finding in summary["findings"]:
        assert finding["verdict"] in {"reproduced", "not reproduced", "inconclusive"}
    # The runs' own records: the compared models took the same optimizer steps (64 here).
    for finding in summary["findings"]:
        if not finding["within_model"]:
            assert set(finding["steps"].values()) == {64}, finding
    assert summary["machine"]["cpu_model"]
    # Each generator's engine was built and generation used it; each generated set has 10 images per class.
    assert len(list((out / "engines").glob("*/onnx-fp32/unet.onnx"))) == 2
    for name in ("base-labels", "base-templates", "finetuned-templates"):
        manifest = json.loads((out / "generated" / name / "manifest.json").read_text())
        assert manifest["config"]["per_class"] == 10
        assert len(list((out / "generated" / name).glob("*/*.jpg"))) == 100
    templates = json.loads((out / "generated" / "base-templates" / "manifest.json").read_text())
    assert templates["config"]["templates"].endswith("templates.txt")
    card = json.loads((out / "runs" / "real-10+base-labels-s1" / "model.json").read_text())
    assert (card["recipe"]["real_images"], card["recipe"]["generated_images"]) == (100, 100)
    report = (out / "report" / "results.md").read_text()
    assert "real-10+base-templates-s0" in report and "fmnist-occluded" in report
    assert len(list((out / "report").glob("plot_*.png"))) >= 5
    assert (out / "report" / "demo_findings.png").stat().st_size > 0
    text = (out / "summary.txt").read_text()
    assert "genrobust demo: Fashion-MNIST" in text and "Findings" in text
    assert (out / "commands.sh").read_text().count("\ngenrobust ") == len(
        list((out / "_steps").glob("*.json"))
    )

    rerun = CliRunner().invoke(cli, args)
    assert rerun.exit_code == 0, rerun.output
    assert rerun.output.count("done earlier, skipped") == len(list((out / "_steps").glob("*.json")))

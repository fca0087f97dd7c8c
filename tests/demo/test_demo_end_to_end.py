"""`genrobust demo --quick` end to end: every step through the real CLI, on a miniature Fashion-MNIST."""

import json

import numpy as np
from click.testing import CliRunner

from genrobust_fast.cli.main import cli


def _class_images(n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Garment-like images a classifier can tell apart: class k is a bright bar at height 2k."""
    labels = np.arange(n) % 10
    images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(labels):
        images[i, 2 * k + 4 : 2 * k + 8, 4:24] = 220
    return images, labels


def test_quick_demo_runs_every_step_and_reruns_as_a_no_op(tmp_path, write_idx):
    rng = np.random.default_rng(0)
    fmnist = tmp_path / "fmnist"
    fmnist.mkdir()
    for split, n in (("train", 120), ("t10k", 100)):
        images, labels = _class_images(n, rng)
        write_idx(fmnist / f"{split}-images-idx3-ubyte.gz", images)
        write_idx(fmnist / f"{split}-labels-idx1-ubyte.gz", labels)
    out = tmp_path / "demo"
    # --quick's 10 epochs: with fewer, real-only-5 and -10 can tie on a shift on some CPUs (no line to fit).
    args = ["demo", "--quick", "--backend", "onnxruntime", "--fashion-mnist", str(fmnist), "--out", str(out)]

    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["models"]) == {"real-only-5", "real-only-10", "real-10+gen-labels", "gen-labels-only"}
    for name, model in summary["models"].items():
        assert set(model["accuracy"]) == {"clean", "edges", "inverted", "blur-noise", "occlusion"}, name
        assert all(0.0 <= acc <= 100.0 for acc in model["accuracy"].values())
        assert set(model["effective_robustness"]) == {"edges", "inverted", "blur-noise", "occlusion"}, name
    # The engine was built and generation used it; the generated set has 10 images per class.
    assert list((out / "engines").glob("*/onnx-fp32/unet.onnx"))
    manifest = json.loads((out / "generated" / "labels" / "manifest.json").read_text())
    assert manifest["config"]["per_class"] == 10
    assert len(list((out / "generated" / "labels").glob("*/*.jpg"))) == 100
    card = json.loads((out / "runs" / "real-10+gen-labels" / "model.json").read_text())
    assert (card["recipe"]["real_images"], card["recipe"]["generated_images"]) == (100, 100)
    report = (out / "report" / "results.md").read_text()
    assert "real-10+gen-labels" in report and "fmnist-occlusion" in report
    assert len(list((out / "report").glob("plot_*.png"))) == 4
    assert "genrobust demo: Fashion-MNIST" in (out / "summary.txt").read_text()
    assert (out / "commands.sh").read_text().count("\ngenrobust ") == len(
        list((out / "_steps").glob("*.json"))
    )

    rerun = CliRunner().invoke(cli, args)
    assert rerun.exit_code == 0, rerun.output
    assert rerun.output.count("done earlier, skipped") == len(list((out / "_steps").glob("*.json")))

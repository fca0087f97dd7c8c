"""A real SIGKILL of a real `genrobust generate` process at chosen points, then a rerun with the same
settings: byte-identical files and metadata to an uninterrupted run (the README's first guarantee).

The killed process is the real CLI; a few lines patched into it send SIGKILL to itself at an exact point
(the `run_killed` fixture), so every test kills where it says (mid-batch, between an image's bytes and its
JSON line, mid-line), not wherever a race happens to land.
"""

from pathlib import Path

import pytest

from genrobust_fast.generation.config import GenerateConfig
from genrobust_fast.generation.job import run_job

BATCH = 4
SETTINGS = {
    "model": "tiny",
    "per_class": 10,
    "steps": 2,
    "batch_size": BATCH,
    "backend": "torch",
    "seed": 3,
    "shards": 2,
    "writer_threads": 2,
}

# Where each test kills (call N of the target): inside a batch after its UNet loop (earlier batches' images
# may still be encoding); before a JSON line (the image's bytes are stored, for tars the member written);
# after half of a JSON line was written.
KILL_POINTS = {
    "decode": ("genrobust_fast.generation.pipeline.GenerationPipeline.decode", 3, None),
    "commit": ("genrobust_fast.generation.writers.ShardWriter.commit", 6, None),
    "torn": (
        "genrobust_fast.generation.writers.ShardWriter.commit",
        3,
        (
            "import json; w, r = args; line = (json.dumps(r, sort_keys=True) + chr(10)).encode(); "
            "f = open(w.jsonl, 'ab'); f.write(line[: len(line) // 2]); f.flush()"
        ),
    ),
}


def cli_args(classes: Path, out: Path, fmt: str) -> list[str]:
    flags = {k.replace("_", "-"): v for k, v in SETTINGS.items()}
    return [
        *(x for k, v in flags.items() for x in (f"--{k}", str(v))),
        "--classes",
        str(classes),
        "--out",
        str(out),
        "--format",
        fmt,
        "--no-progress",
        "--json",
    ]


@pytest.fixture(scope="module")
def classes(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("classes") / "classes.tsv"
    path.write_text("n01440764\ttench\nn01443537\tgoldfish\n")
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory, classes, one_thread, files_of):
    """One uninterrupted run per format, with the settings the killed runs use."""
    made = {}
    for fmt in ("imagefolder", "webdataset"):
        out = tmp_path_factory.mktemp(f"reference-{fmt}")
        run_job(GenerateConfig(**SETTINGS, classes=str(classes), format=fmt, out=str(out)), progress=False)
        made[fmt] = files_of(out)
    return made


# Each point once, mid-batch for both formats (a subprocess per kill is the slow part of these tests).
@pytest.mark.slow
@pytest.mark.parametrize(
    "fmt,point",
    [("imagefolder", "decode"), ("imagefolder", "commit"), ("webdataset", "commit"), ("webdataset", "torn")],
)
def test_sigkill_then_rerun_gives_identical_files(
    tmp_path, classes, reference, run_killed, files_of, fmt, point
):
    out = tmp_path / "killed"
    target, at, prelude = KILL_POINTS[point]
    run_killed(
        ["generate", *cli_args(classes, out, fmt)], target, at, prelude=prelude, env={"OMP_NUM_THREADS": "1"}
    )
    assert not list((out / "_meta").glob("*.done.json"))  # killed inside shard 0

    resumed = run_job(
        GenerateConfig(**SETTINGS, classes=str(classes), format=fmt, out=str(out)), progress=False
    )
    assert 0 < resumed["images"] <= 20 and resumed["shards_complete"] == 2
    assert files_of(out) == reference[fmt]  # manifest, every image, every JSON line, every tar byte
    assert len(reference[fmt]) == (1 + 4 + 20 if fmt == "imagefolder" else 1 + 4 + 2)


def test_a_resume_with_other_settings_is_logged_and_recorded(tmp_path, classes, one_thread, caplog):
    cfg = GenerateConfig(**SETTINGS, classes=str(classes), format="imagefolder", out=str(tmp_path / "out"))
    assert run_job(cfg, progress=False, max_images=5)["images"] == 5
    other = GenerateConfig(**{**cfg.__dict__, "batch_size": 3})
    with caplog.at_level("WARNING"):
        assert run_job(other, progress=False)["images"] == 15
    assert "batch_size 4 -> 3" in caplog.text
    import json

    records = [
        json.loads(line)
        for f in sorted((tmp_path / "out" / "_meta").glob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]
    assert sorted(r["compute"]["batch_size"] for r in records) == [3] * 15 + [4] * 5
    assert {r["compute"]["threads"] for r in records} == {1}

"""The benchmark functions at toy sizes: they run, check correctness, and report consistent numbers."""

from genrobust_fast.bench.loader import bench_loader
from genrobust_fast.bench.scale_listing import bench_listing


def test_listing_benchmark_compares_cold_cached_and_torchvision(tmp_path):
    result = bench_listing(n_files=600, n_classes=6, root=str(tmp_path / "tree"), keep=True)
    assert result["files"] == 600 and result["cached_s"] > 0 and result["cold_s"] > 0
    assert result["cache_bytes"] > 600 * len("n00000000_0.JPEG") and result["goal_cached_under_5s"]
    assert "plain_torchvision_s" in result and (tmp_path / "tree" / "n00000005").is_dir()


def test_loader_benchmark_checks_parity_then_reports_ratios(tmp_path):
    result = bench_loader(
        n_images=48,
        size=160,
        out_size=112,
        batch_size=8,
        threads=1,
        data_dir=str(tmp_path / "jpegs"),
        parity_images=20,
        repeats=2,
    )
    assert set(result["parity"]) == {"torch", "dali"}
    assert all(v["mean_abs_diff"] <= 0.1 for v in result["parity"].values())
    for name in ("plain_torchvision", "torch_kernel", "dali"):
        assert result["results"][name]["images_timed"] == 40  # 6 batches of 8, the first one untimed
        epochs = result["results"][name]["epochs_images_per_s"]
        assert len(epochs) == 2 and result["results"][name]["images_per_s"] == max(epochs)
    base = result["results"]["plain_torchvision"]["images_per_s"]
    assert result["ratios"]["dali_vs_plain"] == round(result["results"]["dali"]["images_per_s"] / base, 3)

"""A benchmark evaluated again in the same process is not decoded again, until one of its files changes."""

import torch

from genrobust_fast.evaluation import get_benchmark
from genrobust_fast.evaluation.decoded_cache import DecodedCache
from genrobust_fast.evaluation.runner import BenchmarkRequest, EvalOptions, ImageListDataset, evaluate

from .trees import ESPRESSO, TABBY, TRIPOD, save, wnid_tree

FAST = EvalOptions(batch_size=2, device="cpu", num_workers=0, force=True)


def _decodes(monkeypatch) -> list[int]:
    """Positions decoded from disk from now on."""
    seen: list[int] = []
    original = ImageListDataset.__getitem__

    def counting(self, position):
        seen.append(position)
        return original(self, position)

    monkeypatch.setattr(ImageListDataset, "__getitem__", counting)
    return seen


def test_a_set_is_decoded_once_until_a_file_changes(tmp_path, mobilenet, photos, monkeypatch):
    root = wnid_tree(tmp_path / "val", {k: [v] for k, v in photos.items()})
    request = [BenchmarkRequest(get_benchmark("imagenet-val"), root)]
    decoded = _decodes(monkeypatch)
    (first, *_) = evaluate(mobilenet, request, tmp_path / "out1", FAST)
    assert sorted(decoded) == [0, 1, 2]

    decoded.clear()  # a new results folder: the same model and set, evaluated again
    (again, *_) = evaluate(mobilenet, request, tmp_path / "out2", FAST)
    assert decoded == []
    assert again["metrics"]["per_class_top1"] == first["metrics"]["per_class_top1"]
    assert again["metrics"]["top1"] == first["metrics"]["top1"]

    # The cat's file now holds the espresso photo: the set is decoded again and scored as it now is.
    save(photos[ESPRESSO], root / TABBY / "img_0.JPEG")
    (changed, *_) = evaluate(mobilenet, request, tmp_path / "out3", FAST)
    assert sorted(decoded) == [0, 1, 2]
    assert changed["metrics"]["per_class_top1"] == {TABBY: 0.0, ESPRESSO: 100.0, TRIPOD: 100.0}


def test_the_cache_keeps_at_most_its_budget_dropping_the_least_recently_used():
    cache = DecodedCache(budget_bytes=2 * 4 * 100)  # two tensors of 100 float32
    a, b, c = (torch.full((100,), float(i)) for i in range(3))
    cache.put("a", a)
    cache.put("b", b)
    assert cache.get("a") is a  # now the most recently used
    cache.put("c", c)
    assert cache.get("b") is None and cache.get("a") is a and cache.get("c") is c
    cache.put("big", torch.zeros(300))  # over the whole budget: never kept
    assert cache.get("big") is None and cache.get("a") is a


def test_a_set_over_the_budget_streams_from_disk_every_time(tmp_path, mobilenet, photos, monkeypatch):
    from genrobust_fast.evaluation import decoded_cache

    monkeypatch.setattr(decoded_cache, "DECODED", DecodedCache(budget_bytes=3 * 224 * 224 * 4))  # one image
    root = wnid_tree(tmp_path / "val", {k: [v] for k, v in photos.items()})
    request = [BenchmarkRequest(get_benchmark("imagenet-val"), root)]
    decoded = _decodes(monkeypatch)
    for run in ("out1", "out2"):
        evaluate(mobilenet, request, tmp_path / run, FAST)
    assert sorted(decoded) == [0, 0, 1, 1, 2, 2]

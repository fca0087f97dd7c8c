"""torchvision's pretrained ImageNet MobileNetV2 (offline weights) on real photos in each layout."""

import pytest

from genrobust_fast.errors import DatasetError, InputError
from genrobust_fast.evaluation import get_benchmark
from genrobust_fast.evaluation.results import read_results
from genrobust_fast.evaluation.runner import BenchmarkRequest, EvalOptions, evaluate
from genrobust_fast.labels import LabelSpace

from .trees import ESPRESSO, TABBY, TRIPOD, generated_tree, objectnet_tree, v2_tree, wnid_tree

FAST = EvalOptions(batch_size=4, device="cpu", num_workers=0, force=True)


def _req(name, root):
    return BenchmarkRequest(get_benchmark(name), root)


def test_val_and_v2_score_real_photos_by_class_id(tmp_path, mobilenet, photos):
    # MobileNetV2 calls chelsea an Egyptian cat (tabby is in its top-5), the espresso and tripod right.
    wnid_tree(tmp_path / "val", {k: [v] for k, v in photos.items()})
    v2_tree(tmp_path / "v2", {k: [v] for k, v in photos.items()})
    rows = evaluate(
        mobilenet,
        [_req("imagenet-val", tmp_path / "val"), _req("imagenet-v2", tmp_path / "v2")],
        tmp_path / "out",
        FAST,
    )
    by = {r["benchmark"]: r for r in rows}
    for name in ("imagenet-val", "imagenet-v2"):
        m = by[name]["metrics"]
        assert by[name]["n"] == 3
        assert m["top1"] == pytest.approx(200 / 3) and m["top5"] == 100.0
        assert m["per_class_top1"] == {TABBY: 0.0, ESPRESSO: 100.0, TRIPOD: 100.0}
    # The R-class view of val: tabby and espresso are ImageNet-R classes; masked to 200 the cat is right.
    view = by["imagenet-val[imagenet-r]"]
    assert view["n"] == 2 and view["num_scored_classes"] == 200 and view["metrics"]["top1"] == 100.0
    assert "imagenet-val[imagenet-a]" not in by  # none of the photos' classes is in ImageNet-A
    row = by["imagenet-v2"]
    assert row["id_benchmark"] == "imagenet-val" and row["dataset"]["complete"] is False
    assert row["preprocessing"]["crop"] == 224 and row["model"]["recipe"]
    assert len(row["dataset"]["file_list_sha256"]) == 64
    # Already evaluated pairs are skipped; the results file holds each pair once.
    assert evaluate(mobilenet, [_req("imagenet-v2", tmp_path / "v2")], tmp_path / "out", FAST) == []
    assert len(read_results(tmp_path / "out")) == 3


def test_objectnet_mask_vs_full_policy_and_border_crop(tmp_path, mobilenet, photos):
    # The espresso photo filed as "Drinking Cup" (ImageNet "cup"): its argmax over all 1000 classes is
    # espresso (wrong), over the mapped classes it is cup (right). The tripod photo as "Still Camera".
    root = tmp_path / "objectnet"  # results beside the benchmark, not inside it (refused)
    objectnet_tree(
        root,
        {"drinking_cup": [photos[ESPRESSO]], "still_camera": [photos[TRIPOD]]},
        unmapped={"squeegee": 1},
    )
    mask = evaluate(mobilenet, [_req("objectnet", root)], tmp_path / "out", FAST)
    full = evaluate(
        mobilenet,
        [_req("objectnet", root)],
        tmp_path / "out",
        EvalOptions(**{**FAST.__dict__, "class_policy": "full"}),
    )
    assert mask[0]["metrics"]["top1"] == 100.0 and mask[0]["num_scored_classes"] == 4
    assert full[0]["metrics"]["top1"] == 0.0 and full[0]["num_scored_classes"] == 1000
    assert mask[0]["preprocessing"]["border_crop"] == 2 and mask[0]["n"] == 2
    assert mask[0]["id_benchmark"] == "imagenet-val[objectnet]"


def test_generated_set_is_scored_over_its_own_classes(tmp_path, mobilenet, photos):
    space = LabelSpace.from_ids([TABBY, ESPRESSO, TRIPOD], ["tabby cat", "espresso", "tripod"])
    root = generated_tree(tmp_path / "gen", space, {k: [v] for k, v in photos.items()}, fmt="webdataset")
    (row,) = evaluate(
        mobilenet,
        [_req("generated", root)],
        tmp_path / "out",
        EvalOptions(batch_size=3, device="cpu", tta="flip"),
    )
    assert row["metrics"]["top1"] == 100.0 and row["num_scored_classes"] == 3 and row["tta"] == "flip"
    assert row["dataset"]["complete"] is True


def test_partial_download_fails_before_any_forward_pass(tmp_path, mobilenet, photos):
    wnid_tree(tmp_path / "r", {TABBY: [photos[TABBY]]})
    with pytest.raises(DatasetError, match="--force"):
        evaluate(mobilenet, [_req("imagenet-r", tmp_path / "r")], tmp_path / "out", EvalOptions(device="cpu"))
    assert not (tmp_path / "out" / "results.jsonl").exists()


def test_model_not_covering_the_benchmark_is_an_error(tmp_path, photos):
    import torch

    from genrobust_fast.classifiers import ClassifierCard, Preprocessing, create_classifier, save_classifier
    from genrobust_fast.evaluation.models import load_eval_model

    torch.manual_seed(0)
    space = LabelSpace.from_ids([TABBY, ESPRESSO])
    card = ClassifierCard("resnet18", space, Preprocessing(resize=40, crop=32), {"real": 10, "generated": 10})
    path = save_classifier(create_classifier("resnet18", 2), card, tmp_path / "run" / "model.safetensors")
    model = load_eval_model(checkpoint=path)
    assert model.name == "run" and model.recipe == {"real": 10, "generated": 10}
    wnid_tree(tmp_path / "val", {k: [v] for k, v in photos.items()})
    with pytest.raises(InputError, match="does not cover"):
        evaluate(model, [_req("imagenet-val", tmp_path / "val")], tmp_path / "out", FAST)
    # A folder benchmark holding only the model's classes is scored (random weights: any accuracy).
    wnid_tree(tmp_path / "mine", {TABBY: [photos[TABBY]], ESPRESSO: [photos[ESPRESSO]]})
    (row,) = evaluate(model, [_req("folder", tmp_path / "mine")], tmp_path / "out", FAST)
    assert row["n"] == 2 and row["preprocessing"]["crop"] == 32 and row["model"]["recipe"]["generated"] == 10


def test_imagenet_c_rows_carry_per_corruption_accuracy_and_mce(tmp_path, mobilenet, photos):
    # ImageNet-C ships 224 px crops: no resize, only the centre crop; mCE is marked partial here.
    for corruption in ("fog", "gaussian_noise"):
        wnid_tree(tmp_path / "c" / corruption / "1", {ESPRESSO: [photos[ESPRESSO].resize((224, 224))]})
    (row,) = evaluate(mobilenet, [_req("imagenet-c", tmp_path / "c")], tmp_path / "out", FAST)
    m = row["metrics"]
    assert set(m["by_group_top1"]) == {"fog/1", "gaussian_noise/1"}
    assert row["preprocessing"]["resize"] is None
    # Each CE is this model's error over AlexNet's: 100 * (1 - top1/100) / alexnet_error.
    assert m["corruption_error"]["fog"] == pytest.approx(
        100 * (1 - m["by_group_top1"]["fog/1"] / 100) / 0.819324
    )
    assert m["mce_complete"] is False and "snow" in m["mce_missing"]

import numpy as np
import pytest
import torch

from genrobust_fast.constants import IMAGENET_MEAN, IMAGENET_STD
from genrobust_fast.data import (
    MixedSampler,
    MixPlan,
    SequentialOrder,
    choose_loader,
    create_loader,
    real_table,
)
from genrobust_fast.data.augment import center_crop_boxes, random_resized_crop_boxes
from genrobust_fast.errors import DatasetError, InputError
from genrobust_fast.labels import LabelSpace

from .trees import CLASSES, COLORS, real_tree

SIZE = (32, 32)


def _unnormalize(images):
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (images * std + mean) * 255


def _collect(loader, epoch=0, start=0):
    return [(x.clone(), y.clone()) for x, y in loader.epoch(epoch, start)]


@pytest.mark.parametrize("kind", ["torch", "dali"])
def test_every_loader_yields_normalized_nchw_float_batches_with_pixel_true_labels(tables, kind):
    space, real, gen = tables
    plan = MixPlan.create(len(real), len(gen), ratio=1.0, seed=0)
    loader = create_loader(kind, [real, gen], MixedSampler(plan, batch_size=6), SIZE, train=True, workers=1)
    batches = _collect(loader)
    assert len(batches) == loader.steps_per_epoch == 4
    labels = torch.cat([y for _, y in batches])
    assert labels.dtype == torch.int64 and sorted(labels.tolist()) == sorted([0, 1, 2] * 8)
    for images, y in batches:
        assert images.shape == (6, 3, *SIZE) and images.dtype == torch.float32 and images.device.type == "cpu"
        pixels = _unnormalize(images).mean(dim=(2, 3))  # per-image mean color, 0-255
        for color, label in zip(pixels, y):
            nearest = min(CLASSES, key=lambda c: float((torch.tensor(COLORS[c]) - color).abs().sum()))
            assert nearest == space.ids[label]
    loader.close()


def test_dali_and_torch_agree_on_evaluation_preprocessing(tables):
    _, real, gen = tables
    out = {}
    for kind in ("torch", "dali"):
        loader = create_loader(
            kind, [real, gen], SequentialOrder(len(real) + len(gen), 8), SIZE, train=False, workers=1
        )
        out[kind] = _collect(loader)
        loader.close()
    x_t = torch.cat([x for x, _ in out["torch"]])
    x_d = torch.cat([x for x, _ in out["dali"]])
    assert x_t.shape == x_d.shape == (24, 3, *SIZE)
    assert torch.equal(torch.cat([y for _, y in out["torch"]]), torch.cat([y for _, y in out["dali"]]))
    # Same crop geometry, different resampling filters: close per pixel, very close in statistics.
    assert (x_t - x_d).abs().mean() < 0.08
    assert torch.allclose(x_t.mean(dim=(0, 2, 3)), x_d.mean(dim=(0, 2, 3)), atol=0.03)
    assert torch.allclose(x_t.std(dim=(0, 2, 3)), x_d.std(dim=(0, 2, 3)), atol=0.05)


@pytest.mark.parametrize("source,out,wide", [(64, 32, 1.0), (100, 36, 1.0), (70, 48, 1.37)])
def test_dali_evaluation_batches_are_torchvisions_resize_and_centre_crop(tmp_path, source, out, wide):
    # Sizes whose crop offsets fall on .5 (37-32, 41-36): torchvision rounds them half to even. Off by a
    # pixel, the mean difference was 0.17-0.34; the resampling filters alone differ by ~0.003. A wide
    # image checks the long side too (truncated by torchvision: 55 * 95 / 70 -> 74).
    from PIL import Image

    from genrobust_fast.bench.loader import check_parity, make_generated_jpegs

    root = make_generated_jpegs(tmp_path / "set", 8, source, classes=2, seed=1, noise=0.0)
    for path in root.glob("class*/*.jpg"):
        with Image.open(path) as img:
            img.resize((round(source * wide), source), Image.BICUBIC).save(path, quality=90)
    assert check_parity(root, out, threads=1, kinds=["dali"])["dali"]["mean_abs_diff"] < 0.01


def test_torch_loader_batches_depend_only_on_position(tables):
    """A resumed run asks for (epoch, step) and must get exactly the uninterrupted run's batch."""
    _, real, gen = tables
    plan = MixPlan.create(len(real), len(gen), ratio=0.5, seed=4)
    sampler = MixedSampler(plan, batch_size=3)
    in_process = create_loader("torch", [real, gen], sampler, SIZE, workers=0)
    uninterrupted = _collect(in_process, epoch=1)
    resumed = _collect(in_process, epoch=1, start=3)
    with_workers = create_loader("torch", [real, gen], sampler, SIZE, workers=2)
    from_workers = _collect(with_workers, epoch=1, start=3)
    with_workers.close()
    for (xa, ya), (xb, yb), (xc, yc) in zip(uninterrupted[3:], resumed, from_workers):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
        assert torch.equal(xa, xc) and torch.equal(ya, yc)
    assert not torch.equal(uninterrupted[0][0], _collect(in_process, epoch=2)[0][0])


@pytest.mark.parametrize("augment", ["augmix", "randaugment", "trivialaugment"])
def test_augmentation_baselines_run_on_the_torch_loader(tables, augment):
    _, real, _ = tables
    sampler = MixedSampler(MixPlan.create(len(real)), batch_size=4)
    plain = create_loader("torch", [real], sampler, SIZE, workers=0)
    augmented = create_loader("torch", [real], sampler, SIZE, workers=0, augment=augment)
    ((x0, y0),) = _collect(plain)[:1]
    batches = _collect(augmented)
    x1, y1 = batches[0]
    assert torch.equal(y0, y1) and x1.shape == x0.shape and torch.isfinite(x1).all()
    assert not torch.equal(x0, x1)
    assert torch.equal(x1, _collect(augmented)[0][0])  # seeded by position, like the crops


def test_auto_prefers_dali_and_says_why(caplog):
    assert choose_loader("auto") == ("dali", "DALI is installed and runs here")
    kind, reason = choose_loader("auto", augment="randaugment")
    assert kind == "torch" and "randaugment" in reason
    with pytest.raises(InputError, match="runs on the torch loader"):
        choose_loader("dali", augment="augmix")


def test_boxes_stay_inside_images_and_center_crop_matches_resize_then_crop():
    sizes = np.array([[48, 64], [300, 100], [10, 10]])
    boxes = random_resized_crop_boxes(np.repeat(sizes, 50, axis=0), np.random.default_rng(0))
    h_w = np.repeat(sizes, 50, axis=0)
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2:] > 0).all()
    assert (boxes[:, 0] + boxes[:, 2] <= h_w[:, 0]).all() and (boxes[:, 1] + boxes[:, 3] <= h_w[:, 1]).all()
    area = boxes[:, 2] * boxes[:, 3] / (h_w[:, 0] * h_w[:, 1])
    assert area.min() >= 0.05 and area.max() <= 1.0 and area.std() > 0.1
    # --crop-scale 0.5 on a 48x64 image (tall/wide images fall back to a center crop, as torchvision's do)
    larger = random_resized_crop_boxes(
        np.repeat(sizes[:1], 100, axis=0), np.random.default_rng(0), scale=(0.5, 1.0)
    )
    larger_area = larger[:, 2] * larger[:, 3] / (48 * 64)
    assert larger_area.min() >= 0.47 and larger_area.max() <= 1.0  # whole-pixel rounding aside
    # 256x512 image, resize shorter side to 256, center crop 224 -> a 224x224 box in the middle.
    assert center_crop_boxes(np.array([[256, 512]]), 256, 224).tolist() == [[16, 144, 224, 224]]


@pytest.mark.parametrize("kind", ["torch", "dali"])
def test_an_unchecked_broken_image_is_an_error_naming_data_check(tmp_path, kind):
    space = LabelSpace.from_ids(CLASSES)
    real = real_table(real_tree(tmp_path / "real", per_class=1, corrupt=True), space)
    loader = create_loader(kind, [real], SequentialOrder(len(real), 4), SIZE, train=False, workers=0)
    with pytest.raises(DatasetError, match="genrobust data check"):
        _collect(loader)

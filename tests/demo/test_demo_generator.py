"""The demo generator: its architecture, VAE pretraining, and the shipped weights."""

import json

import numpy as np
import pytest
import torch

from genrobust_fast.demo.generator import (
    FINETUNED_DIR,
    SHIPPED_DIR,
    build_demo_architecture,
    pretrain_vae,
    render_world,
    write_generator_world,
)
from genrobust_fast.demo.generator_check import linear_probe_accuracy
from genrobust_fast.demo.shifts import GENERATOR_RENDITIONS, RENDITIONS
from genrobust_fast.engines.models import load_components, save_components


def test_architecture_is_sd_layout_at_32px(tmp_path):
    comps = build_demo_architecture()
    assert comps.default_size == (32, 32) and comps.vae_scale_factor == 4 and comps.latent_channels == 4
    assert comps.unet.config.cross_attention_dim == comps.text_encoder.config.hidden_size
    loaded = load_components(save_components(comps, tmp_path / "m"))
    assert loaded.weights_hash() == comps.weights_hash()


def test_vae_pretraining_lowers_reconstruction_error_and_sets_the_latent_scale():
    torch.manual_seed(0)
    comps = build_demo_architecture()
    images = np.zeros((64, 32, 32, 3), dtype=np.uint8)
    images[:, 8:24, 8:24] = 255
    x = torch.from_numpy(images[:8]).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        before = torch.nn.functional.mse_loss(comps.vae(x).sample, x).item()
    stats = pretrain_vae(comps.vae, images, steps=30, batch_size=8, lr=3e-3)
    with torch.no_grad():
        after = torch.nn.functional.mse_loss(
            comps.vae.decode(comps.vae.encode(x).latent_dist.mean).sample, x
        ).item()
    assert after < 0.5 * before
    assert (
        comps.vae.config.scaling_factor == pytest.approx(stats["scaling_factor"])
        and stats["scaling_factor"] > 0
    )


def test_linear_probe_separates_separable_classes_and_not_noise():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 20)
    x = rng.integers(0, 50, (200, 32, 32, 3)).astype(np.uint8)
    for c in range(10):  # class c lights rows 3c..3c+1
        x[y == c, 3 * c : 3 * c + 2] = 255
    assert linear_probe_accuracy(x[::2], y[::2], x[1::2], y[1::2]) > 90
    shuffled = rng.permutation(y)
    assert linear_probe_accuracy(x[::2], shuffled[::2], x[1::2], shuffled[1::2]) < 40


def test_the_world_renders_each_image_in_one_rendition_its_caption_names(fmnist):
    from genrobust_fast.demo.fashion_mnist import CLASSES, read_idx_split, to_rgb32
    from genrobust_fast.demo.holdout import training_indices

    # The fixture has 4 images per class: hold out 2, leaving 20 to split equally four ways (the shipped
    # generators hold out 200).
    images, labels, captions = render_world(fmnist, holdout_per_class=2)
    originals, original_labels = read_idx_split(fmnist, "train")
    kept = training_indices(original_labels, 2)
    np.testing.assert_array_equal(labels, original_labels[kept])
    originals = to_rgb32(originals[kept])
    counts = dict.fromkeys(GENERATOR_RENDITIONS, 0)
    for i, caption in enumerate(captions):
        (name,) = [r for r in GENERATOR_RENDITIONS if caption in _filled(r, CLASSES[labels[i]][1])]
        counts[name] += 1
        if name != "blurry":  # the others are pure functions of the one image (blurry adds batch noise)
            np.testing.assert_array_equal(images[i], RENDITIONS[name].transform(originals[i : i + 1])[0])
    assert set(counts.values()) == {len(captions) // len(GENERATOR_RENDITIONS)}  # an equal split


def _filled(rendition: str, class_name: str) -> set[str]:
    return {t.format(class_name) for t in RENDITIONS[rendition].templates}


def test_the_world_folder_is_read_back_with_every_caption(fmnist, tmp_path):
    from genrobust_fast.finetune.data import CaptionedImages

    world = write_generator_world(fmnist, tmp_path / "world", holdout_per_class=1)
    data = CaptionedImages.scan(world)
    _, _, captions = render_world(fmnist, holdout_per_class=1)
    assert len(data) == len(captions) and all(c is not None for c in data.captions)
    assert sorted(data.captions) == sorted(captions)


@pytest.mark.skipif(not (SHIPPED_DIR / "model_index.json").is_file(), reason="demo generator not trained yet")
def test_shipped_generators_load_small_and_fp32():
    for folder in (SHIPPED_DIR, FINETUNED_DIR):
        comps = load_components(folder)
        assert comps.default_size == (32, 32)
        assert sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) < 16 * 2**20
        assert next(comps.unet.parameters()).dtype == torch.float32
        # demo_generator.json describes these very weights (its check ran on them)
        assert (
            json.loads((folder / "demo_generator.json").read_text())["weights_hash"] == comps.weights_hash()
        )
    finetuned = json.loads((FINETUNED_DIR / "finetune.json").read_text())
    assert finetuned["base_weights_hash"] == load_components(SHIPPED_DIR).weights_hash()


@pytest.mark.slow
@pytest.mark.skipif(not (SHIPPED_DIR / "model_index.json").is_file(), reason="demo generator not trained yet")
def test_the_shipped_generator_draws_the_rendition_its_prompt_names(train_only_root):
    from genrobust_fast.demo.generator_check import rendition_check

    # Two samples per class and rendition, each recognised by the nearest centroid of the holdout's
    # real images rendered each way: chance is 0.25; the shipping gate requires 0.5 with three per class
    # (demo_generator.json has the figure). The root's test split is unreadable: the check never reads it.
    report = rendition_check(
        SHIPPED_DIR, per_class=2, steps=8, fashion_root=train_only_root, holdout_per_class=20
    )
    assert report["all"] > 0.5, report

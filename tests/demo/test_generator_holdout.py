"""The generator's holdout: disjoint from everything the generators train on, the only images the
shipping gates score on (never the test split), and gates that fail a bad generator."""

import json

import numpy as np
import pytest

from genrobust_fast.demo.fashion_mnist import (
    DEFAULT_ROOT,
    MARKER,
    read_idx_split,
    select_per_class,
    to_rgb32,
)
from genrobust_fast.demo.generator import (
    SHIPPED_DIR,
    GeneratorQualityError,
    build_demo_architecture,
    finalize_shipped,
    finetune_subset,
    render_world,
    write_generator_world,
)
from genrobust_fast.demo.holdout import (
    HOLDOUT_PER_CLASS,
    describe_holdout,
    holdout_indices,
    read_holdout,
    training_indices,
)
from genrobust_fast.demo.plan import DemoConfig
from genrobust_fast.demo.shifts import photo
from genrobust_fast.errors import DatasetError, GenrobustError

REAL = (DEFAULT_ROOT / "train-labels-idx1-ubyte.gz").is_file()
needs_fashion_mnist = pytest.mark.skipif(not REAL, reason="Fashion-MNIST not installed (make test does)")


@needs_fashion_mnist
def test_the_holdout_is_disjoint_from_every_training_set_of_the_generators_and_the_demo():
    _, labels = read_idx_split(DEFAULT_ROOT, "train")
    held = holdout_indices(labels)
    assert len(held) == 10 * HOLDOUT_PER_CLASS
    assert np.bincount(labels[held]).tolist() == [HOLDOUT_PER_CLASS] * 10
    # The base generator trains on exactly the rest of the split.
    rest = training_indices(labels)
    assert len(np.intersect1d(held, rest)) == 0 and len(held) + len(rest) == len(labels)
    # The finetuned generator's real photos (what train_demo_generator converts), and the demo's real
    # subsets at its default and extended sizes (the head of the same seeded shuffle).
    finetune = finetune_subset(DEFAULT_ROOT, 100, seed=0)
    np.testing.assert_array_equal(finetune, select_per_class(labels, 100, 0))
    assert len(np.intersect1d(held, finetune)) == 0
    for cfg in (DemoConfig(), DemoConfig.extended()):
        for n in cfg.real_per_class:
            assert len(np.intersect1d(held, select_per_class(labels, n, cfg.data_seed))) == 0, n
    # The largest head that stays disjoint is the class size less the holdout, as the module says.
    assert len(np.intersect1d(held, select_per_class(labels, 6000 - HOLDOUT_PER_CLASS, 0))) == 0
    assert len(np.intersect1d(held, select_per_class(labels, 6000 - HOLDOUT_PER_CLASS + 1, 0))) == 10


def test_the_holdout_is_fixed_and_its_record_names_it(fmnist):
    _, labels = read_idx_split(fmnist, "train")
    first, again = holdout_indices(labels, 1), holdout_indices(labels, 1)
    np.testing.assert_array_equal(first, again)
    record = describe_holdout(labels, 1)
    assert record["split"] == "train" and record["images"] == 10 and record["per_class"] == 1
    assert record != describe_holdout(labels, 2)  # the hash tells holdouts apart
    images, held_labels = read_holdout(fmnist, 1)
    originals, _ = read_idx_split(fmnist, "train")
    np.testing.assert_array_equal(images, to_rgb32(originals[first]))
    np.testing.assert_array_equal(held_labels, labels[first])
    with pytest.raises(DatasetError, match="holdout of 4 per class"):
        holdout_indices(labels, 4)  # the fixture has 4 per class: none would be left to train on


def test_the_generator_world_leaves_the_holdout_out(fmnist, tmp_path):
    originals, labels = read_idx_split(fmnist, "train")
    images, world_labels, captions = render_world(fmnist, holdout_per_class=1)
    assert len(images) == len(captions) == len(labels) - 10
    np.testing.assert_array_equal(world_labels, labels[training_indices(labels, 1)])
    # Every image carries its class in pixel (0, 0) before rendering; compare the unrendered originals:
    # the world's images come from the training indices only (each fixture image is distinct noise).
    held = {originals[i].tobytes() for i in holdout_indices(labels, 1)}
    kept = {originals[i].tobytes() for i in training_indices(labels, 1)}
    assert not held & kept and len(kept) == len(images)
    # ... and the images it renders are those: photos of exactly the training indices, in that order.
    photos, _, _ = render_world(fmnist, renditions=("photo",), holdout_per_class=1)
    np.testing.assert_array_equal(photos, photo(to_rgb32(originals[training_indices(labels, 1)])))

    world = write_generator_world(fmnist, tmp_path / "world", holdout_per_class=1)
    source = json.loads((world / MARKER).read_text())["source"]
    assert source["holdout_excluded"] == describe_holdout(labels, 1)
    # A world written for another holdout (e.g. before the holdout existed) is refused, not reused.
    with pytest.raises(GenrobustError, match="delete it"):
        write_generator_world(fmnist, tmp_path / "world", holdout_per_class=2)


def test_a_finetune_subset_that_would_overlap_the_holdout_is_refused(fmnist):
    _, labels = read_idx_split(fmnist, "train")
    assert (
        len(
            np.intersect1d(
                finetune_subset(fmnist, 3, seed=0, holdout_per_class=1), holdout_indices(labels, 1)
            )
        )
        == 0
    )
    # Another seed's head of 3 of 4 per class meets the seed-0 tail somewhere among ten classes.
    with pytest.raises(GenrobustError, match="holdout images"):
        finetune_subset(fmnist, 3, seed=1, holdout_per_class=1)


@pytest.mark.slow
@pytest.mark.skipif(not (SHIPPED_DIR / "model_index.json").is_file(), reason="demo generator not trained yet")
def test_the_generator_check_scores_the_shipped_generator_on_the_holdout_without_the_test_split(
    train_only_root,
):
    from genrobust_fast.demo.generator_check import check_generator

    with pytest.raises(DatasetError):
        read_idx_split(train_only_root, "test")  # the poison works
    report = check_generator(
        SHIPPED_DIR, per_class=4, fashion_root=train_only_root, holdout_per_class=20, steps=8
    )
    assert "200 images" in report["scored_on"]
    # 40 generated images teach a linear probe the classes above chance (10%; a chance-level probe on 200
    # images has a standard deviation of 2.1 points) on 200 held-out ones: 18.5% measured on 2026-12-07.
    assert report["accuracy_on_holdout"] > 16, report


def test_the_gates_refuse_an_untrained_generator(train_only_root, tmp_path):
    from genrobust_fast.engines.models import save_components

    folder = save_components(build_demo_architecture(seed=0), tmp_path / "untrained")
    # Its samples are the untrained VAE's decoding of noise: a probe trained on them is near chance.
    with pytest.raises(GeneratorQualityError, match="on the holdout") as info:
        finalize_shipped(
            folder,
            train_only_root,
            holdout_per_class=20,
            check_per_class=4,
            rendition_per_class=1,
            check_steps=4,
        )
    assert not (folder / "demo_generator.json").exists()  # nothing is marked as shipped
    assert "chance 10%" in str(info.value)

import numpy as np
import pytest

from genrobust_fast.data import MixedSampler, MixPlan, SequentialOrder
from genrobust_fast.errors import InputError


def _split(order, n_real):
    return order[order < n_real], order[order >= n_real] - n_real


@pytest.mark.parametrize("ratio, expected", [(0.0, 0), (0.5, 50), (1.0, 100), (2.5, 250)])
def test_ratio_gives_exact_generated_counts_per_epoch(ratio, expected):
    plan = MixPlan.create(n_real=100, n_generated=120, ratio=ratio, seed=3)
    for epoch in range(3):
        real, gen = _split(plan.epoch_order(epoch), 100)
        assert sorted(real.tolist()) == list(range(100))  # every real image exactly once
        assert len(gen) == expected


def test_generated_draws_use_every_image_before_repeating_and_continue_across_epochs():
    plan = MixPlan.create(n_real=10, n_generated=25, ratio=1.0, seed=1)
    draws = np.concatenate([plan.generated_draws(e) for e in range(5)])  # 50 draws = 2 passes over 25
    assert sorted(draws[:25].tolist()) == list(range(25))
    assert sorted(draws[25:].tolist()) == list(range(25))
    assert not np.array_equal(draws[:25], draws[25:])  # a new permutation each pass


def test_generated_count_fixes_a_seeded_subset_and_generated_only_uses_it_alone():
    plan = MixPlan.create(n_real=10, n_generated=50, ratio=2.0, generated_count=8, seed=5)
    pool = set(plan.pool().tolist())
    assert len(pool) == 8
    for epoch in range(4):
        real, gen = _split(plan.epoch_order(epoch), 10)
        assert len(real) == 10 and len(gen) == 20 and set(gen.tolist()) <= pool
    only = MixPlan.create(n_real=0, n_generated=50, generated_count=8, generated_only=True, seed=5)
    assert sorted(only.epoch_order(0).tolist()) == sorted(pool)
    assert MixPlan.create(n_real=10, n_generated=30).generated_per_epoch == 30  # no ratio: whole set


def test_orders_are_pure_functions_of_seed_and_epoch():
    a = MixPlan.create(n_real=30, n_generated=30, ratio=1.0, seed=7)
    b = MixPlan.create(n_real=30, n_generated=30, ratio=1.0, seed=7)
    assert np.array_equal(a.epoch_order(2), b.epoch_order(2))
    assert not np.array_equal(a.epoch_order(1), a.epoch_order(2))
    assert not np.array_equal(a.epoch_order(1), MixPlan.create(30, 30, 1.0, seed=8).epoch_order(1))


def test_ranks_split_each_global_batch_without_overlap():
    plan = MixPlan.create(n_real=50, n_generated=50, ratio=1.0, seed=0)
    samplers = [MixedSampler(plan, batch_size=4, rank=r, world_size=3) for r in range(3)]
    assert samplers[0].steps_per_epoch == 100 // 12
    seen = np.concatenate([s.batch_indices(1, step) for step in range(8) for s in samplers])
    assert len(seen) == len(set(seen.tolist())) == 96
    assert np.array_equal(seen, plan.epoch_order(1)[:96])


def test_sequential_order_covers_everything_once_across_ranks():
    orders = [SequentialOrder(10, batch_size=3, rank=r, world_size=2) for r in range(2)]
    got = [i for o in orders for s in range(o.steps_per_epoch) for i in o.batch_indices(0, s).tolist()]
    assert sorted(got) == list(range(10))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_real": 10, "n_generated": 0, "ratio": 1.0}, "no generated set"),
        ({"n_real": 10, "n_generated": 5, "ratio": -1.0}, "must be >= 0"),
        ({"n_real": 10, "n_generated": 5, "generated_count": 6}, "exceeds the 5 images"),
        ({"n_real": 0, "n_generated": 5, "ratio": 1.0}, "no real images"),
        ({"n_real": 10, "n_generated": 5, "ratio": 1.0, "generated_only": True}, "drop --ratio"),
    ],
)
def test_invalid_mixing_options_are_explained(kwargs, message):
    with pytest.raises(InputError, match=message):
        MixPlan.create(**kwargs)


def test_an_epoch_smaller_than_a_global_batch_is_an_error():
    with pytest.raises(InputError, match="lower --batch-size"):
        MixedSampler(MixPlan.create(n_real=5), batch_size=4, world_size=2)

"""One LoaderSpec, built by create_loader from its arguments, is what each loader reads."""

import pickle

import pytest

from genrobust_fast.data import SequentialOrder, create_loader
from genrobust_fast.data.loader_spec import LoaderSpec


def test_a_spec_resolves_the_eval_resize_and_compares_whatever_sequences_it_was_given():
    spec = LoaderSpec([224, 224], train=False, mean=[0.5, 0.5, 0.5], std=(0.25, 0.25, 0.25))
    assert spec.image_size == (224, 224) and spec.eval_resize == 256  # the 256/224 ImageNet recipe
    assert spec == LoaderSpec((224, 224), False, (0.5,) * 3, [0.25] * 3, eval_resize=256)
    assert pickle.loads(pickle.dumps(spec)) == spec  # torch loader workers receive it pickled
    with pytest.raises(AttributeError):
        spec.train = True  # frozen: a loader cannot change what the other reads


@pytest.mark.parametrize("kind", ["torch", "dali"])
def test_each_loader_reads_the_spec_create_loader_built(tables, kind):
    _, real, _ = tables
    order = SequentialOrder(len(real), 4)
    loader = create_loader(kind, [real], order, (24, 24), train=False, seed=7, crop_scale=0.5, workers=0)
    want = LoaderSpec((24, 24), train=False, seed=7, crop_scale=0.5)
    if kind == "torch":
        assert loader.builder.spec == want
    else:
        assert (loader.image_size, loader.train, loader.seed, loader.crop_scale) == ((24, 24), False, 7, 0.5)
        assert loader.eval_resize == want.eval_resize == 27
    with pytest.raises(TypeError, match="crop_size"):
        create_loader(kind, [real], order, (24, 24), crop_size=0.5)  # a field LoaderSpec lacks

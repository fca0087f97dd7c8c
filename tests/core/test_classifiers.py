import pickle

import pytest
import torch

from genrobust_fast.classifiers import (
    ClassifierCard,
    Preprocessing,
    create_classifier,
    load_classifier,
    save_classifier,
)
from genrobust_fast.errors import InputError
from genrobust_fast.labels import LabelSpace
from genrobust_fast.small_nets import BasicBlock, CifarResNet


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = create_classifier("resnet18", num_classes=3).eval()
    card = ClassifierCard(
        "resnet18",
        LabelSpace.from_ids(["cat", "dog", "emu"]),
        Preprocessing(resize=36, crop=32),
        recipe={"ratio": 1.0},
    )
    path = save_classifier(model, card, tmp_path / "model.safetensors")
    loaded, loaded_card = load_classifier(path)
    assert loaded_card == card
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


def test_errors(tmp_path):
    with pytest.raises(InputError, match="unknown architecture 'resnet19'"):
        create_classifier("resnet19", 10)
    with pytest.raises(InputError, match="does not exist"):
        load_classifier(tmp_path / "model.safetensors")
    (tmp_path / "w.safetensors").write_bytes(b"x")
    with pytest.raises(InputError, match="card"):
        load_classifier(tmp_path / "w.safetensors")


def test_a_small_net_pickles_and_is_an_instance_of_its_class():
    torch.manual_seed(0)
    model = create_classifier("cifar_resnet8", num_classes=4).eval()
    assert isinstance(model, CifarResNet) and isinstance(model[3], BasicBlock)
    copy = pickle.loads(pickle.dumps(model))  # as DataLoader workers and torch.save(model) need
    assert type(copy) is CifarResNet
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), copy(x))
    assert [name for name, _ in model.named_parameters()][:2] == ["0.weight", "1.weight"]  # checkpoint keys

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

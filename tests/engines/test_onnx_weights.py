"""Issue 27: a model whose exported weights the exporter stored outside the graph (torch does, one file per
tensor, past 2 GB) is converted and saved one tensor at a time, never with all its weights loaded, and comes
out with exactly the weights of the small-model path.

The SDXL UNet's run of the same code (10.3 GB in fp32): tests/engines/test_engine_export_large.py.
"""

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, numpy_helper

from genrobust_fast.engines import onnx_export
from genrobust_fast.engines.onnx_export import export_component
from genrobust_fast.engines.onnx_weights import ALIGNMENT, write_external
from genrobust_fast.engines.specs import Precision


def _weights(path):
    model = onnx.load(str(path))
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def _exporter_stores_weights_outside(monkeypatch):
    """torch.onnx.export as it behaves past 2 GB (every weight in a file of its own beside the graph), and
    onnx's whole-model weight loading made to fail."""
    real_export = torch.onnx.export

    def export_large(module, args, path, **kwargs):
        real_export(module, args, path, **kwargs)
        model = onnx.load(path, load_external_data=False)
        onnx.save_model(
            model, path, save_as_external_data=True, all_tensors_to_one_file=False, size_threshold=0
        )

    def refuse(*args, **kwargs):
        raise AssertionError("all external weights loaded at once")

    monkeypatch.setattr(torch.onnx, "export", export_large)
    monkeypatch.setattr(onnx, "load_external_data_for_model", refuse)
    monkeypatch.setattr(onnx.external_data_helper, "load_external_data_for_model", refuse)


@pytest.mark.parametrize(
    ("precision", "past_2gb"),
    [(Precision.FP16, False), (Precision.FP16, True), (Precision.FP32, True)],
    ids=["fp16-fits", "fp16-past-2gb", "fp32-past-2gb"],  # SD 1.5's fp16 UNet fits; SDXL's does not
)
def test_weights_stored_outside_come_out_as_from_an_inline_export(
    tiny, tmp_path, monkeypatch, precision, past_2gb
):
    plain = export_component(tiny, "unet", tmp_path / "plain", precision)
    _exporter_stores_weights_outside(monkeypatch)
    if past_2gb:
        monkeypatch.setattr(onnx_export, "TWO_GB", 1)
    staged = export_component(tiny, "unet", tmp_path / "streamed", precision)
    monkeypatch.undo()
    want = ["unet.onnx", "unet.onnx.data"] if past_2gb else ["unet.onnx"]
    assert sorted(staged) == want and sorted(p.name for p in (tmp_path / "streamed").iterdir()) == want
    expected, got = _weights(plain["unet.onnx"]), _weights(staged["unet.onnx"])
    assert expected.keys() == got.keys()
    for name, array in expected.items():
        assert got[name].dtype == array.dtype and np.array_equal(got[name], array), name
    types = {t.data_type for t in onnx.load(str(staged["unet.onnx"])).graph.initializer}
    assert (TensorProto.FLOAT16 in types) == (precision is Precision.FP16)


def test_written_tensors_start_on_page_boundaries_and_keep_small_ones_inline(tmp_path):
    small = numpy_helper.from_array(np.arange(4, dtype=np.float32), "small")
    large = [numpy_helper.from_array(np.full((300 + i,), i, dtype=np.float32), f"w{i}") for i in range(3)]
    graph = onnx.helper.make_graph([], "g", [], [], initializer=[small, *large])
    model = onnx.helper.make_model(graph)
    written = write_external(model, tmp_path, tmp_path / "m.onnx.data")
    assert written == (tmp_path / "m.onnx.data").stat().st_size
    offsets = []
    for tensor in model.graph.initializer[1:]:
        info = {e.key: e.value for e in tensor.external_data}
        assert tensor.data_location == TensorProto.EXTERNAL and info["location"] == "m.onnx.data"
        offsets.append(int(info["offset"]))
    assert offsets == [0, ALIGNMENT, 2 * ALIGNMENT]
    assert model.graph.initializer[0].raw_data  # 16 bytes: stays in the graph
    onnx.save_model(model, str(tmp_path / "m.onnx"))
    loaded = onnx.load(str(tmp_path / "m.onnx"))
    for tensor, original in zip(loaded.graph.initializer, [small, *large]):
        assert np.array_equal(numpy_helper.to_array(tensor), numpy_helper.to_array(original))


def test_a_truncated_or_escaping_weight_file_is_refused(tmp_path):
    tensor = numpy_helper.from_array(np.ones(1000, dtype=np.float32), "w")
    model = onnx.helper.make_model(onnx.helper.make_graph([], "g", [], [], initializer=[tensor]))
    source = tmp_path / "src"
    source.mkdir()
    write_external(model, source, source / "w.data")
    (source / "w.data").write_bytes((source / "w.data").read_bytes()[:1000])
    with pytest.raises(ValueError, match="holds 1000 of its 4000 bytes"):
        write_external(model, source, tmp_path / "out.data")
    model.graph.initializer[0].external_data[0].value = "../elsewhere.data"
    with pytest.raises(ValueError, match="points outside"):
        write_external(model, source, tmp_path / "out.data")

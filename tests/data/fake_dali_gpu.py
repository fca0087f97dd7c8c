"""DALI's GPU side on a CPU machine: what a `cuda:N` loader asks of DALI is recorded, then run on the CPU.

Decoders asked for `device="mixed"` (host-to-GPU decoding) decode on the CPU, `.gpu()` leaves data where
it is, and a pipeline given `device_id=N` runs with `device_id=None` (CPU only). Everything else is DALI's
own operators, so the batches are real. A regular input that is still on the CPU reaching an operator
placed after the mixed decoder (i.e. on the GPU) is refused, as DALI refuses it.

    seen = fake_dali_gpu.install(monkeypatch); ...; seen["device_id"] == [1]
"""

from __future__ import annotations

import inspect


def install(monkeypatch) -> dict[str, list]:
    import nvidia.dali.fn as fn
    from nvidia.dali import data_node, pipeline

    seen: dict[str, list] = {"device_id": [], "decoders": [], "gpu": []}
    on_gpu: set[int] = set()  # ids of the data nodes that would live on the GPU

    def decoder(real):
        def call(*inputs, device="cpu", **kwargs):
            seen["decoders"].append(device)
            out = real(*inputs, device="cpu", **kwargs)
            if device == "mixed":
                on_gpu.add(id(out))
            return out

        return call

    def gpu(node):
        seen["gpu"].append(node.name)
        on_gpu.add(id(node))
        return node

    def placed(real):
        """An operator fed a GPU node runs on the GPU: its other regular inputs must be there too."""

        def call(*inputs, **kwargs):
            nodes = [x for x in inputs if isinstance(x, data_node.DataNode)]
            if any(id(x) in on_gpu for x in nodes):
                cpu = [x.name for x in nodes if id(x) not in on_gpu]
                if cpu:
                    raise RuntimeError(f"fake DALI: GPU operator given CPU input(s) {cpu}; call .gpu() first")
                out = real(*inputs, **kwargs)
                for node in out if isinstance(out, (list, tuple)) else [out]:
                    on_gpu.add(id(node))
                return out
            return real(*inputs, **kwargs)

        return call

    real_init = pipeline.Pipeline.__init__

    def init(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        seen["device_id"].append(bound.arguments.get("device_id"))
        bound.arguments["device_id"] = None
        real_init(*bound.args, **bound.kwargs)

    signature = inspect.signature(real_init)
    init.__signature__ = signature  # pipeline_def sorts its arguments by the constructor's signature

    for name in ("image", "image_random_crop"):
        monkeypatch.setattr(fn.decoders, name, decoder(getattr(fn.decoders, name)))
    for name in ("resize", "crop_mirror_normalize", "crop", "slice"):
        monkeypatch.setattr(fn, name, placed(getattr(fn, name)))
    monkeypatch.setattr(data_node.DataNode, "gpu", gpu)
    monkeypatch.setattr(pipeline.Pipeline, "__init__", init)
    return seen

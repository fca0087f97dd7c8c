#!/usr/bin/env bash
# One prepared GPU check for the engines (issue 3): parity tests marked `gpu`, then UNet throughput on
# the SD 1.5 architecture per backend. Runs in under 8 minutes on one H200; each section is independent
# and a final table lists what ran, what failed and what could not run (with the reason).
#
#   bash benchmarks/gpu_check.sh            # results also written to ${OUT:-build/gpu-check}/
#
# The GPU machine has torch, onnx, onnxruntime but no diffusers/transformers/TensorRT: wheels placed
# under ./wheels/ (e.g. `pip download diffusers transformers tokenizers safetensors huggingface_hub
# --no-deps -d wheels`) are installed into a private folder first.
set -u
cd "$(dirname "$0")/.."
OUT_DIR="${OUT:-build/gpu-check}"
mkdir -p "$OUT_DIR"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
PY="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
if ls wheels/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --target /tmp/genrobust-site wheels/*.whl \
    && export PYTHONPATH="/tmp/genrobust-site:${PYTHONPATH:-}" \
    || echo "warning: installing ./wheels failed; sections needing them will report why"
fi
export PYTHONPATH=".:${PYTHONPATH:-}"
exec "$PY" benchmarks/gpu_check.py --out "$OUT_DIR" "$@"

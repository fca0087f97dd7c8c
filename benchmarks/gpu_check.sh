#!/usr/bin/env bash
# The GPU check (issues 3, 13, 18): installs the wheels prepared on a CPU machine, then runs each
# section (ONNX Runtime's CUDA provider, prepared TensorRT engines, `pytest -m gpu` on the engines:
# ORT CUDA vs torch over many batches, TensorRT fp16/bf16 builds, jobs with --batch-size 1 and guidance;
# UNet throughput of the SD 1.5 architecture in fp16 and bf16) and prints what each measured.
# Exits non-zero when a required section failed or could not run: a green run tested something.
#
# On the CPU machine, before: python scripts/gpu_wheelhouse.py      (-> build/wheelhouse/, ignored)
# Then carry build/wheelhouse/MANIFEST.json and its pieces (one piece + the tree fit one device call;
# pieces carried by earlier calls stay in build/wheelhouse/ on the warm machine), and run:
#
#   bash benchmarks/gpu_check.sh [--require tensorrt] [--skip SECTION] [--with-compile]
#
# Logs: ${GPU_CHECK_OUT:-build/gpu-check}/NN-section.log and summary.json; under the device tool, also
# $OUT/summary.json and $OUT/gpu-check-logs.tar.gz. It installs into the Python it runs with (a scratch
# machine's): the core wheels with pip (keeping what satisfies the pins), onnxruntime-gpu into a folder
# put first on PYTHONPATH. GPU_CHECK_NO_INSTALL=1 skips installing.
set -u -o pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${GPU_CHECK_OUT:-build/gpu-check}"
WHEELHOUSE="${WHEELHOUSE:-build/wheelhouse}"
SITE="${GPU_CHECK_SITE:-/tmp/genrobust-site}"
PY="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
mkdir -p "$OUT_DIR"
rm -f "$OUT_DIR/install.json"
if [ "${GPU_CHECK_NO_INSTALL:-0}" != 1 ]; then
  "$PY" benchmarks/gpu_check.py install --wheelhouse "$WHEELHOUSE" --site "$SITE" --out "$OUT_DIR"
fi
[ -d "$SITE" ] && export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" benchmarks/gpu_check.py run --out "$OUT_DIR" "$@"

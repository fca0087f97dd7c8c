#!/usr/bin/env bash
# The GPU check (issue 25): one device call of at most 9 minutes carrying the working tree and the few
# wheels the lent GPU image lacks (~24 MiB of the 64 MiB a call may carry). In order, each under its own
# limit and one overall 540 s deadline: install the wheels (offline, --no-deps); the machine (nvidia-smi,
# versions, measured bf16 matmul peak); GPU tests of the torch backend (fp16/bf16 vs fp32); DeepSpeed on
# NCCL (1 rank via torchrun, 2 steps); `bench unet` on sd15-arch in bf16 and fp16; tiny and sd15-arch
# generation on the torch CUDA backend vs diffusers. TensorRT cannot be had there (one line says so).
#
# Here, first:   python scripts/gpu_wheelhouse.py        (-> build/wheelhouse/, ignored)
#                bash benchmarks/gpu_check.sh --plan     (bytes carried, section budgets; exit 1 if over)
# There:         bash benchmarks/gpu_check.sh [--skip SECTION]    (device call: carry build/wheelhouse)
#
# Logs: ${GPU_CHECK_OUT:-build/gpu-check}/NN-section.log and summary.json, rewritten after every section;
# under the device tool also $OUT/summary.json and $OUT/gpu-check-logs.tar.gz. Exit 1 when a section
# failed or was skipped for lack of time.
set -u -o pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
if [ "${1:-}" = --plan ]; then
  shift
  exec "$PY" benchmarks/gpu_check.py plan "$@"
fi
exec "$PY" benchmarks/gpu_check.py run --out "${GPU_CHECK_OUT:-build/gpu-check}" "$@"

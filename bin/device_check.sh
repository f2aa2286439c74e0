#!/usr/bin/env bash
# One command for a machine with a GPU (it runs on a CPU too): install, test, benchmark, train.
#
#   bin/device_check.sh OUT [--tiny] [--skip-install] [--wheels=DIR] [--long-minutes=N]
#
# Writes everything under OUT:
#   machine.txt        nvidia-smi (where there is one), CPU, Python, TensorFlow and its devices
#   install.log        pip's output (GPU machines: TensorFlow with its CUDA wheels)
#   tests.log          the suite's fast tests (--tiny: the bound's tests only)
#   benchmark.json/.md bin/benchmark.py: ADGM and SDGM, 444 and 784 inputs, 1 and 10 samples,
#                      float32 and mixed bfloat16, without and with XLA; the matmul rate
#   epoch/             bin/train.py: one real MNIST-100 epoch (mnist_adgm), its metrics.json
#   long/              bin/train.py: the 10-sample ADGM of the authors' log settings
#                      (mnist_adgm_authors_log), for --long-minutes, checkpointed every epoch:
#                      the same command with the same OUT resumes it, here or on any machine
#   summary.txt        one line per step: what ran, its exit status and wall time
#
# --tiny: a case small enough for CI on a CPU (the half-moons, tiny networks, seconds).
# --skip-install: use the Python environment as it is. --wheels=DIR: install from wheels in
# DIR, with no index (a machine that reaches no package registry).
# MNIST reads the original files from $ADGM_TF_DATA_DIR (README, BUILD.md).
set -uo pipefail
cd "$(dirname "$0")/.."

OUT=""; TINY=0; INSTALL=1; WHEELS=""; LONG_MINUTES=5
for arg in "$@"; do
  case "$arg" in
    --tiny) TINY=1 ;;
    --skip-install) INSTALL=0 ;;
    --wheels=*) WHEELS="${arg#--wheels=}" ;;
    --long-minutes=*) LONG_MINUTES="${arg#--long-minutes=}" ;;
    -*) echo "device_check.sh: unknown option $arg" >&2; exit 2 ;;
    *) [ -z "$OUT" ] && OUT="$arg" || { echo "device_check.sh: one OUT folder, got $arg too" >&2; exit 2; } ;;
  esac
done
if [ -z "$OUT" ]; then
  echo "usage: bin/device_check.sh OUT [--tiny] [--skip-install] [--wheels=DIR] [--long-minutes=N]" >&2
  exit 2
fi
if ! [[ "$LONG_MINUTES" =~ ^[0-9]+([.][0-9]+)?$ ]]; then
  echo "device_check.sh: --long-minutes must be a number of minutes, got $LONG_MINUTES" >&2
  exit 2
fi
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
PY="${PYTHON:-python3}"
export PYTHONUNBUFFERED=1
FAILED=0

# step NAME LOG COMMAND...: runs COMMAND with its output in LOG, one line in summary.txt.
step() {
  local name="$1" log="$2"; shift 2
  local start=$SECONDS
  "$@" > "$log" 2>&1
  local rc=$?
  [ $rc -eq 0 ] || FAILED=1
  printf '%-10s rc=%-3s %5ss  %s\n' "$name" "$rc" "$((SECONDS - start))" "$*" | tee -a "$SUMMARY"
  return $rc
}

GPU=0
command -v nvidia-smi > /dev/null 2>&1 && nvidia-smi -L > /dev/null 2>&1 && GPU=1

install() {
  local tf_pin
  tf_pin="$(grep -E '^tensorflow==' requirements.txt)"
  if [ -n "$WHEELS" ]; then
    "$PY" -m pip install --no-index --find-links "$WHEELS" -r requirements.txt || return
  else
    "$PY" -m pip install -r requirements.txt || return
  fi
  if [ $GPU -eq 1 ] && [ -z "$WHEELS" ]; then  # TensorFlow's CUDA libraries, from PyPI
    "$PY" -m pip install "${tf_pin/tensorflow==/tensorflow[and-cuda]==}"
  fi
}

machine() {
  [ $GPU -eq 1 ] && nvidia-smi
  grep -m1 'model name' /proc/cpuinfo
  nproc
  "$PY" - <<'EOF'
import sys
import tensorflow as tf
print("python", sys.version.split()[0], "tensorflow", tf.__version__)
print("built with CUDA:", tf.test.is_built_with_cuda())
print("devices:", [d.name for d in tf.config.list_physical_devices()])
EOF
}

if [ $INSTALL -eq 1 ]; then
  step install "$OUT/install.log" install || { echo "install failed: $OUT/install.log" >&2; exit 1; }
fi
step machine "$OUT/machine.txt" machine

if [ $TINY -eq 1 ]; then
  TESTS=(tests/test_bounds.py)
  BENCH=(--models=sdgm --input_dims=12 --num_samples=2 --dtype_policies=float32 --xla=true
         --steps=2 --warmup_steps=1 --num_unlabeled=200 --peak_size=0 --profile_steps=0
         "--config.hidden_sizes=(8, 8)" --config.a_dim=3 --config.z_dim=2)
  EPOCH=(--config=adgm_tf/configs/moons.py --config.num_epochs=1 --config.data.num_train=300
         --config.data.num_test=100 --config.num_samples=1 --config.kl_warmup_epochs=0)
  LONG=(--config=adgm_tf/configs/moons.py --config.num_epochs=2 --config.data.num_train=200
        --config.data.num_test=100 --config.num_samples=10 --config.kl_warmup_epochs=0)
else
  TESTS=(tests/test_bounds.py tests/test_models.py tests/test_networks.py tests/test_fused.py
         tests/test_optimizers.py tests/test_input_pipeline.py tests/test_serving.py)
  BENCH=(--models=adgm,sdgm --input_dims=444,784 --num_samples=1,10
         --dtype_policies=float32,mixed_bfloat16 --xla=false,true --steps=40 --warmup_steps=10
         --profile_steps=0)
  EPOCH=(--config=adgm_tf/configs/mnist_adgm.py --config.num_epochs=1)
  LONG=(--config=adgm_tf/configs/mnist_adgm_authors_log.py --config.eval_every_epochs=5)
fi

step tests "$OUT/tests.log" "$PY" -m pytest -q -p no:cacheprovider "${TESTS[@]}"
step benchmark "$OUT/benchmark.md" "$PY" bin/benchmark.py --workdir="$OUT" "${BENCH[@]}"
step epoch "$OUT/epoch.log" "$PY" bin/train.py --workdir="$OUT/epoch" "${EPOCH[@]}" \
  --config.progress_bar=False
# As many epochs as fit in --long-minutes; a run stopped mid-epoch keeps every finished one.
LONG_S=$("$PY" -c "print(int(float('$LONG_MINUTES') * 60))")
if [ "$LONG_S" -gt 0 ]; then
  before=$FAILED
  step long "$OUT/long.log" timeout --signal=TERM "$LONG_S" "$PY" bin/train.py \
    --workdir="$OUT/long" "${LONG[@]}" --config.progress_bar=False
  if [ $? -eq 124 ]; then  # the time was up: expected, the run resumes from its checkpoint
    FAILED=$before
    sed -i '$ s/rc=124/rc=124 (time up; rerun to resume)/' "$SUMMARY"
  fi
  [ -f "$OUT/long/history.csv" ] && cp "$OUT/long/history.csv" "$OUT/long_history.csv"
fi
echo "device_check.sh: everything is in $OUT (summary.txt)"
exit $FAILED

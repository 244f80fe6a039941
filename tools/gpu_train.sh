#!/bin/bash
# Train the whole model family on a lent GPU machine in one call, within a wall-clock budget.
#
# The GPU machine has PyTorch but none of the Debian corpora, so pack them here first:
#   /usr/bin/python3 tools/train_family.py --pack-corpora .gpu-train/corpora.pkl.gz
# then run this script there with .gpu-train carried (the device tool's `run`):
#   export OUT; bash tools/gpu_train.sh [BUDGET_SECONDS]       (default 420)
# (the device tool sends the working tree, at most 64 MiB: move examples/models/ and
# train-state/*.safetensors out of the checkout while the call runs; this script needs neither)
# and bring the models home (on this machine, from the folder the files came back to):
#   bash tools/gpu_train.sh --install FOLDER
# which puts each model's weights and train_info.json in examples/models/<name>/ and runs
# train_family.py --resume on the CPU to write fixtures, evaluations, model cards and data.
#
# How the budget is spent: a 30-step benchmark measures seconds per step on this GPU, then the
# steps of every stage are set so that the whole run fits: base gets half the budget, the five
# fine-tunes share the other half (ft-recall's rows are about twice as long: half its steps).
# Only weights and train_info.json come back (the device returns at most 8 files of 16 MiB).
set -euo pipefail
cd "$(dirname "$0")/.."
MODELS="base ft-code ft-scripture lora-scripture frozen-code ft-recall"

if [ "${1:-}" = "--install" ]; then
    from=${2:?usage: gpu_train.sh --install FOLDER}
    mkdir -p /tmp/gpu_train_info && tar -xzf "$from/info.tgz" -C /tmp/gpu_train_info
    for m in $MODELS; do
        mkdir -p "examples/models/$m"
        cp "$from/$m.safetensors" "examples/models/$m/model.safetensors"
        cp "/tmp/gpu_train_info/$m/train_info.json" "examples/models/$m/train_info.json"
    done
    mkdir -p bench/training && cp "$from/train.log" bench/training/gpu_train.log
    exec /usr/bin/python3 tools/train_family.py --resume --state-dir '' $(cat /tmp/gpu_train_info/args)
fi

budget=${1:-420}
out=${OUT:-/tmp/gpu_train_out}
mkdir -p "$out"
pack=.gpu-train/corpora.pkl.gz
[ -f "$pack" ] || { echo "missing $pack: pack the corpora first (see the header)"; exit 2; }
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
${PYTHON:-python3} -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'

batch=${BATCH:-64}
# DEVICE=cpu BATCH=2 EXTRA="--eval-windows 4" rehearses the whole flow on this machine
common="--corpora $pack --device ${DEVICE:-cuda} --batch $batch --bf16 ${EXTRA:-} --state-dir /tmp/gpu_state --out /tmp/family --data-out /tmp/family_data"
${PYTHON:-python3} tools/train_family.py $common --bench ${BENCH_STEPS:-30} --log "$out/train.log"
per_step=$(sed -n 's/.*BENCH batch [0-9]*: \([0-9.]*\) s\/step.*/\1/p' "$out/train.log" | tail -1)
read -r base_steps ft_steps recall_steps < <(${PYTHON:-python3} - "$budget" "$per_step" <<'EOF'
import sys
budget, per = float(sys.argv[1]), float(sys.argv[2])
usable = 0.8 * budget          # evaluation, fixtures and start-up take the rest
base = max(2, int(0.5 * usable / per))
ft = max(2, int(0.5 * usable / per / 6))  # four fine-tunes of one share each, ft-recall two
print(base, ft, ft)
EOF
)
args="--batch $batch --base-steps $base_steps --ft-steps $ft_steps --recall-steps $recall_steps --ft-lr 1e-3 --recall-lr 1e-3"
echo "$args" | tee "$out/args"
${PYTHON:-python3} tools/train_family.py $common $args --log "$out/train.log"
for m in $MODELS; do cp "/tmp/family/$m/model.safetensors" "$out/$m.safetensors"; done
mkdir -p /tmp/info && for m in $MODELS; do mkdir -p /tmp/info/$m; cp /tmp/family/$m/train_info.json /tmp/info/$m/; done
cp "$out/args" /tmp/info/args
tar -czf "$out/info.tgz" -C /tmp/info .
rm -f "$out/args"
ls -la "$out"

#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 The droidspeak authors
# SPDX-License-Identifier: Apache-2.0
# The bandwidth-aware plan choice, shown: where plan::select_fastest_plan changes plan as the
# link narrows, and measured confirmation over a real link.
# 1. The cost model's choice (`run --sweep-bandwidth`, this receiver's calibration) among the
#    plans the file profiled within its quality threshold, at links from 0.02 to 25 Gbit/s.
# 2. At each of GBITS, `droidspeak serve` (the sender) and `droidspeak run --remote` (the
#    receiver) in two network namespaces made here, joined by a veth pair that tc (tbf) limits
#    to that rate; UCX over TCP. The receiver measures the link (`--link-rounds`), chooses the
#    plan for the measured link and times it against its own full prefill in interleaved
#    pairs; then full reuse (`--use-plan none`) is timed the same way against the full
#    prefill, over the same link. The chosen plan is confirmed where its time to first token
#    (and partial / full) is below full reuse's.
# Needs root, ip and tc for part 2 (exit 77 otherwise, after part 1).
#
# Usage: bench/transfer/plan_choice_link_bench.sh BUILD_DIR [PAIRS] [GBITS...]
#   e.g. bench/transfer/plan_choice_link_bench.sh build 2 0.1 0.4
# The bundled pair base -> ft-code (examples/models) and a code context of about 1500 tokens
# from examples/data; the plan file is profiled first (4 samples, granularity 2).
set -uo pipefail

build=${1:?usage: plan_choice_link_bench.sh BUILD_DIR [PAIRS] [GBITS...]}
pairs=${2:-2}
shift $(($# >= 2 ? 2 : 1))
gbits=("$@")
((${#gbits[@]} == 0)) && gbits=(0.1 0.4)
src=$(cd "$(dirname "$0")/../.." && pwd)
tool=$build/examples/droidspeak
models=$src/examples/models
[[ -x $tool ]] || { echo "no $tool: build droidspeak_tool first" >&2; exit 1; }
[[ -f $models/base/model.safetensors ]] || { echo "no bundled models in $models" >&2; exit 1; }
command -v python3 >/dev/null || { echo "SKIPPED: no python3"; exit 77; }

source "$(dirname "${BASH_SOURCE[0]}")/../../tools/netns_link.sh"
work=$(mktemp -d /tmp/plan-choice-bench.XXXXXX)
link=dpc$$  # the netns link (tools/netns_link.sh): namespaces $link-s, $link-r
serve_pid=
cleanup() {
  [[ -n $serve_pid ]] && kill -KILL "$serve_pid" 2>/dev/null
  netns_link_remove "$link"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The context: held-out code contexts, concatenated, cut to 1500 bytes; a 24-byte prompt.
python3 - "$src/examples/data/code_heldout.jsonl" "$work" <<'PY'
import json, sys
text = "".join(json.loads(l)["context"] for l in open(sys.argv[1]) if l.strip())
while len(text) < 1500: text += text
open(sys.argv[2] + "/context.txt", "w").write(text[:1500])
open(sys.argv[2] + "/prompt.txt", "w").write("def main():\n    return ")
PY
timeout 600 "$tool" profile --sender "$models/base" --receiver "$models/ft-code" \
  --samples "$src/examples/data/code_profile.jsonl" --out "$work/plan.json" --granularity 2 --max-samples 4 \
  >"$work/profile.out" 2>&1 || { cat "$work/profile.out"; exit 1; }
grep "selected plan" "$work/profile.out"
pair=(--plan "$work/plan.json" --sender "$models/base" --receiver "$models/ft-code" --context "$work/context.txt"
  --prompt "$work/prompt.txt")

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
# 1. The cost model's choice, 0.02 to 25 Gbit/s (the list is in GB/s).
sweep=0.0025,0.005,0.00625,0.01,0.0125,0.01875,0.025,0.0375,0.05,0.0625,0.125,1.25,3.125
timeout 600 "$tool" run "${pair[@]}" --sweep-bandwidth "$sweep" >"$work/sweep.out" 2>&1 ||
  { cat "$work/sweep.out"; exit 1; }
cat "$work/sweep.out"

# 2. Measured, over a tc-limited veth.
((EUID == 0)) || { echo "SKIPPED (part 2): network namespaces need root"; exit 77; }
command -v tc >/dev/null && command -v ip >/dev/null || { echo "SKIPPED (part 2): no ip or tc"; exit 77; }
netns_link_create "$link" 10.97.0 || { echo "SKIPPED: cannot make the veth pair"; exit 77; }
ns_s=$link-s ns_r=$link-r
netns_link_no_slow_start_restart "$link" || exit 1
export UCX_TLS=tcp  # shared memory would bypass the veth and its limit

for gbit in "${gbits[@]}"; do
  # burst: 4 ms at the rate, at least 32 kB (a larger bucket would carry a visible share of a
  # few megabytes for free).
  burst=$(awk "BEGIN{b = $gbit * 1e9 / 8 * 0.004; if (b < 32768) b = 32768; printf \"%d\", b}")
  netns_link_limit "$link" "$gbit" "$burst" 50ms || { echo "SKIPPED: tc cannot limit the veth"; exit 77; }
  rm -f "$work/port"
  ip netns exec "$ns_s" "$tool" serve --sender "$models/base" --context "$work/context.txt" \
    --listen 10.97.0.1:0 --transports tcp --port-file "$work/port" --idle-timeout 120 >"$work/serve.out" 2>&1 &
  serve_pid=$!
  for _ in $(seq 600); do [[ -s $work/port ]] && break; sleep 0.1; done
  [[ -s $work/port ]] || { cat "$work/serve.out"; exit 1; }
  echo "== ${gbit} Gbit/s (tbf on both ends of the veth, burst $burst bytes)"
  for what in chosen none; do
    use=()
    [[ $what == none ]] && use=(--use-plan none)
    timeout 600 ip netns exec "$ns_r" "$tool" run "${pair[@]}" "${use[@]}" \
      --remote "10.97.0.1:$(cat "$work/port")" --transports tcp --bandwidth "$(awk "BEGIN{print $gbit / 8}")" \
      --link-rounds 2 --remote-timeout 30 --pairs "$pairs" --tokens 1 --no-guard --timeline "$work/timeline.svg" \
      >"$work/run.out" 2>&1 || { cat "$work/run.out"; exit 1; }
    echo "-- ${what}:"
    grep -E "^link|^plan|FELL BACK|time to first token|receiver full prefill|partial / full" "$work/run.out"
  done
  kill -TERM "$serve_pid"
  wait "$serve_pid"
  serve_pid=
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

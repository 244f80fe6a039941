#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 The droidspeak authors
# SPDX-License-Identifier: Apache-2.0
# The cost model's predicted time to first token against the measured one over a real link:
# `droidspeak serve` (the sender) and `droidspeak run --remote` (the receiver) in two network
# namespaces made here, joined by a veth pair that tc (tbf) limits to each bandwidth in turn;
# UCX over TCP. Per bandwidth the receiver times its pipelined partial prefill (the plan the
# file selected, E and KV fetched from the sender while it recomputes) against its own full
# prefill in interleaved pairs, and prints both times, the cost model's prediction and the load
# average. Before choosing and timing, the receiver measures the link through the same UCX path
# (`run --link-rounds`: chunks of both of the schedule's sizes, each timed, latency + bandwidth
# fitted); the prediction uses that measured link, and the one told the tc rate is printed
# beside it. Needs root, ip and tc (exit 77 otherwise).
#
# Usage: bench/transfer/serve_link_bench.sh BUILD_DIR [PAIRS] [GBITS...]
#   e.g. bench/transfer/serve_link_bench.sh build 4 1 10 25
# The bundled pair base -> ft-code (examples/models) and a code context of about 1500 tokens
# from examples/data; the plan is profiled first (4 samples, granularity 2).
set -uo pipefail

build=${1:?usage: serve_link_bench.sh BUILD_DIR [PAIRS] [GBITS...]}
pairs=${2:-6}
shift $(($# >= 2 ? 2 : 1))
gbits=("$@")
((${#gbits[@]} == 0)) && gbits=(1 10 25)
src=$(cd "$(dirname "$0")/../.." && pwd)
tool=$build/examples/droidspeak
models=$src/examples/models
[[ -x $tool ]] || { echo "no $tool: build droidspeak_tool first" >&2; exit 1; }
[[ -f $models/base/model.safetensors ]] || { echo "no bundled models in $models" >&2; exit 1; }
((EUID == 0)) || { echo "SKIPPED: network namespaces need root"; exit 77; }
for c in ip tc python3; do command -v "$c" >/dev/null || { echo "SKIPPED: no $c"; exit 77; }; done

source "$(dirname "${BASH_SOURCE[0]}")/../../tools/netns_link.sh"
work=$(mktemp -d /tmp/serve-link-bench.XXXXXX)
link=dsb$$  # the netns link (tools/netns_link.sh): namespaces $link-s, $link-r
serve_pid=
cleanup() {
  [[ -n $serve_pid ]] && kill -KILL "$serve_pid" 2>/dev/null
  netns_link_remove "$link"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The context: held-out code contexts, concatenated, cut to 1500 bytes; a 24-byte prompt.
python3 - "$src/examples/data/code_heldout.jsonl" "$work" <<'EOF'
import json, sys
text = "".join(json.loads(l)["context"] for l in open(sys.argv[1]) if l.strip())
while len(text) < 1500: text += text
open(sys.argv[2] + "/context.txt", "w").write(text[:1500])
open(sys.argv[2] + "/prompt.txt", "w").write("def main():\n    return ")
EOF
timeout 600 "$tool" profile --sender "$models/base" --receiver "$models/ft-code" \
  --samples "$src/examples/data/code_profile.jsonl" --out "$work/plan.json" --granularity 2 --max-samples 4 \
  >"$work/profile.out" 2>&1 || { cat "$work/profile.out"; exit 1; }
grep "selected plan" "$work/profile.out"

netns_link_create "$link" 10.98.0 || { echo "SKIPPED: cannot make the veth pair"; exit 77; }
ns_s=$link-s ns_r=$link-r
netns_link_no_slow_start_restart "$link" || exit 1
export UCX_TLS=tcp  # shared memory would bypass the veth and its limit

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for gbit in "${gbits[@]}"; do
  burst=$((gbit * 250))kb  # 2 ms at the rate, at least 1 MB
  ((gbit < 4)) && burst=1mb
  netns_link_limit "$link" "$gbit" "$burst" 20ms || { echo "SKIPPED: tc cannot limit the veth"; exit 77; }
  rm -f "$work/port"
  ip netns exec "$ns_s" "$tool" serve --sender "$models/base" --context "$work/context.txt" \
    --listen 10.98.0.1:0 --transports tcp --port-file "$work/port" --idle-timeout 120 >"$work/serve.out" 2>&1 &
  serve_pid=$!
  for _ in $(seq 600); do [[ -s $work/port ]] && break; sleep 0.1; done
  [[ -s $work/port ]] || { cat "$work/serve.out"; exit 1; }
  timeout 600 ip netns exec "$ns_r" "$tool" run --plan "$work/plan.json" --sender "$models/base" \
    --receiver "$models/ft-code" --context "$work/context.txt" --prompt "$work/prompt.txt" --use-plan selected \
    --remote "10.98.0.1:$(cat "$work/port")" --transports tcp --bandwidth "$(awk "BEGIN{print $gbit / 8}")" \
    --pairs "$pairs" --tokens 1 --no-guard --timeline "$work/timeline.svg" >"$work/run.out" 2>&1 ||
    { cat "$work/run.out"; exit 1; }
  kill -TERM "$serve_pid"
  wait "$serve_pid"
  serve_pid=
  echo "== ${gbit} Gbit/s (tbf on both ends of the veth; nominal $(awk "BEGIN{print $gbit / 8}") GB/s)"
  grep -E "^context|^link|^plan|FELL BACK|KV transfer|E transfer|KV adoption|recompute \(|prompt through|time to first token|receiver full prefill|partial / full" "$work/run.out"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

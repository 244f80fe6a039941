#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 The droidspeak authors
# SPDX-License-Identifier: Apache-2.0
# `droidspeak serve` (the sender) and `droidspeak run --remote` (the receiver) as two
# processes, one case per call:
#   serve_test.sh CASE TOOL FIXTURE WORK [MALFORMED_CLIENT]
#   loopback  a healthy remote run over 127.0.0.1 gives bit for bit the local run's result
#             (first-token logits and continuation); the sender stops after --max-requests
#   killed    the sender SIGKILLs itself mid-stream: the receiver falls back to its full
#             prefill (its logits are those of the full-recompute plan), saying why
#   faults    a context the sender lacks, a cache of another model, a malformed request, no
#             sender at the address, a corrupt chunk, a withheld chunk (timeout): each falls
#             back (or is refused) with its reason, and the sender stays up and shuts down
#             cleanly on SIGTERM
#   netns     the sender and the receiver in two network namespaces made here, joined by a
#             veth pair limited by tc (tbf) to 1, 10 and 25 Gbit/s; UCX over TCP. Needs root,
#             ip and tc: without them the case exits 77 (SKIPPED).
# FIXTURE is the cli test models' directory (base/, tuned/, context.txt, prompt.txt,
# samples.jsonl); WORK a fresh directory for this case. Every wait is bounded; everything
# started or created here is stopped or removed on exit, failure included.
set -uo pipefail

case_=$1 tool=$2 fx=$3 work=$4 client=${5:-}
if [[ $case_ == netns ]]; then
  if ((EUID != 0)); then echo "SKIPPED: network namespaces need root"; exit 77; fi
  for c in ip tc; do
    command -v "$c" >/dev/null || { echo "SKIPPED: no $c (iproute2: tools/setup.sh)"; exit 77; }
  done
fi
rm -rf "$work" && mkdir -p "$work" || exit 1
source "$(dirname "${BASH_SOURCE[0]}")/../../tools/netns_link.sh" || exit 1
pids=()
link=  # the netns link's prefix, once made
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  [[ -n $link ]] && netns_link_remove "$link"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "FAILED: $*" >&2
  for f in "$work"/*.out; do
    [[ -f $f ]] && { echo "--- $f" >&2; cat "$f" >&2; }
  done
  exit 1
}

# The plan file, profiled without pruning so that every contiguous plan is in its grid; the
# remote runs use plan 3-4: E entering layer 3 and the KV of layers 0-2 and 5 cross the link.
plan=$work/plan.json
timeout 120 "$tool" profile --sender "$fx/base" --receiver "$fx/tuned" --samples "$fx/samples.jsonl" \
  --out "$plan" --granularity 1 --measure kl --threshold 1 --no-prune --max-samples 2 >"$work/profile.out" 2>&1 ||
  fail "profile"
use_plan=3-4
pair=(--sender "$fx/base" --receiver "$fx/tuned")

# run_receiver NAME ARGS...: `droidspeak run` into NAME.out (bounded by `timeout`).
run_receiver() {
  local name=$1
  shift
  timeout 120 "${netns_prefix[@]}" "$tool" run --plan "$plan" "${pair[@]}" --context "$fx/context.txt" \
    --prompt "$fx/prompt.txt" --tokens 8 --pairs 1 --timeline "$work/$name.svg" "$@" >"$work/$name.out" 2>&1
}
netns_prefix=()

# line FILE PATTERN: the first line of FILE matching PATTERN.
line() { grep -m1 -E "$2" "$1"; }

# start_serve NAME ARGS...: `droidspeak serve` in the background (in "${serve_prefix[@]}"),
# its port file NAME.port waited for (at most 30 s); sets serve_pid and port.
serve_prefix=()
start_serve() {
  local name=$1 i
  shift
  rm -f "$work/$name.port"
  "${serve_prefix[@]}" "$tool" serve --port-file "$work/$name.port" --send-timeout 2 --idle-timeout 120 "$@" \
    >"$work/$name.out" 2>&1 &
  serve_pid=$!
  pids+=("$serve_pid")
  for i in $(seq 300); do
    [[ -s $work/$name.port ]] && break
    kill -0 "$serve_pid" 2>/dev/null || fail "serve $name exited before listening"
    sleep 0.1
  done
  [[ -s $work/$name.port ]] || fail "serve $name did not listen within 30 s"
  port=$(cat "$work/$name.port")
}

# wait_exit PID SECONDS: waits for PID to end (at most SECONDS) and sets exit_code.
wait_exit() {
  local pid=$1 i
  for i in $(seq $((10 * $2))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && fail "process $pid still running after $2 s"
  wait "$pid"
  exit_code=$?
}

# stop_serve NAME: SIGTERM, then a clean exit within the drain bound.
stop_serve() {
  kill -0 "$serve_pid" 2>/dev/null || fail "serve $1 is not up any more"
  kill -TERM "$serve_pid"
  wait_exit "$serve_pid" 10
  [[ $exit_code == 0 ]] || fail "serve $1 exited with $exit_code after SIGTERM"
  grep -q "stopping: signal SIGTERM" "$work/$1.out" || fail "serve $1 did not report its shutdown"
}

# expect_fallback NAME REASON: the receiver ran, fell back saying REASON (a regex), and its
# logits are those of its own full prefill.
expect_fallback() {
  local got
  [[ -f $work/$1.out ]] || fail "$1: no output"
  got=$(line "$work/$1.out" "remote: FELL BACK to the receiver's full prefill: ") || fail "$1 did not fall back"
  [[ $got =~ $2 ]] || fail "$1 fell back for another reason than /$2/: $got"
  [[ "$(line "$work/$1.out" '^first-token logits')" == "$full_logits" ]] ||
    fail "$1: the fallback's logits differ from the receiver's full prefill"
  echo "$1: $got"
}

# The local references: the plan's result, and the receiver's own full prefill ("all").
local_reference() {
  run_receiver local --use-plan "$use_plan" || fail "local run"
  plan_logits=$(line "$work/local.out" '^first-token logits') || fail "local run printed no logits"
  plan_tokens=$(line "$work/local.out" 'with the plan: ')
  run_receiver local-full --use-plan all || fail "local full-recompute run"
  full_logits=$(line "$work/local-full.out" '^first-token logits')
}

# expect_same NAME: the remote run NAME succeeded and matches the local one bit for bit.
expect_same() {
  grep -q "remote: the sender's caches arrived intact over UCX" "$work/$1.out" || fail "$1: the caches did not arrive"
  grep -q "FELL BACK" "$work/$1.out" && fail "$1 fell back"
  [[ "$(line "$work/$1.out" '^first-token logits')" == "$plan_logits" ]] || fail "$1: logits differ from the local run"
  [[ "$(line "$work/$1.out" 'with the plan: ')" == "$plan_tokens" ]] || fail "$1: continuation differs from the local run"
  echo "$1: $plan_logits, as the local run"
}

case $case_ in
  loopback)
    local_reference
    # --pairs 1: a warm-up pair, a measured pair and the continuation's run: 3 requests (the
    # link not measured first: --link-rounds 0).
    start_serve sender --sender "$fx/base" --context "$fx/context.txt" --max-requests 3
    run_receiver remote --use-plan "$use_plan" --remote "127.0.0.1:$port" --link-rounds 0 || fail "remote run"
    expect_same remote
    wait_exit "$serve_pid" 20
    [[ $exit_code == 0 ]] || fail "serve exited with $exit_code"
    grep -q "stopping: answered 3 requests (--max-requests)" "$work/sender.out" || fail "serve did not stop after 3 requests"
    grep -q "served 3 requests (0 misses, 0 malformed)" "$work/sender.out" || fail "serve's summary"
    # The link measured first (a warm-up round and 2 measured ones: 3 requests more): the
    # result is the same bit for bit, and the measured link is printed beside the nominal one.
    start_serve calibrated-sender --sender "$fx/base" --context "$fx/context.txt" --max-requests 6
    run_receiver calibrated --use-plan "$use_plan" --remote "127.0.0.1:$port" --link-rounds 2 --bandwidth 1 ||
      fail "remote run with the link measured"
    expect_same calibrated
    grep -qE "^link: nominal 1 GB/s \(--bandwidth\); measured [0-9.e+-]+ GB/s \+ [0-9.e+-]+ ms per chunk \(fit over 12 chunks of 2 rounds\)" \
      "$work/calibrated.out" || fail "the measured link was not reported: $(grep '^link' "$work/calibrated.out")"
    grep -q "time to first token, nominal link" "$work/calibrated.out" || fail "no prediction for the nominal link"
    wait_exit "$serve_pid" 20
    [[ $exit_code == 0 ]] || fail "serve calibrated exited with $exit_code"
    grep -q "served 6 requests (0 misses, 0 malformed)" "$work/calibrated-sender.out" || fail "serve calibrated's summary"
    ;;

  killed)
    local_reference
    start_serve sender --sender "$fx/base" --context "$fx/context.txt" --fault kill-after:2
    run_receiver remote --use-plan "$use_plan" --remote "127.0.0.1:$port" --remote-timeout 3 ||
      fail "the receiver did not survive the sender's death"
    expect_fallback remote "ucx receiver: .*(fail|time|Time|disconnect|died|reset|unreachable|refused|[Ee]rror)"
    wait_exit "$serve_pid" 10
    [[ $exit_code == 137 ]] || fail "the sender was to die of SIGKILL, exit code $exit_code"
    ;;

  faults)
    [[ -x $client ]] || fail "no malformed-request client"
    local_reference
    # A sender of another model (tuned) holding the context.
    start_serve other --sender "$fx/tuned" --context "$fx/context.txt"
    other_pid=$serve_pid other_port=$port
    timeout 120 "$tool" run --plan "$plan" "${pair[@]}" --context "$fx/prompt.txt" --prompt "$fx/prompt.txt" \
      --tokens 8 --pairs 1 --timeline "$work/absent.svg" --use-plan "$use_plan" --remote "127.0.0.1:$port" \
      >"$work/absent.out" 2>&1 || fail "absent run"
    grep -qE "FELL BACK to the receiver.s full prefill: .*full prefill: absent" "$work/absent.out" ||
      fail "a context the sender lacks: $(cat "$work/absent.out")"
    run_receiver mismatch --use-plan "$use_plan" --remote "127.0.0.1:$port" || fail "fingerprint run"
    expect_fallback mismatch "full prefill: fingerprint mismatch"
    timeout 30 "$client" 127.0.0.1 "$port" >"$work/malformed.out" 2>&1 || fail "malformed request: $(cat "$work/malformed.out")"
    cat "$work/malformed.out"
    serve_pid=$other_pid port=$other_port
    stop_serve other
    grep -q "served 3 requests (2 misses, 1 malformed)" "$work/other.out" || fail "serve other's summary"

    # No sender at the address (port 1 on loopback refuses): the same fallback.
    run_receiver nobody --use-plan "$use_plan" --remote 127.0.0.1:1 --remote-timeout 2 || fail "run with no sender"
    expect_fallback nobody "ucx"

    # Every chunk corrupted on the way: the checksum catches it, twice (the sender stays up).
    start_serve corrupt --sender "$fx/base" --context "$fx/context.txt" --fault corrupt
    for i in 1 2; do
      run_receiver corrupt$i --use-plan "$use_plan" --remote "127.0.0.1:$port" || fail "corrupt run $i"
      expect_fallback corrupt$i "checksum mismatch"
    done
    stop_serve corrupt

    # No chunk sent: the receiver's wait times out.
    start_serve withhold --sender "$fx/base" --context "$fx/context.txt" --fault withhold
    run_receiver withheld --use-plan "$use_plan" --remote "127.0.0.1:$port" --remote-timeout 1 || fail "withheld run"
    expect_fallback withheld "timed out"
    stop_serve withhold
    ;;

  netns)
    link=ds$$
    netns_link_create "$link" 10.99.0 2>"$work/ip.out" || { echo "SKIPPED: $(cat "$work/ip.out")"; exit 77; }
    ns_s=$link-s ns_r=$link-r veth_s=${link}s
    local_reference
    # UCX over TCP only: shared memory would bypass the veth (and its limit) between two
    # processes of one host.
    export UCX_TLS=tcp
    serve_prefix=(ip netns exec "$ns_s")
    netns_prefix=(ip netns exec "$ns_r")
    for gbit in 1 10 25; do
      # tbf on both ends; burst: 2 ms at the rate, at least 1 MB.
      burst=$((gbit * 250))kb
      ((gbit == 1)) && burst=1mb
      netns_link_limit "$link" "$gbit" "$burst" 20ms 2>"$work/tc.out" || {
        grep -q "tc cannot" "$work/tc.out" && { echo "SKIPPED: $(cat "$work/tc.out")"; exit 77; }
        fail "$(cat "$work/tc.out")"
      }
      sent_before=$(tc -s -n "$ns_s" qdisc show dev "$veth_s" | grep -m1 -oE 'Sent [0-9]+' | grep -oE '[0-9]+')
      start_serve sender$gbit --sender "$fx/base" --context "$fx/context.txt" --listen 10.99.0.1:0 \
        --transports tcp --max-requests 3
      run_receiver remote$gbit --use-plan "$use_plan" --remote "10.99.0.1:$port" --transports tcp --link-rounds 0 \
        --bandwidth "$(awk "BEGIN{print $gbit / 8}")" || fail "remote run at $gbit Gbit/s"
      expect_same remote$gbit
      wait_exit "$serve_pid" 20
      [[ $exit_code == 0 ]] || fail "serve at $gbit Gbit/s exited with $exit_code"
      sent_after=$(tc -s -n "$ns_s" qdisc show dev "$veth_s" | grep -m1 -oE 'Sent [0-9]+' | grep -oE '[0-9]+')
      # 3 requests of E (1 layer) and KV (4 layers): well over 100 kB must have crossed the veth.
      ((sent_after - sent_before > 100000)) ||
        fail "only $((sent_after - sent_before)) bytes crossed the limited veth at $gbit Gbit/s"
      echo "  $gbit Gbit/s: $((sent_after - sent_before)) bytes through tbf;" \
        "$(line "$work/remote$gbit.out" 'time to first token, with the plan' | tr -s ' ')"
    done
    ;;

  *)
    fail "unknown case '$case_' (loopback, killed, faults, netns)"
    ;;
esac
echo "PASSED: $case_"

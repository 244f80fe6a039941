# SPDX-FileCopyrightText: 2026 The droidspeak authors
# SPDX-License-Identifier: Apache-2.0
# Sourced, not run: two network namespaces joined by a veth pair that tc limits, for the tests
# and benchmarks of real links (tests/cli/serve_test.sh netns, bench/transfer/*_link_bench.sh).
# Needs root, ip and tc. Every function returns non-zero (and says why on stderr) on failure;
# the caller decides whether that is a skip or a failure.
#
#   netns_link_create PREFIX SUBNET  makes namespaces $PREFIX-s and $PREFIX-r, veth ends
#                                    ${PREFIX}s / ${PREFIX}r (PREFIX short: device names have
#                                    at most 15 bytes) addressed SUBNET.1 and SUBNET.2 (/30)
#   netns_link_limit PREFIX GBIT BURST LATENCY
#                                    tbf at GBIT on both ends, then waits (at most 5 s) until
#                                    both ends are up again
#   netns_link_no_slow_start_restart PREFIX
#   netns_link_remove PREFIX         deletes both namespaces (and so the veth); never fails

netns_link_create() {
  local p=$1 subnet=$2 out
  out=$(ip netns add "$p-s" 2>&1) || { echo "cannot create a network namespace: $out" >&2; return 1; }
  out=$(ip netns add "$p-r" 2>&1) || { echo "cannot create a second namespace: $out" >&2; return 1; }
  out=$(ip link add "${p}s" netns "$p-s" type veth peer name "${p}r" netns "$p-r" 2>&1) ||
    { echo "cannot create a veth pair: $out" >&2; return 1; }
  ip -n "$p-s" addr add "$subnet.1/30" dev "${p}s" && ip -n "$p-r" addr add "$subnet.2/30" dev "${p}r" &&
    ip -n "$p-s" link set "${p}s" up && ip -n "$p-r" link set "${p}r" up &&
    ip -n "$p-s" link set lo up && ip -n "$p-r" link set lo up ||
    { echo "cannot configure the veth pair" >&2; return 1; }
}

netns_link_limit() {
  local p=$1 gbit=$2 burst=$3 latency=$4 ns dev out i
  for ns in "$p-s" "$p-r"; do
    dev=${p}${ns##*-}
    out=$(tc -n "$ns" qdisc replace dev "$dev" root tbf rate "${gbit}gbit" burst "$burst" latency "$latency" 2>&1) ||
      { echo "tc cannot limit the veth (tbf): $out" >&2; return 1; }
  done
  # Replacing the qdisc takes the veth's operational state down for a moment (until the
  # kernel's link watch runs, up to a second later). UCX skips a device that is not running
  # when it starts, and a receiver started then would find only loopback and fail with
  # "Destination is unreachable".
  for ns in "$p-s" "$p-r"; do
    dev=${p}${ns##*-}
    for i in $(seq 500); do
      [[ $(ip netns exec "$ns" cat "/sys/class/net/$dev/operstate") == up ]] && break
      sleep 0.01
    done
    [[ $(ip netns exec "$ns" cat "/sys/class/net/$dev/operstate") == up ]] ||
      { echo "$dev is not up 5 s after tc" >&2; return 1; }
  done
}

# A serving link is one long-lived connection used in bursts (one per request) with idle time
# between them; Linux would restart TCP's slow start after each idle spell, so each request's
# first megabytes would crawl while back-to-back calibration rounds never see it.
netns_link_no_slow_start_restart() {
  local ns
  for ns in "$1-s" "$1-r"; do ip netns exec "$ns" sysctl -qw net.ipv4.tcp_slow_start_after_idle=0 || return 1; done
}

netns_link_remove() {
  ip netns del "$1-s" 2>/dev/null
  ip netns del "$1-r" 2>/dev/null
  return 0
}

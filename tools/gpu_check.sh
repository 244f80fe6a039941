#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 The droidspeak authors
# SPDX-License-Identifier: Apache-2.0
#
# gpu_check.sh: the one command that checks the CUDA kernels on a machine with a GPU.
#   1. reads the card's compute capability (nvidia-smi --query-gpu=compute_cap) and
#      configures a Release build for exactly that architecture in build-gpu/ (or $1);
#   2. builds the CUDA kernels, the CUDA test executables (tests/cuda/<module>/) and the
#      CUDA benchmarks (bench/**/*_bench.cu) only;
#   3. runs the CUDA tests (CTest label "cuda"): a test that skips counts as a failure here,
#      since a GPU is present;
#   4. runs the CUDA benchmarks briefly and prints, for each kernel and size, its ratio to a
#      cudaMemcpyAsync of the same bytes timed in the same run (device time from CUDA
#      events, L2 flushed; 1.0 = memcpy speed);
#   5. prints "gpu_check: PASS" or "gpu_check: FAIL (...)" and exits 0 or 1.
# Without a GPU it stops at once with "gpu_check: FAIL: no NVIDIA GPU" and exit code 2.
# Designed to finish in under 8 minutes on a 16-core machine with an H100/H200.
#
# Dependencies: CMake, a C++20 host compiler and nvcc. doctest and Google Benchmark are
# taken from .gpu-deps/ when it exists (made on a machine that has them by
# tools/gpu_pack_deps.sh; a GPU machine without network usually lacks them), else from
# the system. With the device tool:
#   tools/gpu_pack_deps.sh                       # here, once
#   run(command="tools/gpu_check.sh", carry=[".gpu-deps"], timeout_s=540)
# Logs (configure, build, tests, benchmark JSON) go to $OUT when it is set, else to the
# build folder.
#
# Without a GPU, for checking the script itself: GPU_CHECK_ARCH=90 skips the nvidia-smi
# query and builds for that architecture; the tests then skip and the check says FAIL.
# GPU_CHECK_CONFIGURE_ONLY=1 stops after the configure step.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$root/build-gpu"}
logs=${OUT:-"$build"}
start=$(date +%s)

fail() {
  echo "gpu_check: FAIL: $*"
  exit 1
}

if [[ -n "${GPU_CHECK_ARCH:-}" ]]; then
  cap=$GPU_CHECK_ARCH
  card="no card queried (GPU_CHECK_ARCH)"
elif ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu_check: FAIL: no NVIDIA GPU (nvidia-smi is missing or lists no device)"
  exit 2
else
  cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n 1 | tr -d ' .')
  card=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -n 1)
fi
[[ "$cap" =~ ^[0-9]+(;[0-9]+)*$ ]] || fail "could not read the compute capability (got '$cap')"
echo "gpu_check: $card, compute capability $cap"

prefix=()
if [[ -d "$root/.gpu-deps" ]]; then
  prefix=("-DCMAKE_PREFIX_PATH=$root/.gpu-deps")
fi
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
mkdir -p "$build" "$logs"

echo "gpu_check: configuring $build"
cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DDROIDSPEAK_ENABLE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$cap" -DDROIDSPEAK_BUILD_TESTS=ON \
  -DDROIDSPEAK_BUILD_BENCHMARKS=ON -DDROIDSPEAK_BUILD_EXAMPLES=OFF "${prefix[@]}" \
  >"$logs/gpu_configure.log" 2>&1 || { tail -n 30 "$logs/gpu_configure.log"; fail "configure"; }
grep -E "^(doctest|benchmark)_DIR" "$build/CMakeCache.txt"
if [[ -n "${GPU_CHECK_CONFIGURE_ONLY:-}" ]]; then
  echo "gpu_check: configured (GPU_CHECK_CONFIGURE_ONLY)"
  exit 0
fi

# The CUDA targets: one test executable per tests/cuda/<module>/, one benchmark per .cu.
targets=(droidspeak_kernels)
for dir in "$root"/tests/cuda/*/; do
  targets+=("droidspeak_cuda_$(basename "$dir")_tests")
done
benches=()
while IFS= read -r src; do
  benches+=("$(basename "$src" .cu)_cuda")
done < <(find "$root/bench" -name '*_bench.cu' | sort)
targets+=("${benches[@]}")

echo "gpu_check: building ${targets[*]}"
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}" >"$logs/gpu_build.log" 2>&1 ||
  { grep -m 20 -E "error|Error" "$logs/gpu_build.log"; fail "build (see gpu_build.log)"; }
echo "gpu_check: built in $(($(date +%s) - start)) s"

echo "gpu_check: running the CUDA tests"
ctest --test-dir "$build" -L cuda --output-on-failure --timeout 300 >"$logs/gpu_tests.log" 2>&1
tests_rc=$?
grep -E "tests passed|tests failed" "$logs/gpu_tests.log"
grep -E "\*\*\*Failed|\*\*\*Skipped|Not Run|Timeout" "$logs/gpu_tests.log" | head -n 20
skipped=$(grep -c -E "\*\*\*Skipped|Not Run" "$logs/gpu_tests.log")

echo "gpu_check: running the CUDA benchmarks"
bench_rc=0
for b in "${benches[@]}"; do
  exe=$(find "$build" -type f -name "$b" -perm -u+x | head -n 1)
  [[ -n "$exe" ]] || { echo "gpu_check: benchmark $b not built"; bench_rc=1; continue; }
  if [[ "$b" == overlap_bench_cuda ]]; then  # a plain program: its own table, exit 1 = target missed
    "$exe" >"$logs/$b.log" 2>&1 || bench_rc=1
    cat "$logs/$b.log"
    continue
  fi
  "$exe" --benchmark_min_time=0.05 --benchmark_format=console \
    --benchmark_out="$logs/$b.json" --benchmark_out_format=json >"$logs/$b.log" 2>&1 ||
    { tail -n 20 "$logs/$b.log"; bench_rc=1; }
done
# Each kernel's ratio to memcpy (ratio_to_memcpy counter), from the JSON of every run.
python3 - "$logs" "${benches[@]}" <<'PY' || bench_rc=1
import json, sys, os
logs, names = sys.argv[1], sys.argv[2:]
print(f"{'benchmark':58} {'MiB':>6} {'GB/s':>8} {'memcpy GB/s':>11} {'ratio':>6}")
for name in names:
    path = os.path.join(logs, name + ".json")
    if not os.path.exists(path):
        continue
    for b in json.load(open(path))["benchmarks"]:
        if b.get("error_occurred"):
            print(f"{b['name']:58} ERROR {b.get('error_message', '')}")
            continue
        if "ratio_to_memcpy" not in b:
            continue
        print(f"{b['name']:58} {b.get('MiB', 0):6.0f} {b.get('bytes_per_second', 0) / 1e9:8.1f} "
              f"{b.get('memcpy_GBps', 0):11.1f} {b['ratio_to_memcpy']:6.2f}")
PY

echo "gpu_check: finished in $(($(date +%s) - start)) s; logs in $logs"
if [[ $tests_rc -ne 0 ]]; then fail "CUDA tests (see gpu_tests.log)"; fi
if [[ $skipped -ne 0 ]]; then fail "$skipped CUDA tests skipped (on a GPU machine every one must run)"; fi
if [[ $bench_rc -ne 0 ]]; then fail "CUDA benchmarks"; fi
echo "gpu_check: PASS"

#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 The droidspeak authors
# SPDX-License-Identifier: Apache-2.0
# Configures, builds and runs every test of droidspeak, in two configurations:
#   default  build/       Release; CUDA kernels and CUDA tests when a CUDA compiler is found
#                         (CUDA tests report "skipped" without a GPU); all tests, hygiene too
#   asan     build-asan/  Debug, AddressSanitizer + UndefinedBehaviorSanitizer, host only, no
#                         benchmarks or examples: the host tests (-O0 because sanitized -O2
#                         compiles about 5x slower, and these tests run in seconds anyway)
# Usage: tools/run_tests.sh [default] [asan]     (no argument: both)
# Environment: DROIDSPEAK_JOBS (default: nproc) parallel build and test jobs.
# Runs every configuration even when one fails, prints a summary, and exits non-zero if
# any configure, build or test step failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

jobs="${DROIDSPEAK_JOBS:-$(nproc)}"
# Builds started by tests (hygiene) use this too.
export CMAKE_BUILD_PARALLEL_LEVEL="$jobs"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"

configs=("$@")
((${#configs[@]} == 0)) && configs=(default asan)

summary=()
failed=0

# run_config NAME BUILD_DIR CMAKE_ARGS...
run_config() {
  local name="$1" dir="$2"
  shift 2
  local start=$SECONDS step="" result="ok"
  echo "==== [$name] configure $dir: $*"
  if ! cmake -S . -B "$dir" "$@"; then
    step="configure"
  else
    echo "==== [$name] build (-j$jobs)"
    if ! cmake --build "$dir" -j "$jobs"; then
      step="build"
    else
      echo "==== [$name] test (-j$jobs)"
      ctest --test-dir "$dir" --output-on-failure --no-tests=error -j "$jobs" \
        2>&1 | tee "$dir/ctest-summary.log"
      ((PIPESTATUS[0] == 0)) || step="test"
    fi
  fi
  local tests=""
  if [[ -f "$dir/ctest-summary.log" && "$step" != "configure" && "$step" != "build" ]]; then
    tests=$(grep -E "tests passed, [0-9]+ tests failed" "$dir/ctest-summary.log" | tail -1)
  fi
  if [[ -n "$step" ]]; then
    result="FAILED at $step"
    failed=1
  fi
  summary+=("$(printf '%-8s %-22s %4ds  %s' "$name" "$result" $((SECONDS - start)) "$tests")")
}

total_start=$SECONDS
for config in "${configs[@]}"; do
  case "$config" in
    default)
      run_config default build -DCMAKE_BUILD_TYPE=Release
      ;;
    asan)
      run_config asan build-asan -DCMAKE_BUILD_TYPE=Debug -DDROIDSPEAK_SANITIZE=ON \
        -DDROIDSPEAK_ENABLE_CUDA=OFF -DDROIDSPEAK_BUILD_BENCHMARKS=OFF \
        -DDROIDSPEAK_BUILD_EXAMPLES=OFF
      ;;
    *)
      echo "run_tests.sh: unknown configuration '$config' (expected default or asan)" >&2
      exit 2
      ;;
  esac
done

echo
echo "==== summary ($((SECONDS - total_start))s in all, $jobs jobs)"
printf '%s\n' "${summary[@]}"
if ((failed)); then
  echo "==== FAILED"
  exit 1
fi
echo "==== all configurations passed"

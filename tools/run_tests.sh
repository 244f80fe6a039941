#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 The droidspeak authors
# SPDX-License-Identifier: Apache-2.0
# Configures, builds and runs every test of droidspeak, in three configurations:
#   default  build/       Release; CUDA kernels and CUDA tests when a CUDA compiler is found
#                         (CUDA tests report "skipped" without a GPU); all tests, hygiene and
#                         the fuzz targets (tests/fuzz: a fixed budget each) too
#   asan     build-asan/  Debug, AddressSanitizer + UndefinedBehaviorSanitizer, host only, no
#                         benchmarks or examples: the host tests (-O0 because sanitized -O2
#                         compiles about 5x slower, and these tests run in seconds anyway)
#   tsan     build-tsan/  ThreadSanitizer (-O1), host only: the tests that run threads, the
#                         prefill executors (pipelined streaming, transports), the
#                         profiler, transfer/ (cache store, UCX transport) and serving/
#                         (the reserved link under the threaded driver); OpenBLAS and OpenMP run single-threaded there, as their
#                         uninstrumented threads would be reported as races
# Before any build it checks that the bundled models (examples/models/*) are present: the
# tests that need them would only report "skipped" without them, so a missing family fails
# the run (DROIDSPEAK_ALLOW_MISSING_MODELS=1 makes that a warning).
# Usage: tools/run_tests.sh [default] [asan] [tsan]     (no argument: all three)
# Environment: DROIDSPEAK_JOBS (default: nproc) parallel build and test jobs.
# Runs every configuration even when one fails, prints a summary, and exits non-zero if
# any configure, build or test step failed or a bundled model is missing.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

jobs="${DROIDSPEAK_JOBS:-$(nproc)}"
# Builds started by tests (hygiene) use this too.
export CMAKE_BUILD_PARALLEL_LEVEL="$jobs"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"

configs=("$@")
((${#configs[@]} == 0)) && configs=(default asan tsan)

summary=()
failed=0

# The bundled family the model tests run on: each directory needs its config, weights and
# PyTorch fixtures (a clone without them, or with Git LFS pointers instead, has none).
bundled_models=(base frozen-code ft-code ft-recall ft-scripture lora-scripture)
missing_models=()
for m in "${bundled_models[@]}"; do
  for f in config.json model.safetensors fixtures.safetensors; do
    path="examples/models/$m/$f"
    # A Git LFS pointer is a ~130-byte text file; the smallest real file here is ~500 bytes.
    if [[ ! -f "$path" ]] || { [[ "$f" == *.safetensors ]] && (($(stat -c %s "$path") < 1024)); }; then
      missing_models+=("$path")
    fi
  done
done
if ((${#missing_models[@]} != 0)); then
  echo "run_tests.sh: bundled model files missing (the tests that need them would be skipped):" >&2
  printf '  %s\n' "${missing_models[@]}" >&2
  if [[ "${DROIDSPEAK_ALLOW_MISSING_MODELS:-0}" == 1 ]]; then
    echo "run_tests.sh: DROIDSPEAK_ALLOW_MISSING_MODELS=1: going on" >&2
    summary+=("$(printf '%-8s %-22s' models "MISSING (allowed)")")
  else
    failed=1
    summary+=("$(printf '%-8s %-22s %s' models "FAILED: missing" "${#missing_models[@]} files")")
  fi
fi

# run_config NAME BUILD_DIR CMAKE_ARGS...
# Globals read: build_targets (empty: all), ctest_filter (extra ctest arguments).
run_config() {
  local name="$1" dir="$2"
  shift 2
  local start=$SECONDS step="" result="ok"
  local target_args=()
  local t
  for t in ${build_targets:-}; do target_args+=(--target "$t"); done
  echo "==== [$name] configure $dir: $*"
  if ! cmake -S . -B "$dir" "$@"; then
    step="configure"
  else
    echo "==== [$name] build (-j$jobs) ${build_targets:-all}"
    if ! cmake --build "$dir" -j "$jobs" "${target_args[@]}"; then
      step="build"
    else
      echo "==== [$name] test (-j$jobs) ${ctest_filter:-}"
      # shellcheck disable=SC2086  # ctest_filter is a word list
      ctest --test-dir "$dir" --output-on-failure --no-tests=error -j "$jobs" ${ctest_filter:-} \
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
  build_targets="" ctest_filter=""
  case "$config" in
    default)
      run_config default build -DCMAKE_BUILD_TYPE=Release
      ;;
    asan)
      run_config asan build-asan -DCMAKE_BUILD_TYPE=Debug -DDROIDSPEAK_SANITIZE=ON \
        -DDROIDSPEAK_ENABLE_CUDA=OFF -DDROIDSPEAK_BUILD_BENCHMARKS=OFF \
        -DDROIDSPEAK_BUILD_EXAMPLES=OFF
      ;;
    tsan)
      # Only the executables of the threaded modules, and only their tests (labels are the
      # module names): the executors, the profiler, transfer/ (the thread-safe cache store,
      # the UCX transport's sender thread and its fault cases) and serving/ (the reserved
      # link's transport under the threaded driver).
      build_targets="droidspeak_prefill_tests droidspeak_profile_tests"
      [[ -d tests/transfer ]] && build_targets+=" droidspeak_transfer_tests"
      [[ -d tests/serving ]] && build_targets+=" droidspeak_serving_tests"
      ctest_filter="-L ^(prefill|profile|transfer|serving)$"
      # UCX's memory hooks (libucm intercepting mmap/madvise) crash inside TSan's interceptors
      # when a thread starts: the transfer tests run with them off, as UCX allows.
      OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 UCX_MEM_EVENTS=no UCX_MEM_MALLOC_HOOKS=no \
        TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1 second_deadlock_stack=1}" \
        run_config tsan build-tsan -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1" \
        -DDROIDSPEAK_SANITIZE_THREAD=ON -DDROIDSPEAK_ENABLE_CUDA=OFF \
        -DDROIDSPEAK_BUILD_BENCHMARKS=OFF -DDROIDSPEAK_BUILD_EXAMPLES=OFF
      ;;
    *)
      echo "run_tests.sh: unknown configuration '$config' (expected default, asan or tsan)" >&2
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

#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 The droidspeak authors
# SPDX-License-Identifier: Apache-2.0
#
# gpu_pack_deps.sh: copies the third-party pieces that the CUDA tests and benchmarks need
# and that a GPU machine without network may lack (doctest's header and CMake package,
# Google Benchmark's headers, shared library and CMake package) from this machine into
# .gpu-deps/ (git-ignored), keeping their install layout, so that CMake finds them there
# with -DCMAKE_PREFIX_PATH=.gpu-deps (tools/gpu_check.sh does this).
#
# Usage, on a machine where the packages are installed (e.g. Debian/Ubuntu libdoctest-dev,
# libbenchmark-dev):
#   tools/gpu_pack_deps.sh            # fills .gpu-deps/ (a few MiB); run once
# Then carry the folder to the GPU machine with the working tree, e.g. with the device
# tool: run(command="tools/gpu_check.sh", carry=[".gpu-deps"]).
# Symbolic links are copied as the files they point to (a carried link would dangle).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/.gpu-deps"
rm -rf "$out"
mkdir -p "$out"

# Copies a file or folder from the system prefix to the same place under $out.
copy() {
  local src=$1
  local rel=${src#/usr/}
  mkdir -p "$out/$(dirname "$rel")"
  cp -rL "$src" "$out/$rel"
}

# Finds the folder holding a package's CMake config file, or fails with a clear message.
config_dir() {
  local file=$1
  local dir
  dir=$(find /usr/lib /usr/share /usr/local -name "$file" -printf '%h\n' 2>/dev/null | head -n 1)
  if [[ -z "$dir" ]]; then
    echo "gpu_pack_deps: $file not found; install the package first" >&2
    exit 1
  fi
  echo "$dir"
}

doctest_cfg=$(config_dir doctestConfig.cmake)
benchmark_cfg=$(config_dir benchmarkConfig.cmake)
case "$doctest_cfg$benchmark_cfg" in
  /usr/local/*) echo "gpu_pack_deps: packages under /usr/local are not supported" >&2; exit 1 ;;
esac

copy /usr/include/doctest
copy "$doctest_cfg"
copy /usr/include/benchmark
copy "$benchmark_cfg"
# The libraries the benchmark package's targets name (IMPORTED_LOCATION ... and SONAME).
libdir=$(dirname "$(dirname "$benchmark_cfg")")
for lib in "$libdir"/libbenchmark*.so* "$libdir"/libbenchmark*.a; do
  [[ -e "$lib" ]] && copy "$lib"
done

du -sh "$out" | sed 's/^/gpu_pack_deps: packed /'

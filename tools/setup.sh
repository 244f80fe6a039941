#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 The droidspeak authors
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages that building and testing droidspeak needs. Idempotent:
# installed packages are left alone, and `apt-get update` runs only when one is missing.
# Usage: tools/setup.sh            (as root, or with sudo available)
# CUDA is optional and not installed here: with a CUDA toolkit on the machine the build
# also compiles droidspeak::kernels.
set -euo pipefail

packages=(
  cmake g++ make                     # the build
  doctest-dev                        # tests
  libbenchmark-dev                   # benchmarks (Google Benchmark)
  nlohmann-json3-dev                 # droidspeak::io (safetensors headers, config.json)
  libopenblas-dev libopenblas0-openmp  # droidspeak::reference (CBLAS)
  clang-14 libclang-rt-14-dev        # the libFuzzer targets (clang, compiler-rt)
  librsvg2-bin                       # rsvg-convert: the README's layout diagrams
  libucx-dev ucx-utils               # droidspeak::ucx (the UCX transport), ucx_perftest
  iproute2                           # ip, tc: the serve tests across network namespaces
)

installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages already installed; nothing to do"
  exit 0
fi

sudo=()
if ((EUID != 0)); then
  if command -v sudo >/dev/null; then
    sudo=(sudo)
  else
    echo "setup: missing ${missing[*]}; run this script as root (or install sudo)" >&2
    exit 1
  fi
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
  "${missing[@]}"

still_missing=()
for p in "${missing[@]}"; do
  installed "$p" || still_missing+=("$p")
done
if ((${#still_missing[@]} != 0)); then
  echo "setup: could not install ${still_missing[*]}" >&2
  exit 1
fi
echo "setup: installed ${missing[*]}"

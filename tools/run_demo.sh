#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 The droidspeak authors
# SPDX-License-Identifier: Apache-2.0
# The main job: builds the droidspeak command-line tool (host only, no CUDA needed) and runs
# it with no arguments: profile -> compare -> run on the bundled pair base -> ft-code, writing
# plan.json and the SVG pictures into droidspeak-out/. Extra arguments go to the tool
# (e.g. `tools/run_demo.sh --help`). Build directory: build-demo/ (DROIDSPEAK_DEMO_BUILD).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dir="${DROIDSPEAK_DEMO_BUILD:-build-demo}"
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DDROIDSPEAK_ENABLE_CUDA=OFF \
  -DDROIDSPEAK_BUILD_TESTS=OFF -DDROIDSPEAK_BUILD_BENCHMARKS=OFF > "$dir.configure.log" 2>&1 ||
  { cat "$dir.configure.log"; exit 1; }
cmake --build "$dir" -j "$(nproc)" --target droidspeak_tool > "$dir.build.log" 2>&1 ||
  { cat "$dir.build.log"; exit 1; }
exec "$dir/examples/droidspeak" "$@"

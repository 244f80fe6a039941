// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Compiler annotations shared by host and device code, and the ABI namespace.
#pragma once

#include "droidspeak/core/version.hpp"

// Functions that must also run on the GPU carry DROIDSPEAK_HOST_DEVICE. Without nvcc
// it is plain `inline`, so every header outside cuda/ compiles with any C++20 compiler.
#if defined(__CUDACC__)
#define DROIDSPEAK_HOST_DEVICE __host__ __device__ __forceinline__
#define DROIDSPEAK_DEVICE __device__ __forceinline__
#define DROIDSPEAK_UNROLL _Pragma("unroll")
#else
#define DROIDSPEAK_HOST_DEVICE inline
#define DROIDSPEAK_DEVICE inline
#define DROIDSPEAK_UNROLL
#endif

// NOTE: every declaration lives in an inline namespace named after the version, so two
// separately linked copies of different versions (say, a vendored one inside a plugin and
// the engine's own) never meet in one symbol. Users still write droidspeak::layout::...
#define DROIDSPEAK_ABI_CONCAT2(a, b, c) abi_v##a##_##b##_##c
#define DROIDSPEAK_ABI_CONCAT(a, b, c) DROIDSPEAK_ABI_CONCAT2(a, b, c)
#define DROIDSPEAK_ABI                                                      \
  DROIDSPEAK_ABI_CONCAT(DROIDSPEAK_VERSION_MAJOR, DROIDSPEAK_VERSION_MINOR, \
                        DROIDSPEAK_VERSION_PATCH)

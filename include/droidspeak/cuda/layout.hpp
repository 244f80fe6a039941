// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file CUDA launchers of the layout primitives: copy / gather / scatter, fused
//! quantise and dequantise, E-cache copy and per-layer deviation. Declarations only (no
//! CUDA header needed); the definitions are in kernels/layout/ (droidspeak::kernels).
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/deviation.hpp"   // KvDeviation
#include "droidspeak/layout/operations.hpp"  // KvCopyArgs, ..., can_implement

#include <cstddef>

// The CUDA runtime defines cudaStream_t as `struct CUstream_st*`; naming the struct here
// lets callers pass their stream without this header including cuda_runtime.h.
struct CUstream_st;

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace cuda {

// Common contract of every launcher below:
// - The views, index arrays (block tables, CSR lists) and `scales` are device memory (or
//   memory the device can read and write); the argument structs themselves are host values.
// - Arguments are checked with `layout::can_implement(args, layout::IndexMemory::kDevice)`
//   first; on failure nothing is launched and that status is returned. Index arrays are
//   not read on the host: a row whose page index lies outside its pool is skipped (neither
//   read nor written), where the host primitive would have refused the whole call.
// - All selected layers, K and V, tokens and heads move in one kernel launch on `stream`
//   (nullptr: the legacy default stream). No host synchronisation, no allocation, no
//   host-to-device copy: every launcher can be captured in a CUDA graph.
// - Results are bit-identical to the host primitive of the same name in
//   droidspeak/layout/ (copy.hpp, quantize.hpp), and deterministic.
// - A failed launch returns Status::cuda_error with the runtime's message. Faults inside
//   the kernel surface, as usual with CUDA, at the caller's next synchronisation.
// - Empty layer sets and empty token ranges are valid and write nothing (kv_deviation
//   still writes zero statistics for every selected layer, as the host does).

//! Copies K and V rows of `args.layers` from `args.src` to `args.dst`, between any two
//! layouts (transfer NHD/HND, block table or CSR pages, split or fused pools) and any
//! dtype pair (equal dtypes: byte copy; otherwise through f32 with the rounding of
//! core/dtype.hpp). Rows use 16-byte accesses when head_dim and both base addresses allow.
//! @param[in] args   see layout::KvCopyArgs; src and dst must not overlap.
//! @param[in] stream the stream to enqueue on.
[[nodiscard]] Status copy_kv(const layout::KvCopyArgs& args, CUstream_st* stream);

//! copy_kv from a paged cache into a transfer-layout one (invalid_argument otherwise).
[[nodiscard]] Status gather_kv(const layout::KvCopyArgs& args, CUstream_st* stream);

//! copy_kv from a transfer-layout cache into a paged one (invalid_argument otherwise).
[[nodiscard]] Status scatter_kv(const layout::KvCopyArgs& args, CUstream_st* stream);

//! Quantises f32/f16/bf16 rows into fp8 e4m3 or int8 while moving them, with one scale per
//! (layer, K|V, token, kv_head) row: scale = absmax / qmax (448 or 127), q = round(x *
//! (qmax / absmax)) saturating, an all-zero row gets scale 0; exactly layout::quantize_kv.
//! @param[in] args   see layout::KvQuantizeArgs; `args.scales`
//!                   [dst layers][2][dst tokens][num_kv_heads] f32 in device memory,
//!                   written at the destination tokens of the selected layers.
//! @param[in] stream the stream to enqueue on.
[[nodiscard]] Status quantize_kv(const layout::KvQuantizeArgs& args, CUstream_st* stream);

//! The inverse of quantize_kv: x = q * scale rounded into f32/f16/bf16; exactly
//! layout::dequantize_kv.
//! @param[in] args   see layout::KvDequantizeArgs; `args.scales`
//!                   [src layers][2][src tokens][num_kv_heads] f32 in device memory, read
//!                   at the source tokens.
//! @param[in] stream the stream to enqueue on.
[[nodiscard]] Status dequantize_kv(const layout::KvDequantizeArgs& args, CUstream_st* stream);

//! Copies the E-cache rows of `args.layers` (entries of both caches), converting dtype;
//! exactly layout::copy_e.
//! @param[in] args   see layout::ECopyArgs, device memory.
//! @param[in] stream the stream to enqueue on.
[[nodiscard]] Status copy_e(const layout::ECopyArgs& args, CUstream_st* stream);

//! Per-layer deviation between caches `args.a` (the reference) and `args.b` (any layouts,
//! any dtypes): for K and V apart, the sums of (a-b)^2, a^2, b^2, a*b, the max |a-b| and
//! the element count, accumulated in double.
//!
//! Two phases with caller-owned scratch, as CUB does it: call first with
//! `d_workspace == nullptr` to get the size in `workspace_bytes` (nothing launched, `d_out`
//! not used), allocate, then call again with the same arguments.
//!
//! Deterministic: the grid and the assignment of elements to threads depend only on the
//! arguments (not on the device), each block writes its partial sums to the workspace and
//! a second kernel adds them in a fixed order, so repeated runs give identical bits. The
//! summation order differs from the host primitive's, so the sums agree with
//! layout::kv_deviation within 1e-9 relative (the tests' bound; max_abs and count exactly).
//! Rows on a page outside the pool are skipped and not counted.
//! @param[in]     args            see layout::KvDeviationArgs, device memory.
//! @param[out]    d_out           [>= args.layers.end_bound()] device memory; entry `layer` is
//!                                written for every selected layer, others are untouched.
//! @param[in]     d_workspace     nullptr to query, else device memory of at least
//!                                `workspace_bytes` bytes, 8-byte aligned, not used by
//!                                anything else until the kernels finish.
//! @param[in,out] workspace_bytes out: bytes needed (query); in: bytes available (run).
//! @param[in]     stream          the stream to enqueue on.
//! @return can_implement's status; workspace_too_small when `workspace_bytes` is less than
//!         needed; invalid_argument for a null `d_out` or a misaligned workspace.
[[nodiscard]] Status kv_deviation(const layout::KvDeviationArgs& args,
                                  layout::KvDeviation* d_out, void* d_workspace,
                                  std::size_t& workspace_bytes, CUstream_st* stream);

}}}  // namespace droidspeak::DROIDSPEAK_ABI::cuda

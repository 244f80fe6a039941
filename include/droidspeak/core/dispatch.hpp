// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The one dispatch utility: a runtime DType to a compile-time storage type.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/dtype.hpp"
#include "droidspeak/core/status.hpp"

#include <cstdint>
#include <string>

namespace droidspeak { inline namespace DROIDSPEAK_ABI {

//! Names a storage type in a generic lambda: `[](auto tag) { using T = typename decltype(tag)::type; }`.
template <class T>
struct TypeTag {
  using type = T;
};

//! Calls `f(TypeTag<T>{})` for the storage type T of `d` and returns what it returns.
//! An unknown DType returns `Status::not_supported` listing the supported ones; `f` must
//! therefore return Status.
template <class F>
Status dispatch_dtype(DType d, F&& f) {
  switch (d) {
    case DType::kF32: return f(TypeTag<float>{});
    case DType::kF16: return f(TypeTag<Half>{});
    case DType::kBF16: return f(TypeTag<BFloat16>{});
    case DType::kFP8E4M3: return f(TypeTag<Fp8E4M3>{});
    case DType::kI8: return f(TypeTag<std::int8_t>{});
  }
  return Status::not_supported("dtype " + std::to_string(static_cast<int>(d)) +
                               " is not one of f32, f16, bf16, fp8_e4m3, int8");
}

}}  // namespace droidspeak::DROIDSPEAK_ABI

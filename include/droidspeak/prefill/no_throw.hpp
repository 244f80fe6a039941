// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The one place where exceptions from user code (an engine, a transport, an
//! allocation) become a Status: the library never lets one escape, least of all across a
//! thread boundary, where it would call std::terminate.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"

#include <exception>
#include <new>  // std::bad_alloc
#include <string>
#include <string_view>
#include <type_traits>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace prefill::detail {

//! Runs `f` (returning Status or Result<T>) and returns its result; an exception thrown
//! from it becomes a kErrorInternal Status "<where>: exception: <what()>" (an allocation
//! failure: "<where>: out of memory").
template <class F>
auto no_throw(std::string_view where, F&& f) noexcept -> std::invoke_result_t<F&> {
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
  using R = std::invoke_result_t<F&>;
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return R(Status::internal(std::string(where) + ": out of memory"));
  } catch (const std::exception& e) {
    return R(Status::internal(std::string(where) + ": exception: " + e.what()));
  } catch (...) {
    return R(Status::internal(std::string(where) + ": unknown exception"));
  }
#else
  (void)where;  // built without exceptions: nothing can be thrown
  return f();
#endif
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::prefill::detail

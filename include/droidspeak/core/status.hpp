// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file `Status` and `Result<T>`: how every host entry point reports what went wrong.
#pragma once

#include "droidspeak/core/config.hpp"

#include <string>       // std::string: the message
#include <string_view>
#include <type_traits>
#include <utility>

namespace droidspeak { inline namespace DROIDSPEAK_ABI {

//! What kind of failure a `Status` carries.
enum class StatusCode : int {
  kSuccess = 0,
  kErrorInvalidArgument,  //!< the caller passed something the contract forbids
  kErrorNotSupported,     //!< valid, but this build or this operation cannot do it
  kErrorWorkspaceTooSmall,
  kErrorOutOfRange,       //!< an index, size or offset falls outside its buffer
  kErrorIo,               //!< a file could not be read or written, or is malformed
  kErrorCuda,             //!< a CUDA runtime call failed
  kErrorInternal,
  kErrorDataCorrupt,      //!< data arrived but cannot be used: non-finite values, a failed checksum
};

//! Stable lower-case name of a code, e.g. "invalid argument".
constexpr std::string_view to_string(StatusCode code) noexcept {
  switch (code) {
    case StatusCode::kSuccess: return "success";
    case StatusCode::kErrorInvalidArgument: return "invalid argument";
    case StatusCode::kErrorNotSupported: return "not supported";
    case StatusCode::kErrorWorkspaceTooSmall: return "workspace too small";
    case StatusCode::kErrorOutOfRange: return "out of range";
    case StatusCode::kErrorIo: return "i/o error";
    case StatusCode::kErrorCuda: return "cuda error";
    case StatusCode::kErrorInternal: return "internal error";
    case StatusCode::kErrorDataCorrupt: return "corrupt data";
  }
  return "unknown";
}

//! The outcome of a host call: a code and, on failure, a message that says what was
//! wrong and what was expected. Success carries no message and allocates nothing.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }
  static Status invalid_argument(std::string m) {
    return {StatusCode::kErrorInvalidArgument, std::move(m)};
  }
  static Status not_supported(std::string m) {
    return {StatusCode::kErrorNotSupported, std::move(m)};
  }
  static Status out_of_range(std::string m) { return {StatusCode::kErrorOutOfRange, std::move(m)}; }
  static Status io_error(std::string m) { return {StatusCode::kErrorIo, std::move(m)}; }
  static Status cuda_error(std::string m) { return {StatusCode::kErrorCuda, std::move(m)}; }
  static Status internal(std::string m) { return {StatusCode::kErrorInternal, std::move(m)}; }
  static Status data_corrupt(std::string m) { return {StatusCode::kErrorDataCorrupt, std::move(m)}; }

  bool is_ok() const noexcept { return code_ == StatusCode::kSuccess; }
  explicit operator bool() const noexcept { return is_ok(); }
  StatusCode code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }

  //! "invalid argument: <message>", or "success".
  std::string to_string() const {
    if (is_ok()) return "success";
    return std::string(droidspeak::to_string(code_)) + ": " + message_;
  }

  //! Prefixes the message with where it happened ("loading plan.json: ...").
  Status with_context(std::string_view where) const {
    if (is_ok()) return *this;
    return {code_, std::string(where) + ": " + message_};
  }

 private:
  StatusCode code_ = StatusCode::kSuccess;
  std::string message_;
};

//! A value or the `Status` that explains why there is none.
//! @tparam T any movable type.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  // NOTE: initialised, not assigned: nvcc warns that an assignment's Status& is discarded.
  Result(Status status)
      : status_(status.is_ok() ? Status::internal("Result built from a success status")
                               : std::move(status)) {}

  bool is_ok() const noexcept { return status_.is_ok(); }
  explicit operator bool() const noexcept { return is_ok(); }
  const Status& status() const noexcept { return status_; }

  //! Precondition: is_ok(). The value is value-initialised when there is none.
  T& value() & noexcept { return value_; }
  const T& value() const& noexcept { return value_; }
  T&& value() && noexcept { return std::move(value_); }
  T* operator->() noexcept { return &value_; }
  const T* operator->() const noexcept { return &value_; }
  T& operator*() & noexcept { return value_; }
  const T& operator*() const& noexcept { return value_; }

 private:
  static_assert(std::is_default_constructible_v<T>, "Result<T> needs a default-constructible T");
  T value_{};
  Status status_;
};

}}  // namespace droidspeak::DROIDSPEAK_ABI

//! Returns early from the enclosing function with the status of `expr` if it failed.
#define DROIDSPEAK_TRY(expr)                                   \
  do {                                                         \
    ::droidspeak::Status droidspeak_try_status_ = (expr);      \
    if (!droidspeak_try_status_.is_ok()) return droidspeak_try_status_; \
  } while (false)

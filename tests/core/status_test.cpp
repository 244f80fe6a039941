// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
#include "droidspeak/core/dispatch.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/core/version.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace droidspeak;

namespace {
Status fails_then_continues(bool fail, int& reached) {
  DROIDSPEAK_TRY(fail ? Status::invalid_argument("first step") : Status::ok());
  ++reached;
  return Status::ok();
}
Result<int> half_of(int v) {
  if (v % 2 != 0) return Status::invalid_argument(std::to_string(v) + " is odd");
  return v / 2;
}
}  // namespace

TEST_CASE("Status carries code, message and context") {
  const Status ok = Status::ok();
  CHECK(ok.is_ok());
  CHECK(ok.to_string() == "success");
  const Status bad = Status::out_of_range("token 9 outside [0, 4)").with_context("copy");
  CHECK(!bad.is_ok());
  CHECK(bad.code() == StatusCode::kErrorOutOfRange);
  CHECK(bad.message() == "copy: token 9 outside [0, 4)");
  CHECK(bad.to_string() == "out of range: copy: token 9 outside [0, 4)");
}

TEST_CASE("DROIDSPEAK_TRY returns early on failure only") {
  int reached = 0;
  CHECK(!fails_then_continues(true, reached).is_ok());
  CHECK(reached == 0);
  CHECK(fails_then_continues(false, reached).is_ok());
  CHECK(reached == 1);
}

TEST_CASE("Result holds a value or a status") {
  const Result<int> a = half_of(8);
  REQUIRE(a.is_ok());
  CHECK(*a == 4);
  const Result<int> b = half_of(3);
  CHECK(!b.is_ok());
  CHECK(b.status().message() == "3 is odd");
  const Result<int> c{Status::ok()};  // a success status is not a value: refused
  CHECK(c.status().code() == StatusCode::kErrorInternal);
}

TEST_CASE("dispatch_dtype names the storage type and refuses unknown tags") {
  std::size_t size = 0;
  CHECK(dispatch_dtype(DType::kBF16, [&](auto tag) {
          size = sizeof(typename decltype(tag)::type);
          return Status::ok();
        }).is_ok());
  CHECK(size == 2);
  const Status s = dispatch_dtype(static_cast<DType>(42), [](auto) { return Status::ok(); });
  CHECK(s.code() == StatusCode::kErrorNotSupported);
  CHECK(s.message().find("f32, f16, bf16, fp8_e4m3, int8") != std::string::npos);
}

TEST_CASE("version is stated once and consistent") {
  CHECK(version() == DROIDSPEAK_VERSION_MAJOR * 10000 + DROIDSPEAK_VERSION_MINOR * 100 +
                         DROIDSPEAK_VERSION_PATCH);
}

// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Tests of io/detail/json.hpp: non-throwing parsing, integer extraction, UTF-8 checks,
//! whole-file reads.
#include "droidspeak/io/detail/json.hpp"

#include "io/io_test_support.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

using namespace droidspeak::io::detail;
using droidspeak::StatusCode;

TEST_CASE("json: parse never throws and rejects NUL bytes") {
  CHECK(parse_json("{\"a\": 1}").is_object());
  CHECK(parse_json("{\"a\": ").is_discarded());
  CHECK(parse_json("").is_discarded());
  CHECK(parse_json("{} trailing").is_discarded());
  CHECK(parse_json(std::string("{}\0{}", 5)).is_discarded());
  CHECK(parse_json(std::string("\"a\0b\"", 5)).is_discarded());
  CHECK(parse_json("\"\xff\"").is_discarded());  // invalid UTF-8 inside a string
  CHECK(parse_json(std::string(100000, '[')).is_discarded());
  // Deep nesting is parsed and destroyed without recursion.
  CHECK(parse_json(std::string(100000, '[') + std::string(100000, ']')).is_array());
}

TEST_CASE("json: integers as int64") {
  std::int64_t v = 0;
  CHECK(json_to_i64(parse_json("9223372036854775807"), v));
  CHECK(v == INT64_MAX);
  CHECK(json_to_i64(parse_json("-9223372036854775808"), v));
  CHECK(v == INT64_MIN);
  CHECK_FALSE(json_to_i64(parse_json("9223372036854775808"), v));
  CHECK_FALSE(json_to_i64(parse_json("1.0"), v));
  CHECK_FALSE(json_to_i64(parse_json("\"1\""), v));
  CHECK_FALSE(json_to_i64(parse_json("1e400"), v));
  double d = 0;
  CHECK(json_to_double(parse_json("1e-5"), d));
  CHECK(d == 1e-5);
  CHECK(json_to_double(parse_json("3"), d));
  CHECK_FALSE(json_to_double(parse_json("null"), d));
}

TEST_CASE("json: UTF-8 validation") {
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("model.layers.0"));
  CHECK(is_valid_utf8("\xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80"));  // ü € 😀
  CHECK_FALSE(is_valid_utf8("\xff"));
  CHECK_FALSE(is_valid_utf8("\xc3"));              // cut short
  CHECK_FALSE(is_valid_utf8("\xe2\x82"));          // cut short
  CHECK_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong
  CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate
  CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  CHECK_FALSE(is_valid_utf8("\xc3\x28"));          // bad continuation
}

TEST_CASE("json: the offset of the first invalid UTF-8 byte") {
  CHECK(invalid_utf8_at("\xc3\xbc ok") == std::string_view::npos);
  CHECK(invalid_utf8_at("ab\xff") == 2);
  CHECK(invalid_utf8_at("\xc3\xbc\xe2\x82") == 2);  // the cut-short sequence starts at 2
  CHECK(invalid_utf8_at("a\xed\xa0\x80") == 1);     // a surrogate
}

TEST_CASE("json: read_text_file on a directory says it is a directory") {
  droidspeak::test::TempDir dir;
  std::string text;
  droidspeak::test::check_error(read_text_file(dir.path(), text), StatusCode::kErrorIo,
                                {dir.path().string(), "is a directory"});
  droidspeak::test::check_error(read_text_file(dir / "absent.json", text), StatusCode::kErrorIo,
                                {"absent.json", "not found"});
  droidspeak::test::write_text(dir / "a.json", "{}");
  REQUIRE(read_text_file(dir / "a.json", text).is_ok());
  CHECK(text == "{}");
}

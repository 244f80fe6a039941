// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Byte tokens and token-id files.
#include "droidspeak/reference/tokenizer.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

using namespace droidspeak;

TEST_CASE("tokens: bytes both ways, token-id text and files") {
  const auto t = reference::byte_tokens("a\xff\n");
  CHECK(t == std::vector<std::int32_t>{97, 255, 10});
  auto s = reference::bytes_of(t);
  REQUIRE(s.is_ok());
  CHECK(*s == "a\xff\n");
  CHECK(reference::bytes_of(std::vector<std::int32_t>{1, 256}).status().message().find("token 1 is 256") !=
        std::string::npos);

  auto ids = reference::parse_token_ids(" 1 22\n\t333  0\n", 1000);
  REQUIRE(ids.is_ok());
  CHECK(*ids == std::vector<std::int32_t>{1, 22, 333, 0});
  CHECK(reference::parse_token_ids("", 10)->empty());
  CHECK(reference::parse_token_ids("1\n2\n12", 10).status().message() ==
        "token ids: line 3: \"12\" is not a token id in [0, 10)");
  CHECK(!reference::parse_token_ids("1 -2", 0).is_ok());
  CHECK(!reference::parse_token_ids("1 x", 0).is_ok());
  CHECK(!reference::parse_token_ids("99999999999", 0).is_ok());

  const std::string path = "droidspeak_token_file_test.txt";
  {
    std::ofstream f(path);
    f << "5 6\n7\n";
  }
  auto file = reference::read_token_file(path, 8);
  REQUIRE(file.is_ok());
  CHECK(*file == std::vector<std::int32_t>{5, 6, 7});
  CHECK(reference::read_token_file(path, 7).status().message().find(path + ": line 2") == 0);
  std::remove(path.c_str());
  CHECK(reference::read_token_file(path, 8).status().code() == StatusCode::kErrorIo);
}

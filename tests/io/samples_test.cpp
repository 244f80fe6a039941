// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
#include "droidspeak/io/samples.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <vector>

using namespace droidspeak;

TEST_CASE("samples as text and as token ids") {
  const char* text =
      "{\"context\": \"ab\", \"suffix\": \"c\\nd\"}\n"
      "\n"
      "{\"context_ids\": [1, 2, 3], \"suffix_ids\": [4, 5]}\n";
  Result<std::vector<profile::Sample>> s = io::parse_samples(text, "s.jsonl", 256);
  REQUIRE_MESSAGE(s.is_ok(), s.status().to_string());
  REQUIRE(s->size() == 2);
  CHECK((*s)[0].context == std::vector<std::int32_t>{'a', 'b'});
  CHECK((*s)[0].suffix == std::vector<std::int32_t>{'c', '\n', 'd'});
  CHECK((*s)[1].context == std::vector<std::int32_t>{1, 2, 3});
  CHECK((*s)[1].suffix == std::vector<std::int32_t>{4, 5});
}

TEST_CASE("bad samples files name the line and the problem") {
  auto msg = [](const char* t, std::int64_t vocab = 256) { return io::parse_samples(t, "s.jsonl", vocab).status().message(); };
  CHECK(msg("{\"context\": \"ab\"}") == "s.jsonl:1: give exactly one of 'suffix' and 'suffix_ids'");
  CHECK(msg("\n[1]") == "s.jsonl:2: not a JSON object");
  CHECK(msg("{\"context\": \"ab\", \"context_ids\": [1], \"suffix\": \"cd\"}") ==
        "s.jsonl:1: give exactly one of 'context' and 'context_ids'");
  CHECK(msg("{\"context_ids\": [1, 300], \"suffix_ids\": [1, 2]}") ==
        "s.jsonl:1: 'context_ids' holds 300, not a token id in [0, 256)");
  CHECK(msg("{\"context_ids\": [1, -1], \"suffix_ids\": [1, 2]}") ==
        "s.jsonl:1: 'context_ids' holds -1, not a token id in [0, 256)");
  CHECK(msg("{\"context\": \"ab\", \"suffix\": \"c\"}") ==
        "s.jsonl:1: needs a non-empty context and a suffix of at least 2 tokens");
  CHECK(msg("{\"context\": \"ab\", \"suffix\": \"cd\"}", 100) ==
        "s.jsonl:1: text samples need a byte-level model (vocab 256), this one has 100");
  CHECK(msg("") == "s.jsonl: no samples");
  CHECK(io::read_samples("/nonexistent.jsonl", 256).status().code() == StatusCode::kErrorIo);
}

TEST_CASE("the bundled samples files read") {
  const std::filesystem::path dir =
      std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "examples" / "data";
  if (!std::filesystem::exists(dir / "code_profile.jsonl")) {
    MESSAGE("no bundled samples under ", dir.string());
    return;
  }
  for (const char* f : {"prose_profile.jsonl", "code_heldout.jsonl", "scripture_profile.jsonl"}) {
    Result<std::vector<profile::Sample>> s = io::read_samples(dir / f, 256);
    REQUIRE_MESSAGE(s.is_ok(), s.status().to_string());
    CHECK(s->size() == 16);
    CHECK((*s)[0].context.size() == 512);
    CHECK((*s)[0].suffix.size() == 64);
  }
}

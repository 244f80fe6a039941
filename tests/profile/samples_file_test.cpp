// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
#include "droidspeak/profile/samples_file.hpp"

#include "support/skip.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

using namespace droidspeak;

namespace {
constexpr std::int64_t kPositions = 1024;  // the bundled models' max_position_embeddings

std::string message(std::string_view text, std::int64_t max_positions = kPositions) {
  return profile::parse_samples(text, "s.jsonl", 256, max_positions).status().message();
}
}  // namespace

TEST_CASE("samples as text and as token ids") {
  const char* text =
      "{\"context\": \"ab\", \"suffix\": \"c\\nd\"}\n"
      "\n"
      "{\"context_ids\": [1, 2, 3], \"suffix_ids\": [4, 5]}\n";
  Result<std::vector<profile::Sample>> s = profile::parse_samples(text, "s.jsonl", 256, kPositions);
  REQUIRE_MESSAGE(s.is_ok(), s.status().to_string());
  REQUIRE(s->size() == 2);
  CHECK((*s)[0].context == std::vector<std::int32_t>{'a', 'b'});
  CHECK((*s)[0].suffix == std::vector<std::int32_t>{'c', '\n', 'd'});
  CHECK((*s)[1].context == std::vector<std::int32_t>{1, 2, 3});
  CHECK((*s)[1].suffix == std::vector<std::int32_t>{4, 5});
}

TEST_CASE("bad samples files name the line and the problem") {
  auto msg = [](const char* t, std::int64_t vocab = 256) { return profile::parse_samples(t, "s.jsonl", vocab, kPositions).status().message(); };
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
  CHECK(profile::read_samples("/nonexistent.jsonl", 256, kPositions).status().code() == StatusCode::kErrorIo);
}

TEST_CASE("the bundled samples files read") {
  const std::filesystem::path dir =
      std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "examples" / "data";
  if (!std::filesystem::exists(dir / "code_profile.jsonl")) {
    return droidspeak::test::skip_test("no bundled samples under " + dir.string());
  }
  for (const char* f : {"prose_profile.jsonl", "code_heldout.jsonl", "scripture_profile.jsonl"}) {
    Result<std::vector<profile::Sample>> s = profile::read_samples(dir / f, 256, kPositions);
    REQUIRE_MESSAGE(s.is_ok(), s.status().to_string());
    CHECK(s->size() == 16);
    // examples/data/README.md: 192 context + 64 suffix bytes, the models' 256-byte training window.
    CHECK((*s)[0].context.size() == 192);
    CHECK((*s)[0].suffix.size() == 64);
  }
}

TEST_CASE("a sample longer than max_positions is refused at load with its line") {
  // context 3 + suffix 2 = 5 positions.
  const std::string ids = "{\"context_ids\": [1, 2, 3], \"suffix_ids\": [4, 5]}\n";
  CHECK(profile::parse_samples(ids, "s.jsonl", 256, 5).is_ok());
  const Status over = profile::parse_samples("\n" + ids, "s.jsonl", 256, 4).status();
  CHECK(over.code() == StatusCode::kErrorOutOfRange);
  CHECK(over.message() == "s.jsonl:2: sample of at least 5 tokens, more than the 4 positions allowed "
                          "(max_position_embeddings)");
  // The context alone is over the limit: refused before its ids are read.
  const std::string long_context = "{\"context_ids\": [1, 2, 3, 4, 5], \"suffix_ids\": [6, 7]}";
  CHECK(message(long_context, 4) == "s.jsonl:1: sample of at least 5 tokens, more than the 4 positions allowed "
                                    "(max_position_embeddings)");
  CHECK(message("{\"context\": \"abcd\", \"suffix\": \"ef\"}", 5) ==
        "s.jsonl:1: sample of at least 6 tokens, more than the 5 positions allowed (max_position_embeddings)");
  CHECK(message(ids, 0) == "s.jsonl: max_positions must be >= 3 (a context token and a 2-token suffix), got 0");
}

TEST_CASE("a line over the byte cap is refused unparsed with its line, not bad_alloc") {
  const std::string ok = "{\"context\": \"ab\", \"suffix\": \"cd\"}\n";
  std::string huge = "{\"context\": \"";
  huge.append(profile::kMaxSamplesLineBytes, 'a');
  huge += "\", \"suffix\": \"cd\"}";
  const std::string msg = message(ok + huge, std::int64_t{1} << 40);
  CHECK(msg == "s.jsonl:2: line of " + std::to_string(huge.size()) + " bytes, longer than the " +
                   std::to_string(profile::kMaxSamplesLineBytes) + "-byte limit of a samples line");
}

TEST_CASE("invalid UTF-8 in a text sample names its byte, not 'not a JSON object'") {
  //                                   byte 15 (from 1) is the 0xff
  CHECK(message("{\"context\": \"a\xff\", \"suffix\": \"cd\"}") == "s.jsonl:1: invalid UTF-8 at byte 15");
  CHECK(message("\n{\"context\": \"ab\", \"suffix\": \"c\xc3\"}") == "s.jsonl:2: invalid UTF-8 at byte 31");
  // Valid multi-byte text is fine: each byte is a token.
  Result<std::vector<profile::Sample>> s = profile::parse_samples("{\"context\": \"\xc3\xbc\", \"suffix\": \"cd\"}",
                                                                  "s.jsonl", 256, kPositions);
  REQUIRE_MESSAGE(s.is_ok(), s.status().to_string());
  CHECK((*s)[0].context == std::vector<std::int32_t>{0xc3, 0xbc});
}

TEST_CASE("a directory passed as the samples file says it is a directory") {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "droidspeak_samples_dir_test";
  std::filesystem::create_directories(dir);
  const Status s = profile::read_samples(dir, 256, kPositions).status();
  CHECK(s.code() == StatusCode::kErrorIo);
  CHECK(s.message() == dir.string() + ": is a directory, not a file");
  std::filesystem::remove(dir);
  CHECK(profile::read_samples("/nonexistent.jsonl", 256, kPositions).status().message() ==
        "/nonexistent.jsonl: file not found");
}

TEST_CASE("a samples file on disk reports file:line") {
  const std::filesystem::path path = std::filesystem::temp_directory_path() / "droidspeak_samples_line_test.jsonl";
  {
    std::ofstream out(path, std::ios::binary);
    out << "{\"context_ids\": [1, 2, 3], \"suffix_ids\": [4, 5]}\n{\"context_ids\": [1, 2, 3, 4], \"suffix_ids\": [4, 5]}\n";
  }
  CHECK(profile::read_samples(path, 256, 5).status().message() ==
        path.string() + ":2: sample of at least 6 tokens, more than the 5 positions allowed (max_position_embeddings)");
  std::filesystem::remove(path);
}

// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Task samples files: both forms, the generation budget and stop token, and every
//! refusal naming its line.
#include "droidspeak/profile/qa_samples_file.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

using namespace droidspeak;

namespace {
constexpr std::int64_t kPositions = 1024;

std::string message(std::string_view text, std::int64_t max_positions = kPositions, std::int64_t vocab = 256) {
  return profile::parse_qa_samples(text, "q.jsonl", vocab, max_positions).status().message();
}
}  // namespace

TEST_CASE("task samples as text and as token ids") {
  const char* text =
      "{\"context\": \"k1: v1\\nk2: v2\\n\", \"question\": \"k2:\", \"answer\": \" v2\"}\n"
      "\n"
      "{\"context_ids\": [1, 2, 3], \"question_ids\": [4, 5], \"answer_ids\": [6, 7], \"stop_id\": 9,"
      " \"max_answer_tokens\": 3}\n"
      "{\"context_ids\": [1], \"question_ids\": [4, 5], \"answer_ids\": [6]}\n";
  Result<std::vector<profile::Sample>> s = profile::parse_qa_samples(text, "q.jsonl", 256, kPositions);
  REQUIRE_MESSAGE(s.is_ok(), s.status().to_string());
  REQUIRE(s->size() == 3);
  const profile::Sample& a = (*s)[0];
  CHECK(a.context.size() == 14);
  CHECK(a.suffix == std::vector<std::int32_t>{'k', '2', ':'});
  CHECK(a.answer == std::vector<std::int32_t>{' ', 'v', '2'});
  CHECK(a.answer_kind == profile::AnswerKind::kText);
  CHECK(a.stop_token == '\n');
  CHECK(a.max_answer_tokens == 3 + profile::kAnswerSlackTokens);
  const profile::Sample& b = (*s)[1];
  CHECK(b.context == std::vector<std::int32_t>{1, 2, 3});
  CHECK(b.suffix == std::vector<std::int32_t>{4, 5});
  CHECK(b.answer == std::vector<std::int32_t>{6, 7});
  CHECK(b.answer_kind == profile::AnswerKind::kIds);
  CHECK(b.stop_token == 9);
  CHECK(b.max_answer_tokens == 3);
  CHECK((*s)[2].stop_token == -1);  // ids without stop_id: the whole budget
  CHECK((*s)[2].max_answer_tokens == 1 + profile::kAnswerSlackTokens);
}

TEST_CASE("the default budget is capped by the positions left") {
  // 4 + 2 + 2 = 8 positions used of 10: the budget is 2 + 8 = 10 tokens, capped at 10 - 6 = 4.
  Result<std::vector<profile::Sample>> s = profile::parse_qa_samples(
      "{\"context\": \"abcd\", \"question\": \"ef\", \"answer\": \"gh\"}", "q.jsonl", 256, 10);
  REQUIRE_MESSAGE(s.is_ok(), s.status().to_string());
  CHECK((*s)[0].max_answer_tokens == 4);
  CHECK(message("{\"context\": \"abcd\", \"question\": \"ef\", \"answer\": \"gh\", \"max_answer_tokens\": 5}", 10) ==
        "q.jsonl:1: context, question and 5 answer tokens exceed the 10 positions allowed (max_position_embeddings)");
  CHECK(message("{\"context\": \"abcd\", \"question\": \"ef\", \"answer\": \"ghijk\"}", 10) ==
        "q.jsonl:1: sample of at least 11 tokens, more than the 10 positions allowed (max_position_embeddings)");
}

TEST_CASE("bad task samples name the line and the problem") {
  CHECK(message("{\"context\": \"ab\", \"question\": \"cd\"}") ==
        "q.jsonl:1: give exactly one of 'answer' and 'answer_ids'");
  CHECK(message("{\"context\": \"ab\", \"question\": \"cd\", \"answer\": \"\"}") ==
        "q.jsonl:1: needs a non-empty context, a question of at least 2 tokens and a non-empty answer");
  CHECK(message("{\"context\": \"ab\", \"question\": \"c\", \"answer\": \"x\"}") ==
        "q.jsonl:1: needs a non-empty context, a question of at least 2 tokens and a non-empty answer");
  CHECK(message("{\"context\": \"ab\", \"question\": \"cd\", \"answer_ids\": [1]}") ==
        "q.jsonl:1: give context, question and answer all as text or all as ids");
  CHECK(message("{\"context\": \"ab\", \"question\": \"cd\", \"answer\": \"x\\ny\"}") ==
        "q.jsonl:1: the answer holds a line feed, where generation stops");
  CHECK(message("{\"context\": \"ab\", \"question\": \"cd\", \"answer\": \"x\", \"stop_id\": 1}") ==
        "q.jsonl:1: 'stop_id' is for ids samples (text stops at '\\n')");
  CHECK(message("{\"context_ids\": [1], \"question_ids\": [2, 3], \"answer_ids\": [4, 5], \"stop_id\": 5}") ==
        "q.jsonl:1: 'answer_ids' holds the stop_id, where generation stops");
  CHECK(message("{\"context_ids\": [1], \"question_ids\": [2, 3], \"answer_ids\": [4], \"stop_id\": 256}") ==
        "q.jsonl:1: 'stop_id' is 256, not a token id in [0, 256)");
  CHECK(message("{\"context_ids\": [1], \"question_ids\": [2, 3], \"answer_ids\": [4], \"max_answer_tokens\": 0}") ==
        "q.jsonl:1: 'max_answer_tokens' is 0, not an integer in [1, 4096]");
  CHECK(message("{\"context_ids\": [1], \"question_ids\": [2, 3], \"answer_ids\": [4], \"max_answer_tokens\": 1.5}") ==
        "q.jsonl:1: 'max_answer_tokens' is 1.5, not an integer in [1, 4096]");
  CHECK(message("{\"context_ids\": [1], \"question_ids\": [2, 300], \"answer_ids\": [4]}") ==
        "q.jsonl:1: 'question_ids' holds 300, not a token id in [0, 256)");
  CHECK(message("{\"context\": \"ab\", \"question\": \"cd\", \"answer\": \"x\"}", kPositions, 100) ==
        "q.jsonl:1: text samples need a byte-level model (vocab 256), this one has 100");
  CHECK(message("\n\n{\"context\": \"ab\", \"question\": \"cd\", \"answer\": \"\xff\"}") ==
        "q.jsonl:3: invalid UTF-8 at byte 48");
  CHECK(message("") == "q.jsonl: no samples");
  CHECK(message("{}", 3) ==
        "q.jsonl: max_positions must be >= 4 (a context token, a 2-token question and an answer token), got 3");
  const std::string huge(profile::kMaxSamplesLineBytes + 1, ' ');
  CHECK(message("{\"context\": \"ab\", \"question\": \"cd\", \"answer\": \"x\"}\n" + huge) ==
        "q.jsonl:2: line of " + std::to_string(huge.size()) + " bytes, longer than the " +
            std::to_string(profile::kMaxSamplesLineBytes) + "-byte limit of a samples line");
  CHECK(profile::read_qa_samples("/nonexistent.jsonl", 256, kPositions).status().code() == StatusCode::kErrorIo);
}

TEST_CASE("a task samples file is told from a samples file by its first line") {
  CHECK(profile::looks_like_qa_samples("\n{\"context\": \"a\", \"question\": \"bc\", \"answer\": \"d\"}\n{}"));
  CHECK(profile::looks_like_qa_samples("{\"context_ids\": [1], \"question_ids\": [2, 3]}"));
  CHECK_FALSE(profile::looks_like_qa_samples("{\"context\": \"a\", \"suffix\": \"bc\"}\n{\"question\": \"x\"}"));
  CHECK_FALSE(profile::looks_like_qa_samples("not json"));
  CHECK_FALSE(profile::looks_like_qa_samples(""));
}

TEST_CASE("the bundled task samples read") {
  const std::filesystem::path file = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() /
                                     "examples" / "cli" / "testdata" / "recall_qa.jsonl";
  Result<std::vector<profile::Sample>> s = profile::read_qa_samples(file, 256, kPositions);
  REQUIRE_MESSAGE(s.is_ok(), s.status().to_string());
  CHECK(s->size() >= 4);
  for (const profile::Sample& x : *s) CHECK(x.answer_kind == profile::AnswerKind::kText);
}

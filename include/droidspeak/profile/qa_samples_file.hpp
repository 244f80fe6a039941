// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Task samples files: JSON Lines of a context, a question and a reference answer, for
//! the f1 and exact measures (the receiver answers greedily over the mixed cache). Same error
//! discipline as profile/samples_file.hpp, whose line reader it shares; needs nlohmann_json
//! (link droidspeak::io). Including it compiles no profiler and no executor.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/io/detail/json.hpp"
#include "droidspeak/profile/sample.hpp"
#include "droidspeak/profile/samples_file.hpp"  // detail::for_each_json_line, read_sample_tokens

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace profile {

//! Text answers end at the first line feed: the receiver's generation stops after emitting it.
inline constexpr std::int32_t kTextAnswerStop = '\n';
//! Generation budget when a sample gives none: the answer's length plus this slack.
inline constexpr std::int64_t kAnswerSlackTokens = 8;
//! The largest max_answer_tokens a sample may ask for.
inline constexpr std::int64_t kMaxAnswerTokens = 4096;

//! Parses a task samples file. One JSON object per non-blank line, either
//!   {"context": "<text>", "question": "<text>", "answer": "<text>"}
//!       tokens are the UTF-8 bytes (byte-level models, vocab >= 256); the receiver's
//!       answer ends at the first '\n' it generates (kTextAnswerStop), so the reference
//!       answer may not contain one
//!   {"context_ids": [...], "question_ids": [...], "answer_ids": [...], "stop_id": 10}
//!       token ids in [0, vocab_size); "stop_id" (optional, an id) ends the generated answer
//!       and may not occur in answer_ids; without it generation runs the full budget
//! and optionally "max_answer_tokens": N in [1, kMaxAnswerTokens], the most tokens generated
//! (default: the answer's length + kAnswerSlackTokens, capped by the positions left). The
//! text and ids forms cannot be mixed within a line. The context is the reused part (the
//! sender's KV), the question is the suffix the receiver prefills over the mixed cache, and
//! the answer is what it should then generate greedily: the result is a Sample with `suffix`
//! = the question and the answer fields set (AnswerKind::kText or kIds).
//! Needs a non-empty context, a question of at least 2 tokens (the suffix is also scored by
//! loss, accuracy and KL), a non-empty answer, and context + question + the generation budget
//! within `max_positions`. Messages start with "<file_name>:<line>", as parse_samples'; lines
//! over kMaxSamplesLineBytes are refused unparsed and invalid UTF-8 is reported at its byte.
inline Result<std::vector<Sample>> parse_qa_samples(std::string_view text, std::string_view file_name,
                                                    std::int64_t vocab_size, std::int64_t max_positions) {
  const std::string file(file_name);
  if (max_positions < 4) {
    return Status::invalid_argument(file + ": max_positions must be >= 4 (a context token, a 2-token question and "
                                           "an answer token), got " + std::to_string(max_positions));
  }
  const auto limit = static_cast<std::size_t>(max_positions);
  std::vector<Sample> out;
  DROIDSPEAK_TRY(detail::for_each_json_line(text, file, [&](const io::detail::Json& j,
                                                            const std::string& where) -> Status {
    Sample s;
    bool text_context = false, text_question = false, text_answer = false;
    DROIDSPEAK_TRY(detail::read_sample_tokens(j, where, "context", "context_ids", vocab_size, limit, 0, s.context,
                                              &text_context));
    DROIDSPEAK_TRY(detail::read_sample_tokens(j, where, "question", "question_ids", vocab_size, limit,
                                              s.context.size(), s.suffix, &text_question));
    DROIDSPEAK_TRY(detail::read_sample_tokens(j, where, "answer", "answer_ids", vocab_size, limit,
                                              s.context.size() + s.suffix.size(), s.answer, &text_answer));
    if (text_context != text_question || text_question != text_answer) {
      return Status::io_error(where + ": give context, question and answer all as text or all as ids");
    }
    if (s.context.empty() || s.suffix.size() < 2 || s.answer.empty()) {
      return Status::io_error(where + ": needs a non-empty context, a question of at least 2 tokens and a "
                                      "non-empty answer");
    }
    s.answer_kind = text_answer ? AnswerKind::kText : AnswerKind::kIds;
    if (text_answer) {
      if (j.contains("stop_id")) return Status::io_error(where + ": 'stop_id' is for ids samples (text stops at '\\n')");
      s.stop_token = kTextAnswerStop;
    } else if (const auto stop = j.find("stop_id"); stop != j.end()) {
      std::int64_t id = 0;
      if (!io::detail::json_to_i64(*stop, id) || id < 0 || id >= vocab_size) {
        return Status::io_error(where + ": 'stop_id' is " + stop->dump() + ", not a token id in [0, " +
                                std::to_string(vocab_size) + ")");
      }
      s.stop_token = static_cast<std::int32_t>(id);
    }
    if (s.stop_token >= 0 && std::find(s.answer.begin(), s.answer.end(), s.stop_token) != s.answer.end()) {
      return Status::io_error(where + (text_answer ? std::string(": the answer holds a line feed, where generation stops")
                                                   : ": 'answer_ids' holds the stop_id, where generation stops"));
    }
    const auto room = static_cast<std::int64_t>(limit - s.context.size() - s.suffix.size());
    if (const auto budget = j.find("max_answer_tokens"); budget != j.end()) {
      if (!io::detail::json_to_i64(*budget, s.max_answer_tokens) || s.max_answer_tokens < 1 ||
          s.max_answer_tokens > kMaxAnswerTokens) {
        return Status::io_error(where + ": 'max_answer_tokens' is " + budget->dump() + ", not an integer in [1, " +
                                std::to_string(kMaxAnswerTokens) + "]");
      }
      if (s.max_answer_tokens > room) {
        return Status::out_of_range(where + ": context, question and " + std::to_string(s.max_answer_tokens) +
                                    " answer tokens exceed the " + std::to_string(limit) +
                                    " positions allowed (max_position_embeddings)");
      }
    } else {
      s.max_answer_tokens =
          std::min({static_cast<std::int64_t>(s.answer.size()) + kAnswerSlackTokens, kMaxAnswerTokens, room});
    }
    out.push_back(std::move(s));
    return Status::ok();
  }));
  if (out.empty()) return Status::io_error(file + ": no samples");
  return out;
}

//! Reads a task samples file (see parse_qa_samples). A directory or a missing file is named
//! as such.
inline Result<std::vector<Sample>> read_qa_samples(const std::filesystem::path& path, std::int64_t vocab_size,
                                                   std::int64_t max_positions) {
  std::string text;
  DROIDSPEAK_TRY(io::detail::read_text_file(path, text));
  return parse_qa_samples(text, path.string(), vocab_size, max_positions);
}

//! Whether `text` is a task samples file: its first non-blank line is a JSON object with a
//! "question" or "question_ids" key. Anything else (also unparsable text) is left to
//! parse_samples, whose messages then say what is wrong.
inline bool looks_like_qa_samples(std::string_view text) {
  bool qa = false, seen = false;
  (void)detail::for_each_json_line(text, "", [&](const io::detail::Json& j, const std::string&) -> Status {
    if (!seen) qa = j.contains("question") || j.contains("question_ids");
    seen = true;
    return Status::internal("first line read");  // stops the walk: one line decides
  });
  return qa;
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::profile

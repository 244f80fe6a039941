// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Profiling and evaluation samples files: JSON Lines of a context and a suffix, as
//! text (byte-level models: a token is a byte) or as token ids (any model). A run artefact of
//! profile/, kept out of io/ (which holds model files only); it needs nlohmann_json, so link
//! droidspeak::io to use it. Including it compiles no profiler and no executor.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/io/detail/json.hpp"
#include "droidspeak/profile/sample.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace profile {

//! The longest line a samples file may hold, in bytes (16 MiB: about 2 million token ids, or
//! 16 million text tokens, far above any model's context). A longer line is refused before
//! it is parsed, so a corrupt or runaway file costs neither memory nor time.
inline constexpr std::size_t kMaxSamplesLineBytes = std::size_t{16} << 20;

namespace detail {

// Calls `on_object(j, where)` for every non-blank line of a JSON Lines file, each a JSON
// object, where = "<file>:<line>"; stops at the first failure. Lines longer than
// kMaxSamplesLineBytes, invalid UTF-8 and lines that are not JSON objects are refused here.
template <class OnObject>
Status for_each_json_line(std::string_view text, const std::string& file, OnObject&& on_object) {
  std::size_t line_no = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    const std::string where = file + ":" + std::to_string(line_no);
    if (line.size() > kMaxSamplesLineBytes) {
      return Status::io_error(where + ": line of " + std::to_string(line.size()) + " bytes, longer than the " +
                              std::to_string(kMaxSamplesLineBytes) + "-byte limit of a samples line");
    }
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    if (const std::size_t bad = io::detail::invalid_utf8_at(line); bad != std::string_view::npos) {
      return Status::io_error(where + ": invalid UTF-8 at byte " + std::to_string(bad + 1));
    }
    const io::detail::Json j = io::detail::parse_json(line);
    if (j.is_discarded() || !j.is_object()) return Status::io_error(where + ": not a JSON object");
    DROIDSPEAK_TRY(on_object(j, where));
  }
  return Status::ok();
}

// Appends the tokens of exactly one of j[text_key] (a string: its UTF-8 bytes, which needs
// vocab_size >= 256) and j[ids_key] (an array of ids in [0, vocab_size)) to `tokens`, with
// `before` tokens of the sample read already; more than `limit` in all is out_of_range.
// Sets *was_text (if given) to whether the text form was used.
inline Status read_sample_tokens(const io::detail::Json& j, const std::string& where, const char* text_key,
                                 const char* ids_key, std::int64_t vocab_size, std::size_t limit, std::size_t before,
                                 std::vector<std::int32_t>& tokens, bool* was_text = nullptr) {
  auto too_long = [&](std::size_t n) {
    return Status::out_of_range(where + ": sample of at least " + std::to_string(n) + " tokens, more than the " +
                                std::to_string(limit) + " positions allowed (max_position_embeddings)");
  };
  const auto t = j.find(text_key);
  const auto ids = j.find(ids_key);
  if ((t == j.end()) == (ids == j.end())) {
    return Status::io_error(where + ": give exactly one of '" + text_key + "' and '" + ids_key + "'");
  }
  if (was_text != nullptr) *was_text = t != j.end();
  if (t != j.end()) {
    if (!t->is_string()) return Status::io_error(where + ": '" + text_key + "' must be a string");
    if (vocab_size < 256) {
      return Status::invalid_argument(where + ": text samples need a byte-level model (vocab 256), this one has " +
                                      std::to_string(vocab_size));
    }
    const std::string& bytes = t->get_ref<const std::string&>();
    if (before + bytes.size() > limit) return too_long(before + bytes.size());
    for (unsigned char c : bytes) tokens.push_back(static_cast<std::int32_t>(c));
    return Status::ok();
  }
  if (!ids->is_array()) return Status::io_error(where + ": '" + ids_key + "' must be an array of integers");
  if (before + ids->size() > limit) return too_long(before + ids->size());
  for (const io::detail::Json& v : *ids) {
    std::int64_t id = 0;
    if (!io::detail::json_to_i64(v, id) || id < 0 || id >= vocab_size) {
      return Status::io_error(where + ": '" + ids_key + "' holds " + v.dump() + ", not a token id in [0, " +
                              std::to_string(vocab_size) + ")");
    }
    tokens.push_back(static_cast<std::int32_t>(id));
  }
  return Status::ok();
}

}  // namespace detail

//! Parses a samples file. One JSON object per non-blank line, either
//!   {"context": "<text>", "suffix": "<text>"}        tokens are the UTF-8 bytes (vocab 256)
//!   {"context_ids": [1, 2, ...], "suffix_ids": [...]} token ids, each in [0, vocab_size)
//! Every sample needs a non-empty context and a suffix of at least 2 tokens (a prediction
//! to score), and at most `max_positions` tokens in all (context + suffix: the positions the
//! receiver runs, e.g. its max_position_embeddings), so an over-long sample is refused here,
//! before any compute. `vocab_size` bounds the ids (text needs vocab_size >= 256).
//! Every message starts with "<file_name>:<line>" (lines count from 1); a line longer than
//! kMaxSamplesLineBytes is refused unparsed, and invalid UTF-8 is reported at its byte
//! (counted from 1 within the line), e.g. "s.jsonl:3: invalid UTF-8 at byte 17".
//! Task samples with questions and answers have a format of their own:
//! profile/qa_samples_file.hpp.
inline Result<std::vector<Sample>> parse_samples(std::string_view text, std::string_view file_name,
                                                 std::int64_t vocab_size, std::int64_t max_positions) {
  const std::string file(file_name);
  if (max_positions < 3) {
    return Status::invalid_argument(file + ": max_positions must be >= 3 (a context token and a 2-token suffix), got " +
                                    std::to_string(max_positions));
  }
  const auto limit = static_cast<std::size_t>(max_positions);
  std::vector<Sample> out;
  DROIDSPEAK_TRY(detail::for_each_json_line(text, file, [&](const io::detail::Json& j, const std::string& where) -> Status {
    Sample s;
    DROIDSPEAK_TRY(detail::read_sample_tokens(j, where, "context", "context_ids", vocab_size, limit, 0, s.context));
    DROIDSPEAK_TRY(detail::read_sample_tokens(j, where, "suffix", "suffix_ids", vocab_size, limit, s.context.size(),
                                              s.suffix));
    if (s.context.empty() || s.suffix.size() < 2) {
      return Status::io_error(where + ": needs a non-empty context and a suffix of at least 2 tokens");
    }
    out.push_back(std::move(s));
    return Status::ok();
  }));
  if (out.empty()) return Status::io_error(file + ": no samples");
  return out;
}

//! Reads a samples file (see parse_samples). A directory or a missing file is named as such.
inline Result<std::vector<Sample>> read_samples(const std::filesystem::path& path, std::int64_t vocab_size,
                                                std::int64_t max_positions) {
  std::string text;
  DROIDSPEAK_TRY(io::detail::read_text_file(path, text));
  return parse_samples(text, path.string(), vocab_size, max_positions);
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::profile

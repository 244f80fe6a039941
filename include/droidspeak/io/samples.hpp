// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Profiling and evaluation samples files: JSON Lines of a context and a suffix, as
//! text (byte-level models: a token is a byte) or as token ids (any model).
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/io/detail/json.hpp"
#include "droidspeak/profile/profiler.hpp"  // profile::Sample

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace droidspeak::inline DROIDSPEAK_ABI::io {

//! Parses a samples file. One JSON object per non-blank line, either
//!   {"context": "<text>", "suffix": "<text>"}        tokens are the UTF-8 bytes (vocab 256)
//!   {"context_ids": [1, 2, ...], "suffix_ids": [...]} token ids, each in [0, vocab_size)
//! Every sample needs a non-empty context and a suffix of at least 2 tokens (a prediction
//! to score). `vocab_size` bounds the ids (text needs vocab_size >= 256).
inline Result<std::vector<profile::Sample>> parse_samples(std::string_view text, std::string_view file_name,
                                                          std::int64_t vocab_size) {
  const std::string file(file_name);
  std::vector<profile::Sample> out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const std::string where = file + ":" + std::to_string(line_no);
    const detail::Json j = detail::parse_json(line);
    if (j.is_discarded() || !j.is_object()) return Status::io_error(where + ": not a JSON object");
    profile::Sample s;
    auto read = [&](const char* text_key, const char* ids_key, std::vector<std::int32_t>& tokens) -> Status {
      const auto t = j.find(text_key);
      const auto ids = j.find(ids_key);
      if ((t == j.end()) == (ids == j.end())) {
        return Status::io_error(where + ": give exactly one of '" + text_key + "' and '" + ids_key + "'");
      }
      if (t != j.end()) {
        if (!t->is_string()) return Status::io_error(where + ": '" + text_key + "' must be a string");
        if (vocab_size < 256) {
          return Status::invalid_argument(where + ": text samples need a byte-level model (vocab 256), this one has " +
                                          std::to_string(vocab_size));
        }
        for (unsigned char c : t->get<std::string>()) tokens.push_back(static_cast<std::int32_t>(c));
        return Status::ok();
      }
      if (!ids->is_array()) return Status::io_error(where + ": '" + ids_key + "' must be an array of integers");
      for (const detail::Json& v : *ids) {
        std::int64_t id = 0;
        if (!detail::json_to_i64(v, id) || id < 0 || id >= vocab_size) {
          return Status::io_error(where + ": '" + ids_key + "' holds " + v.dump() + ", not a token id in [0, " +
                                  std::to_string(vocab_size) + ")");
        }
        tokens.push_back(static_cast<std::int32_t>(id));
      }
      return Status::ok();
    };
    DROIDSPEAK_TRY(read("context", "context_ids", s.context));
    DROIDSPEAK_TRY(read("suffix", "suffix_ids", s.suffix));
    if (s.context.empty() || s.suffix.size() < 2) {
      return Status::io_error(where + ": needs a non-empty context and a suffix of at least 2 tokens");
    }
    out.push_back(std::move(s));
  }
  if (out.empty()) return Status::io_error(file + ": no samples");
  return out;
}

//! Reads a samples file (see parse_samples).
inline Result<std::vector<profile::Sample>> read_samples(const std::filesystem::path& path, std::int64_t vocab_size) {
  std::string text;
  DROIDSPEAK_TRY(detail::read_text_file(path, text));
  return parse_samples(text, path.string(), vocab_size);
}

}  // namespace droidspeak::inline DROIDSPEAK_ABI::io

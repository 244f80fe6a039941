// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Tokens for the reference engine: byte-level for the bundled models (a token is a
//! byte, vocabulary 256) and token-id files for any other checkpoint.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"

#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <fstream>  // std::ifstream: token-id files
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace reference {

//! The vocabulary of the bundled byte-level models.
inline constexpr std::int64_t kByteVocabSize = 256;

//! One token per byte of `text`, its unsigned value.
inline std::vector<std::int32_t> byte_tokens(std::string_view text) {
  std::vector<std::int32_t> out;
  out.reserve(text.size());
  for (char c : text) out.push_back(static_cast<std::int32_t>(static_cast<unsigned char>(c)));
  return out;
}

//! The bytes of `tokens`; out_of_range naming the first token outside [0, 256).
inline Result<std::string> bytes_of(std::span<const std::int32_t> tokens) {
  std::string out;
  out.reserve(tokens.size());
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= kByteVocabSize) {
      return Status::out_of_range("bytes_of: token " + std::to_string(i) + " is " +
                                  std::to_string(tokens[i]) + ", not a byte [0, 256)");
    }
    out.push_back(static_cast<char>(static_cast<unsigned char>(tokens[i])));
  }
  return out;
}

//! Parses whitespace-separated decimal token ids, each in [0, vocab_size) (vocab_size <= 0:
//! any non-negative int32). `where` names the source in messages.
inline Result<std::vector<std::int32_t>> parse_token_ids(std::string_view text,
                                                         std::int64_t vocab_size,
                                                         std::string_view where = "token ids") {
  std::vector<std::int32_t> out;
  std::size_t i = 0;
  std::int64_t line = 1;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (std::isspace(c)) {
      if (c == '\n') ++line;
      ++i;
      continue;
    }
    const std::size_t start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    const std::string word(text.substr(start, i - start));
    bool digits = word.size() <= 10;
    for (char d : word) digits = digits && d >= '0' && d <= '9';
    const long long v = digits ? std::strtoll(word.c_str(), nullptr, 10) : -1;
    if (!digits || v > INT32_MAX || (vocab_size > 0 && v >= vocab_size)) {
      return Status::invalid_argument(
          std::string(where) + ": line " + std::to_string(line) + ": \"" + word.substr(0, 32) +
          "\" is not a token id" +
          (vocab_size > 0 ? " in [0, " + std::to_string(vocab_size) + ")" : std::string()));
    }
    out.push_back(static_cast<std::int32_t>(v));
  }
  return out;
}

//! Reads a token-id file (whitespace-separated decimal integers).
inline Result<std::vector<std::int32_t>> read_token_file(const std::string& path,
                                                         std::int64_t vocab_size) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error(path + ": cannot open token-id file");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::io_error(path + ": read error");
  return parse_token_ids(text, vocab_size, path);
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::reference

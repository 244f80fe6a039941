// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Non-throwing helpers around nlohmann::json shared by the io/ readers: parsing,
//! typed field access and whole-file reads. Nothing here throws on bad input, so io/ also
//! builds with -fno-exceptions.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"

#include <nlohmann/json.hpp>  // nlohmann::json

#include <cerrno>
#include <cmath>        // std::isfinite
#include <cstdint>
#include <cstring>      // std::strerror
#include <filesystem>
#include <fstream>      // std::ifstream: whole-file reads of small JSON files
#include <iterator>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace io::detail {

using Json = nlohmann::json;

//! Parses `text` without exceptions; a discarded value means "not JSON".
inline Json parse_json(std::string_view text) {
  // nlohmann stops at a NUL byte as if the input ended there; JSON allows none anywhere.
  if (text.find('\0') != std::string_view::npos) return Json(Json::value_t::discarded);
  return Json::parse(text.begin(), text.end(), /*cb=*/nullptr, /*allow_exceptions=*/false);
}

//! Name of a JSON value's type for messages ("string", "number", ...).
inline std::string json_type_name(const Json& j) {
  if (j.is_number_float()) return "non-integer number";
  return j.type_name();
}

//! A JSON integer as int64: false for non-integers and for unsigned values above INT64_MAX.
inline bool json_to_i64(const Json& j, std::int64_t& out) {
  if (j.is_number_unsigned()) {
    const auto u = j.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return false;
    out = static_cast<std::int64_t>(u);
    return true;
  }
  if (j.is_number_integer()) {
    out = j.get<std::int64_t>();
    return true;
  }
  return false;
}

//! A JSON number (integer or not) as a finite double.
inline bool json_to_double(const Json& j, double& out) {
  if (!j.is_number()) return false;
  out = j.get<double>();
  return std::isfinite(out);
}

//! Reads a whole (small) file into `text`. Fails with an i/o status naming the file: "is a
//! directory" for a directory, "file not found" for anything else that is not a file.
inline Status read_text_file(const std::filesystem::path& path, std::string& text) {
  std::error_code ec;
  const std::filesystem::file_status st = std::filesystem::status(path, ec);
  if (std::filesystem::is_directory(st)) return Status::io_error(path.string() + ": is a directory, not a file");
  if (!std::filesystem::exists(st)) return Status::io_error(path.string() + ": file not found");
  if (!std::filesystem::is_regular_file(st)) return Status::io_error(path.string() + ": not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::io_error(path.string() + ": cannot open: " + std::strerror(errno));
  }
  text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::io_error(path.string() + ": read failed");
  return Status::ok();
}

//! The offset of the first byte of `s` that does not start a well-formed UTF-8 sequence
//! (what a JSON string must hold), or std::string_view::npos when all of `s` is UTF-8.
inline std::size_t invalid_utf8_at(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07;
    } else {
      return i;
    }
    if (i + n >= s.size()) return i;  // the sequence is cut short
    for (std::size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return i;
    }
    i += n + 1;
  }
  return std::string_view::npos;
}

//! True when `s` is well-formed UTF-8 (what a JSON string must hold).
inline bool is_valid_utf8(std::string_view s) { return invalid_utf8_at(s) == std::string_view::npos; }

}}}  // namespace droidspeak::DROIDSPEAK_ABI::io::detail

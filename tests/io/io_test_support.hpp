// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Helpers for the io/ tests: a self-removing temporary directory, crafted
//! safetensors bytes and file writers.
#pragma once

#include "droidspeak/core/status.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>  // std::getenv
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <fstream>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <unistd.h>  // getpid: distinct directories for parallel CTest processes

namespace droidspeak::test {

//! A fresh directory under the system temp dir, removed with everything in it on scope exit.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("droidspeak_io_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::filesystem::path& p, const std::vector<std::byte>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

inline void write_text(const std::filesystem::path& p, std::string_view text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  REQUIRE(out.good());
}

//! 8-byte little-endian `header_len`, then `rest` verbatim.
inline std::vector<std::byte> raw_safetensors(std::uint64_t header_len, std::string_view rest) {
  std::vector<std::byte> out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::byte>((header_len >> (8 * i)) & 0xFF));
  for (char c : rest) out.push_back(static_cast<std::byte>(c));
  return out;
}

//! A file with the given JSON header (its true length) followed by `data_bytes` zero bytes.
inline std::vector<std::byte> crafted_safetensors(std::string_view header,
                                                  std::size_t data_bytes) {
  std::vector<std::byte> out = raw_safetensors(header.size(), header);
  out.resize(out.size() + data_bytes, std::byte{0});
  return out;
}

//! Checks a failed status: its code and that its message holds every substring.
inline void check_error(const Status& s, StatusCode code,
                        std::span<const std::string_view> substrings) {
  CHECK_FALSE(s.is_ok());
  CHECK_MESSAGE(s.code() == code, s.to_string());
  for (std::string_view sub : substrings) {
    CHECK_MESSAGE(s.message().find(sub) != std::string::npos,
                  "message \"" << s.message() << "\" lacks \"" << sub << "\"");
  }
}
inline void check_error(const Status& s, StatusCode code,
                        std::initializer_list<std::string_view> substrings) {
  check_error(s, code, std::span<const std::string_view>(substrings.begin(), substrings.size()));
}

//! Where the bundled model family lives: $DROIDSPEAK_MODELS_DIR, else the source tree's
//! examples/models (found from this file's path).
inline std::filesystem::path bundled_models_dir() {
  if (const char* env = std::getenv("DROIDSPEAK_MODELS_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "examples" /
         "models";
}

//! The bundled model directories holding `config.json` and `model.safetensors`, sorted;
//! empty while the family has not been trained.
inline std::vector<std::filesystem::path> bundled_model_dirs() {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  const auto root = bundled_models_dir();
  if (!std::filesystem::is_directory(root, ec)) return out;
  for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
    if (std::filesystem::exists(entry.path() / "config.json", ec) &&
        std::filesystem::exists(entry.path() / "model.safetensors", ec)) {
      out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace droidspeak::test

// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Writing output files safely: a check that a file could be written, to run before
//! any expensive work, and an atomic write (a temporary file in the same directory, flushed,
//! then renamed over the target), so a failure never leaves a half-written file. POSIX only.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"

#include <fcntl.h>   // open
#include <unistd.h>  // write, fsync, close, unlink, getpid

#include <atomic>
#include <cerrno>
#include <cstring>  // std::strerror
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace droidspeak::inline DROIDSPEAK_ABI::io {

namespace detail {
// A name for a temporary file beside `path`, unique within this process and across processes.
inline std::filesystem::path temporary_beside(const std::filesystem::path& path) {
  static std::atomic<unsigned> counter{0};
  std::filesystem::path tmp = path;
  tmp += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  return tmp;
}

// Creates `file` exclusively and writes `bytes` to it, flushed to disk; errno-style message on failure.
inline Status write_new_file(const std::filesystem::path& file, std::string_view bytes) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Status::io_error(file.parent_path().string() + ": cannot write there: " + std::strerror(errno));
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    const ::ssize_t w = ::write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(file.c_str());
      return Status::io_error(file.string() + ": write failed: " + std::strerror(err));
    }
    p += w;
    left -= static_cast<std::size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    ::unlink(file.c_str());
    return Status::io_error(file.string() + ": write failed: " + std::strerror(err));
  }
  return Status::ok();
}
}  // namespace detail

//! Whether a file could be written at `path` now: `path` is not a directory, and its
//! directory exists and accepts a new file (tried by creating and removing a temporary file),
//! or, when missing, could be created (its nearest existing ancestor is a directory that
//! accepts a new file). Creates nothing that stays. Fails with a message naming `path`.
inline Status check_writable_file(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (path.empty()) return Status::invalid_argument("empty output path");
  if (fs::is_directory(path, ec)) return Status::io_error(path.string() + ": is a directory");
  fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  while (!fs::exists(dir, ec)) {
    if (!dir.has_parent_path() || dir.parent_path() == dir) break;
    dir = dir.parent_path();
  }
  if (!fs::is_directory(dir, ec)) {
    return Status::io_error(path.string() + ": cannot be written, " + dir.string() + " is not a directory");
  }
  const fs::path probe = detail::temporary_beside(dir / ".droidspeak-write-check");
  if (Status s = detail::write_new_file(probe, {}); !s) {
    return Status::io_error(path.string() + ": cannot be written (" + s.message() + ")");
  }
  fs::remove(probe, ec);
  return Status::ok();
}

//! Whether files could be written into directory `dir` (existing, or creatable): see
//! check_writable_file. Fails with a message naming `dir`.
inline Status check_writable_directory(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) return Status::io_error(dir.string() + ": not a directory");
  Status s = check_writable_file(dir / "x");
  if (!s) return Status::io_error(dir.string() + ": cannot write files there (" + s.message() + ")");
  return Status::ok();
}

//! Writes `bytes` to `path` atomically: into a temporary file in the same directory (so the
//! rename stays on one file system), flushed, then renamed over `path`. Readers see the old
//! file or the whole new one, never part of it; on failure `path` is untouched and the
//! temporary file removed. The directory must exist.
inline Status write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) return Status::io_error(path.string() + ": is a directory");
  const fs::path tmp = detail::temporary_beside(path);
  if (Status s = detail::write_new_file(tmp, bytes); !s) {
    return Status::io_error(path.string() + ": cannot write (" + s.message() + ")");
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return Status::io_error(path.string() + ": cannot write (rename failed: " + ec.message() + ")");
  }
  return Status::ok();
}

}  // namespace droidspeak::inline DROIDSPEAK_ABI::io

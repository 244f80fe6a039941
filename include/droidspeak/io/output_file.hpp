// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Writing output files safely: a check that a file could be written, to run before
//! any expensive work, and an atomic write (a temporary file in the same directory, flushed,
//! then renamed over the target), so a failure never leaves a half-written file, or a partial
//! set of files. POSIX only.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"

#include <fcntl.h>   // open
#include <unistd.h>  // write, fsync, close, unlink, getpid

#include <atomic>
#include <cerrno>
#include <cstring>  // std::strerror
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace io {

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
    if (dir.parent_path() == dir) break;  // a missing root: reported below
    // A relative path's last missing component would be created in the working directory.
    dir = dir.has_parent_path() ? dir.parent_path() : fs::path(".");
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

//! One file of a set written together.
struct OutputFile {
  std::filesystem::path path;
  std::string bytes;
};

//! Writes a set of files so that a failure leaves none of them changed: every file is first
//! written to a temporary file beside its target (all of them, flushed), and only then are
//! they renamed over their targets, in order. A failure while writing removes every
//! temporary file and changes nothing; a rename can fail only in a directory that stopped
//! accepting changes meanwhile, and is reported naming the file. The directories must exist.
inline Status write_files_atomically(std::span<const OutputFile> files) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> staged;
  auto unstage = [&] {
    for (const fs::path& t : staged) fs::remove(t, ec);
  };
  for (const OutputFile& f : files) {
    if (fs::is_directory(f.path, ec)) {
      unstage();
      return Status::io_error(f.path.string() + ": is a directory");
    }
    const fs::path tmp = detail::temporary_beside(f.path);
    if (Status s = detail::write_new_file(tmp, f.bytes); !s) {
      unstage();
      return Status::io_error(f.path.string() + ": cannot write (" + s.message() + ")");
    }
    staged.push_back(tmp);
  }
  for (std::size_t i = 0; i < files.size(); ++i) {
    fs::rename(staged[i], files[i].path, ec);
    if (ec) {
      const std::string why = ec.message();
      for (std::size_t j = i; j < staged.size(); ++j) fs::remove(staged[j], ec);
      return Status::io_error(files[i].path.string() + ": cannot write (rename failed: " + why + ")");
    }
  }
  return Status::ok();
}

//! Writes `bytes` to `path` atomically: into a temporary file in the same directory (so the
//! rename stays on one file system), flushed, then renamed over `path`. Readers see the old
//! file or the whole new one, never part of it; on failure `path` is untouched and the
//! temporary file removed. The directory must exist.
inline Status write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  const OutputFile one{path, std::string(bytes)};
  return write_files_atomically(std::span<const OutputFile>(&one, 1));
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::io

// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file `MappedFile`: a read-only memory mapping of a whole file, owned RAII-style (POSIX).
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"

#include <fcntl.h>     // open
#include <sys/mman.h>  // mmap, munmap
#include <sys/stat.h>  // fstat
#include <unistd.h>    // close

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>  // std::strerror
#include <filesystem>
#include <span>
#include <string>
#include <utility>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace io {

//! A whole file mapped read-only (`PROT_READ`, `MAP_PRIVATE`). Move-only; the mapping lives
//! until the object is destroyed, and moving it keeps `bytes()` where it was, so views into
//! the bytes stay valid across moves. An empty file maps to an empty span.
class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  MappedFile& operator=(MappedFile&& o) noexcept {
    if (this != &o) {
      reset();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  ~MappedFile() { reset(); }

  //! Maps `path`. Fails with kErrorIo naming the file (and the OS's reason) when it does not
  //! exist, is a directory ("is a directory"), is not a regular file, or cannot be opened or
  //! mapped.
  static Result<MappedFile> open(const std::filesystem::path& path) {
    const std::string name = path.string();
    const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::io_error(name + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      return Status::io_error(name + ": cannot stat: " + std::strerror(err));
    }
    if (S_ISDIR(st.st_mode)) {
      ::close(fd);
      return Status::io_error(name + ": is a directory, not a regular file");
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      return Status::io_error(name + ": not a regular file");
    }
    MappedFile f;
    if (st.st_size > 0) {
      void* p = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd,
                       0);
      if (p == MAP_FAILED) {
        const int err = errno;
        ::close(fd);
        return Status::io_error(name + ": cannot map: " + std::strerror(err));
      }
      f.data_ = static_cast<const std::byte*>(p);
      f.size_ = static_cast<std::size_t>(st.st_size);
    }
    ::close(fd);  // the mapping keeps the file alive
    return f;
  }

  //! The file's bytes [size()]; page-aligned start.
  std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
  std::size_t size() const noexcept { return size_; }

 private:
  void reset() noexcept {
    if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
    data_ = nullptr;
    size_ = 0;
  }

  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}}}  // namespace droidspeak::DROIDSPEAK_ABI::io

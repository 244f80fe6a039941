// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Tests of io/mapped_file.hpp.
#include "droidspeak/io/mapped_file.hpp"

#include "io/io_test_support.hpp"

#include <doctest/doctest.h>

#include <utility>

using namespace droidspeak;
using namespace droidspeak::io;
using droidspeak::test::check_error;
using droidspeak::test::TempDir;

TEST_CASE("mapped_file: maps a file read-only and survives moves") {
  TempDir dir;
  droidspeak::test::write_text(dir / "f.bin", "hello, mapping");
  Result<MappedFile> f = MappedFile::open(dir / "f.bin");
  REQUIRE_MESSAGE(f.is_ok(), f.status().to_string());
  REQUIRE(f->size() == 14);
  CHECK(static_cast<char>(f->bytes()[7]) == 'm');
  const std::byte* where = f->bytes().data();
  MappedFile moved = std::move(f).value();
  CHECK(moved.bytes().data() == where);
  CHECK(moved.size() == 14);
  MappedFile assigned;
  assigned = std::move(moved);
  CHECK(assigned.bytes().data() == where);
  CHECK(moved.bytes().empty());  // NOLINT(bugprone-use-after-move): documented state
}

TEST_CASE("mapped_file: empty files, missing files and directories") {
  TempDir dir;
  droidspeak::test::write_text(dir / "empty", "");
  Result<MappedFile> e = MappedFile::open(dir / "empty");
  REQUIRE(e.is_ok());
  CHECK(e->bytes().empty());
  check_error(MappedFile::open(dir / "absent").status(), StatusCode::kErrorIo, {"absent", "cannot open"});
  check_error(MappedFile::open(dir.path()).status(), StatusCode::kErrorIo,
              {dir.path().string(), "not a regular file"});
}

TEST_CASE("mapped_file: a directory passed as a file says it is a directory") {
  TempDir dir;
  check_error(MappedFile::open(dir.path()).status(), StatusCode::kErrorIo,
              {dir.path().string(), "is a directory"});
}

// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Output files: the up-front writability checks and the atomic write (a temporary
//! file beside the target, then a rename), on paths that cannot be written even as root (a
//! regular file where a directory should be).
#include "droidspeak/io/output_file.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <unistd.h>

namespace fs = std::filesystem;
using namespace droidspeak;

namespace {
// A fresh directory for one test case, removed at the end.
struct TempDir {
  fs::path path = fs::temp_directory_path() / ("droidspeak-output-file-" + std::to_string(::getpid()));
  TempDir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::size_t entries(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}
}  // namespace

TEST_CASE("write_file_atomically: writes, replaces, and leaves no temporary file behind") {
  TempDir t;
  const fs::path f = t.path / "plan.json";
  REQUIRE(io::write_file_atomically(f, "first").is_ok());
  CHECK(read(f) == "first");
  REQUIRE(io::write_file_atomically(f, "second, longer").is_ok());
  CHECK(read(f) == "second, longer");
  CHECK(entries(t.path) == 1);
}

TEST_CASE("write_file_atomically: a target that cannot be written is refused by name, nothing left") {
  TempDir t;
  const fs::path file = t.path / "a-file";
  REQUIRE(io::write_file_atomically(file, "x").is_ok());
  const Status under_file = io::write_file_atomically(file / "plan.json", "y");
  CHECK(under_file.code() == StatusCode::kErrorIo);
  CHECK(under_file.message().find((file / "plan.json").string()) != std::string::npos);
  const Status onto_dir = io::write_file_atomically(t.path, "y");
  CHECK(onto_dir.message().find("is a directory") != std::string::npos);
  CHECK(read(file) == "x");
  CHECK(entries(t.path) == 1);
}

TEST_CASE("write_files_atomically: one unwritable file of a set leaves every file unchanged") {
  TempDir t;
  const fs::path plan = t.path / "plan.json", grid = t.path / "grid.svg";
  REQUIRE(io::write_file_atomically(plan, "old plan").is_ok());
  const fs::path blocker = t.path / "a-file";
  REQUIRE(io::write_file_atomically(blocker, "x").is_ok());
  const std::vector<io::OutputFile> set = {
      {plan, "new plan"}, {grid, "<svg/>"}, {blocker / "pareto.svg", "<svg/>"}};
  const Status s = io::write_files_atomically(set);
  CHECK_FALSE(s.is_ok());
  CHECK(s.message().find((blocker / "pareto.svg").string()) != std::string::npos);
  CHECK(read(plan) == "old plan");  // not replaced: the set failed before any rename
  CHECK_FALSE(fs::exists(grid));
  CHECK(entries(t.path) == 2);  // plan.json and a-file, no temporary left
  const std::vector<io::OutputFile> good = {{plan, "new plan"}, {grid, "<svg/>"}};
  REQUIRE(io::write_files_atomically(good).is_ok());
  CHECK(read(plan) == "new plan");
  CHECK(read(grid) == "<svg/>");
}

TEST_CASE("check_writable_file / check_writable_directory: before any work, creating nothing") {
  TempDir t;
  CHECK(io::check_writable_file(t.path / "plan.json").is_ok());
  CHECK(io::check_writable_file(t.path / "new" / "deeper" / "plan.json").is_ok());  // creatable
  CHECK(io::check_writable_directory(t.path / "svg").is_ok());
  CHECK(entries(t.path) == 0);  // the probes are gone, no directory was created
  // Relative, missing directories are created in the working directory.
  CHECK(io::check_writable_directory("droidspeak-no-such-output-dir").is_ok());
  CHECK(io::check_writable_file("droidspeak-no-such-output-dir/a/plan.json").is_ok());
  CHECK_FALSE(fs::exists("droidspeak-no-such-output-dir"));

  const fs::path file = t.path / "samples.jsonl";
  REQUIRE(io::write_file_atomically(file, "{}").is_ok());
  const Status under_file = io::check_writable_file(file / "out" / "plan.json");
  CHECK_FALSE(under_file.is_ok());
  CHECK(under_file.message().find("is not a directory") != std::string::npos);
  CHECK(under_file.message().find((file / "out" / "plan.json").string()) != std::string::npos);
  CHECK(io::check_writable_file(t.path).message().find("is a directory") != std::string::npos);
  const Status dir_is_file = io::check_writable_directory(file);
  CHECK(dir_is_file.message().find("not a directory") != std::string::npos);
  CHECK_FALSE(io::check_writable_directory(file / "svg").is_ok());
  CHECK_FALSE(io::check_writable_file("").is_ok());
  CHECK(entries(t.path) == 1);
}

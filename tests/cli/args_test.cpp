// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The droidspeak tool's argument parsing (examples/cli/args.hpp): options, switches,
//! positionals, numbers through std::from_chars, and one-line errors.
#include "../../examples/cli/args.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using droidspeak_cli::Args;
using droidspeak_cli::OptionSpec;

namespace {
const std::vector<OptionSpec> kSpecs = {{"sender"}, {"threshold"}, {"granularity"}, {"ids", false}};
}

TEST_CASE("options, inline values, switches and positionals") {
  Args a({"--sender", "dir a", "--threshold=0.01", "--ids", "plan.json"}, kSpecs);
  CHECK(a.error().empty());
  CHECK(a.get("sender") == "dir a");
  CHECK(a.has("ids"));
  CHECK(!a.has("granularity"));
  CHECK(a.get("granularity", "7") == "7");
  REQUIRE(a.positional().size() == 1);
  CHECK(a.positional()[0] == "plan.json");
  double t = 0;
  CHECK(a.get_number("threshold", 0.05, 0, 1, t));
  CHECK(t == doctest::Approx(0.01));
  std::int64_t g = 0;
  CHECK(a.get_int("granularity", 3, 1, 12, g));
  CHECK(g == 3);
  CHECK(a.missing({"sender", "granularity", "threshold"}) == "--granularity");
}

TEST_CASE("help is recognised anywhere") {
  CHECK(Args({"--sender", "x", "--help"}, kSpecs).help());
  CHECK(Args({"-h"}, kSpecs).help());
  CHECK(!Args({"--sender", "--help"}, kSpecs).help());  // "--help" is the value of --sender here
}

TEST_CASE("errors are one line naming the option") {
  CHECK(Args({"--bogus"}, kSpecs).error() == "unknown option --bogus");
  CHECK(Args({"-x"}, kSpecs).error() == "unknown option -x");
  CHECK(Args({"--sender"}, kSpecs).error() == "option --sender needs a value");
  CHECK(Args({"--ids=1"}, kSpecs).error() == "option --ids takes no value");
  for (const char* bad : {"", "2x", "x", "1e3", " 4", "99999999999999999999", "-1", "13"}) {
    CAPTURE(bad);
    Args a({"--granularity", bad}, kSpecs);
    std::int64_t g = 0;
    CHECK(!a.get_int("granularity", 1, 1, 12, g));
    CHECK(a.error().find("--granularity must be an integer in [1, 12]") == 0);
    CHECK(a.error().find('\n') == std::string::npos);
  }
  for (const char* bad : {"", "nan", "inf", "0.05x", "-0.5", "1e400"}) {
    CAPTURE(bad);
    Args a({"--threshold", bad}, kSpecs);
    double t = 0;
    CHECK(!a.get_number("threshold", 0.05, 0, 100, t));
    CHECK(a.error().find("--threshold must be a number in [0, 100]") == 0);
  }
}

TEST_CASE("parse_int and parse_number accept whole numbers only") {
  CHECK(droidspeak_cli::parse_int("42") == 42);
  CHECK(droidspeak_cli::parse_int("-3") == -3);
  CHECK(!droidspeak_cli::parse_int("4 2"));
  CHECK(droidspeak_cli::parse_number("2.5e-1") == doctest::Approx(0.25));
  CHECK(!droidspeak_cli::parse_number("0x10"));
}

// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Command-line options of one subcommand: `--name value` / `--name=value` options,
//! `--flag` switches and positional arguments, with numbers parsed by std::from_chars and
//! every error reported as one line (no exceptions, no exit).
#pragma once

#include <charconv>  // from_chars
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace droidspeak_cli {

//! `text` as a whole decimal integer, or nothing (trailing characters, overflow, empty).
inline std::optional<std::int64_t> parse_int(std::string_view text) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

//! `text` as a whole finite decimal number, or nothing.
inline std::optional<double> parse_number(std::string_view text) {
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty() || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

//! One accepted option.
struct OptionSpec {
  std::string name;  //!< without the leading "--"
  bool takes_value = true;
};

//! The parsed arguments of one subcommand.
class Args {
 public:
  //! Parses `argv` (without the program and subcommand names) against `specs`. `--help` and
  //! `-h` set help(). On failure error() holds one line such as "unknown option --foo".
  Args(const std::vector<std::string>& argv, const std::vector<OptionSpec>& specs) {
    for (std::size_t i = 0; i < argv.size() && error_.empty(); ++i) {
      const std::string& a = argv[i];
      if (a == "--help" || a == "-h") {
        help_ = true;
        continue;
      }
      if (a.size() < 2 || a.compare(0, 2, "--") != 0 || a == "--") {
        if (!a.empty() && a[0] == '-' && a != "-") {
          error_ = "unknown option " + a;
        } else {
          positional_.push_back(a);
        }
        continue;
      }
      std::string name = a.substr(2), value;
      bool has_inline = false;
      if (const std::size_t eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name.resize(eq);
        has_inline = true;
      }
      const OptionSpec* spec = nullptr;
      for (const OptionSpec& s : specs) {
        if (s.name == name) spec = &s;
      }
      if (spec == nullptr) {
        error_ = "unknown option --" + name;
      } else if (!spec->takes_value) {
        if (has_inline) error_ = "option --" + name + " takes no value";
        values_[name] = "1";
      } else if (has_inline) {
        values_[name] = value;
      } else if (i + 1 >= argv.size()) {
        error_ = "option --" + name + " needs a value";
      } else {
        values_[name] = argv[++i];
      }
    }
  }

  bool help() const { return help_; }
  const std::string& error() const { return error_; }
  const std::vector<std::string>& positional() const { return positional_; }
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  //! The option's value, or `fallback` when it was not given.
  std::string get(const std::string& name, const std::string& fallback = {}) const {
    const auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
  }

  //! Names of required options that were not given, as "--a, --b"; empty when all are there.
  std::string missing(const std::vector<std::string>& required) const {
    std::string out;
    for (const std::string& r : required) {
      if (!has(r)) out += (out.empty() ? "--" : ", --") + r;
    }
    return out;
  }

  //! The integer value of `name` in [lo, hi] (or `fallback` when absent) into `out`; else
  //! false with error() describing the problem.
  bool get_int(const std::string& name, std::int64_t fallback, std::int64_t lo, std::int64_t hi,
               std::int64_t& out) {
    if (!has(name)) {
      out = fallback;
      return true;
    }
    const std::optional<std::int64_t> v = parse_int(get(name));
    if (!v || *v < lo || *v > hi) {
      error_ = "--" + name + " must be an integer in [" + std::to_string(lo) + ", " +
               std::to_string(hi) + "], got '" + get(name) + "'";
      return false;
    }
    out = *v;
    return true;
  }
  //! The number value of `name` in [lo, hi] (or `fallback`) into `out`; else false.
  bool get_number(const std::string& name, double fallback, double lo, double hi, double& out) {
    if (!has(name)) {
      out = fallback;
      return true;
    }
    const std::optional<double> v = parse_number(get(name));
    if (!v || *v < lo || *v > hi) {
      error_ = "--" + name + " must be a number in [" + trim(lo) + ", " + trim(hi) + "], got '" +
               get(name) + "'";
      return false;
    }
    out = *v;
    return true;
  }

 private:
  static std::string trim(double v) {
    std::string s = std::to_string(v);
    while (s.size() > 1 && s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
    return s;
  }

  bool help_ = false;
  std::string error_;
  std::vector<std::string> positional_;
  std::map<std::string, std::string> values_;
};

}  // namespace droidspeak_cli

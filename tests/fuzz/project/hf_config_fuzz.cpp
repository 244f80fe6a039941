// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file libFuzzer target: any byte string parsed as a HF config.json. Must never crash,
//! throw or hang; a success must describe a valid geometry.
#include "droidspeak/io/hf_config.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto c = droidspeak::io::parse_hf_config(text, "fuzz/config.json");
  if (c && !c->geometry().validate().is_ok()) __builtin_trap();
  if (!c && c.status().message().empty()) __builtin_trap();
  return 0;
}

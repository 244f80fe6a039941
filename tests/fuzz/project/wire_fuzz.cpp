// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file libFuzzer target: any byte string decoded as a transfer control frame. Must never
//! crash, throw or hang; a frame that decodes must re-encode to exactly the same bytes (the
//! decoder accepts only canonical frames), and a refusal must say why.
#include "droidspeak/transfer/wire.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <variant>
#include <vector>

namespace wire = droidspeak::transfer::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  auto m = wire::decode(in);
  if (!m) {
    if (m.status().message().empty()) __builtin_trap();
    return 0;
  }
  std::vector<std::byte> again;
  if (const auto* q = std::get_if<wire::Request>(&*m)) {
    again = wire::encode(*q);
  } else if (const auto* h = std::get_if<wire::ChunkHeader>(&*m)) {
    auto f = wire::encode(*h);
    if (!f) __builtin_trap();  // the decoder accepted what the encoder refuses
    again = std::move(*f);
  } else {
    again = wire::encode(std::get<wire::ErrorMessage>(*m));
  }
  if (again.size() != in.size()) __builtin_trap();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (again[i] != in[i]) __builtin_trap();
  }
  return 0;
}

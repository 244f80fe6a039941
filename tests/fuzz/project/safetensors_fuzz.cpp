// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file libFuzzer target: any byte string parsed as a safetensors file from memory. A
//! successful parse must give in-bounds views, and re-serialising the parsed tensors must
//! parse back to the same names, dtypes, shapes and bytes.
#include "droidspeak/io/safetensors.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

using namespace droidspeak;
using namespace droidspeak::io;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A heap copy of exactly `size` bytes, so ASan sees any read past the end.
  const std::vector<std::byte> bytes(reinterpret_cast<const std::byte*>(data),
                                     reinterpret_cast<const std::byte*>(data) + size);
  Result<SafetensorsView> view = parse_safetensors(bytes, "fuzz.safetensors");
  if (!view) {
    if (view.status().message().empty()) __builtin_trap();  // every failure explains itself
    return 0;
  }
  std::vector<RawTensorView> raw;
  unsigned sum = 0;
  for (const SafetensorsEntry& e : view->entries()) {
    Result<RawTensorView> r = view->raw_tensor(e.name);
    if (!r) __builtin_trap();
    for (std::byte b : r->data) sum += static_cast<unsigned>(b);  // touch every byte
    Result<TensorView> t = view->tensor(e.name);
    if (t && t->numel() <= 4096) {
      Result<std::vector<float>> f = to_f32_vector(*t);
      if (!f) __builtin_trap();
    }
    raw.push_back(*r);
  }
  Result<std::vector<std::byte>> again = serialize_safetensors(raw, view->metadata());
  if (!again) return 0;  // e.g. a name the writer refuses (empty)
  Result<SafetensorsView> back = parse_safetensors(*again, "again.safetensors");
  if (!back || back->entries().size() != view->entries().size() ||
      back->metadata() != view->metadata()) {
    __builtin_trap();
  }
  for (std::size_t i = 0; i < raw.size(); ++i) {
    Result<RawTensorView> r = back->raw_tensor(raw[i].name);
    if (!r || r->dtype != raw[i].dtype || r->shape != raw[i].shape ||
        !std::equal(r->data.begin(), r->data.end(), raw[i].data.begin(), raw[i].data.end())) {
      __builtin_trap();
    }
  }
  volatile unsigned sink = sum;  // keeps the reads
  (void)sink;
  return 0;
}

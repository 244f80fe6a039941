// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
#include "droidspeak/transfer/wire.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

using namespace droidspeak;
using namespace droidspeak::transfer;
using droidspeak::layout::LayerSet;

namespace {
std::vector<std::byte> raw(std::initializer_list<int> bytes) {
  std::vector<std::byte> v;
  for (int b : bytes) v.push_back(static_cast<std::byte>(b));
  return v;
}
//! A frame header (magic, version 1, `type`, reserved 0, `body` length) followed by `body`.
std::vector<std::byte> frame(int type, const std::vector<std::byte>& body) {
  std::vector<std::byte> v = raw({0x44, 0x53, 0x57, 0x31, 1, type, 0, 0});
  const auto n = static_cast<std::uint32_t>(body.size());
  for (int i = 0; i < 4; ++i) v.push_back(static_cast<std::byte>(n >> (8 * i)));
  v.insert(v.end(), body.begin(), body.end());
  return v;
}
void append_u64(std::vector<std::byte>& v, std::uint64_t x) {
  for (int i = 0; i < 8; ++i) v.push_back(static_cast<std::byte>(x >> (8 * i)));
}
//! A request body with id 1, context 2, fingerprint 3 and the given (layer, kind) items.
std::vector<std::byte> request_body(std::initializer_list<std::pair<int, int>> items, int count_override = -1) {
  std::vector<std::byte> v;
  append_u64(v, 1);
  append_u64(v, 2);
  append_u64(v, 3);
  const int n = count_override >= 0 ? count_override : static_cast<int>(items.size());
  v.push_back(static_cast<std::byte>(n & 0xFF));
  v.push_back(static_cast<std::byte>(n >> 8));
  for (auto [layer, kind] : items) {
    v.push_back(static_cast<std::byte>(layer & 0xFF));
    v.push_back(static_cast<std::byte>(layer >> 8));
    v.push_back(static_cast<std::byte>(kind));
  }
  return v;
}
std::string why(const std::vector<std::byte>& f) {
  auto m = wire::decode(f);
  REQUIRE_FALSE(m.is_ok());
  CHECK(m.status().code() == StatusCode::kErrorIo);
  return m.status().message();
}
}  // namespace

TEST_CASE("every message round-trips byte for byte") {
  const wire::Request q{7, 0xABCDEF, 0x1234, Needs{LayerSet::from_mask(0b100100), LayerSet::range(0, 40)}};
  const std::vector<std::byte> qf = wire::encode(q);
  auto qm = wire::decode(qf);
  REQUIRE(qm.is_ok());
  REQUIRE(std::holds_alternative<wire::Request>(*qm));
  CHECK(std::get<wire::Request>(*qm) == q);

  const wire::ChunkHeader h{7, ChunkKey{0xABCDEF, 0x1234, 200, Payload::kE}, 1u << 30, 0xFEEDull};
  auto hf = wire::encode(h);
  REQUIRE(hf.is_ok());
  auto hm = wire::decode(*hf);
  REQUIRE(hm.is_ok());
  CHECK(std::get<wire::ChunkHeader>(*hm) == h);

  const wire::ErrorMessage e{7, wire::ErrorKind::kMiss, MissReason::kEvicted, "full prefill: evicted"};
  auto em = wire::decode(wire::encode(e));
  REQUIRE(em.is_ok());
  CHECK(std::get<wire::ErrorMessage>(*em) == e);

  // A request for every layer of both kinds is the largest frame.
  const wire::Request all{1, 2, 3, Needs{LayerSet::all(layout::kMaxLayers), LayerSet::all(layout::kMaxLayers)}};
  CHECK(wire::encode(all).size() == wire::kMaxFrameBytes);
  CHECK(wire::decode(wire::encode(all)).is_ok());
}

TEST_CASE("an error text longer than the limit is cut and never sent whole") {
  const wire::ErrorMessage e{1, wire::ErrorKind::kInternal, MissReason::kAbsent, std::string(5000, 'x')};
  auto m = wire::decode(wire::encode(e));
  REQUIRE(m.is_ok());
  CHECK(std::get<wire::ErrorMessage>(*m).text.size() == wire::kMaxErrorText);
}

TEST_CASE("headers that the decoder would refuse are not encoded") {
  CHECK_FALSE(wire::encode(wire::ChunkHeader{1, ChunkKey{1, 1, layout::kMaxLayers, Payload::kKv}, 8, 0}).is_ok());
  CHECK_FALSE(wire::encode(wire::ChunkHeader{1, ChunkKey{1, 1, 0, Payload::kKv}, wire::kMaxChunkBytes + 1, 0}).is_ok());
}

TEST_CASE("malformed frame headers are refused with a reason") {
  CHECK(why({}).find("shorter than a frame header") != std::string::npos);
  CHECK(why(raw({0x44, 0x53, 0x57})).find("shorter than a frame header") != std::string::npos);
  std::vector<std::byte> f = frame(1, request_body({}));
  REQUIRE(wire::decode(f).is_ok());
  // One header byte changed at a time: (offset, new value, what the reason must name).
  struct Corruption {
    std::size_t offset;
    std::byte value;
    const char* reason;
  };
  for (const Corruption& c : {Corruption{0, std::byte{0}, "bad magic"},
                              Corruption{4, std::byte{2}, "version 2"},
                              Corruption{5, std::byte{9}, "unknown message type 9"},
                              Corruption{6, std::byte{1}, "reserved"}}) {
    CAPTURE(c.offset);
    auto bad = f;
    bad[c.offset] = c.value;
    CHECK(why(bad).find(c.reason) != std::string::npos);
  }
  auto bad = f;
  bad.push_back(std::byte{0});  // one byte more than the header announces
  CHECK(why(bad).find("body length") != std::string::npos);
  bad = f;
  bad.pop_back();
  CHECK(why(bad).find("body length") != std::string::npos);
  bad = f;
  bad[8] = std::byte{0xFF};  // a body length far beyond the input
  bad[11] = std::byte{0xFF};
  CHECK(why(bad).find("body length") != std::string::npos);
  CHECK(why(std::vector<std::byte>(wire::kMaxFrameBytes + 1)).find("more than any message") != std::string::npos);
}

TEST_CASE("malformed requests are refused with a reason") {
  CHECK(why(frame(1, raw({1, 2, 3}))).find("shorter than its fixed fields") != std::string::npos);
  CHECK(why(frame(1, request_body({{1, 0}}, 2))).find("announces 2 items") != std::string::npos);
  CHECK(why(frame(1, request_body({}, 600))).find("at most") != std::string::npos);
  CHECK(why(frame(1, request_body({{1, 2}}))).find("kind 2") != std::string::npos);
  CHECK(why(frame(1, request_body({{256, 0}}))).find("layer 256") != std::string::npos);
  CHECK(why(frame(1, request_body({{3, 0}, {3, 0}}))).find("out of order") != std::string::npos);  // duplicate
  CHECK(why(frame(1, request_body({{3, 0}, {2, 0}}))).find("out of order") != std::string::npos);
  CHECK(why(frame(1, request_body({{3, 1}, {2, 0}}))).find("out of order") != std::string::npos);  // KV before E
  auto ok = wire::decode(frame(1, request_body({{5, 0}, {1, 1}, {2, 1}})));
  REQUIRE(ok.is_ok());
  const auto& q = std::get<wire::Request>(*ok);
  CHECK(q.needs.e_layers == LayerSet::from_mask(1u << 5));
  CHECK(q.needs.kv_layers == LayerSet::from_mask(0b110));
}

TEST_CASE("malformed chunk headers and errors are refused with a reason") {
  auto good = wire::encode(wire::ChunkHeader{1, ChunkKey{1, 1, 3, Payload::kKv}, 8, 0});
  REQUIRE(good.is_ok());
  std::vector<std::byte> body(good->begin() + wire::kFrameHeaderBytes, good->end());
  CHECK(why(frame(2, std::vector<std::byte>(body.begin(), body.end() - 1))).find("shorter") != std::string::npos);
  auto longer = body;
  longer.push_back(std::byte{0});
  CHECK(why(frame(2, longer)).find("stray bytes") != std::string::npos);
  auto kind = body;
  kind[26] = std::byte{7};  // after id, context, fingerprint (24) and layer (2)
  CHECK(why(frame(2, kind)).find("kind 7") != std::string::npos);
  auto huge = body;
  huge[27 + 7] = std::byte{0x80};  // the top byte of the length
  CHECK(why(frame(2, huge)).find("claims") != std::string::npos);

  std::vector<std::byte> e;
  append_u64(e, 1);
  for (int b : {1, 0, 0, 0}) e.push_back(static_cast<std::byte>(b));  // kMiss with no reason
  CHECK(why(frame(3, e)).find("miss reason 0") != std::string::npos);
  e[8] = std::byte{2};  // kMalformed: reason must be 0, and it is
  REQUIRE(wire::decode(frame(3, e)).is_ok());
  e[9] = std::byte{1};
  CHECK(why(frame(3, e)).find("miss reason 1") != std::string::npos);
  e[9] = std::byte{0};
  e[10] = std::byte{5};  // five text bytes announced, none carried
  CHECK(why(frame(3, e)).find("announces 5 text bytes") != std::string::npos);
  e[8] = std::byte{4};
  CHECK(why(frame(3, e)).find("kind 4") != std::string::npos);
}

// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The transfer path's control messages and their byte format: a receiver's request
//! (context, model fingerprint, needed E and KV layers), the header the sender puts before each
//! chunk (key, length, checksum), and errors (a miss and its reason, a malformed request).
//! The decoder is strict and bounded: any malformed frame gives a Status, never a crash. No UCX.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/layer_set.hpp"
#include "droidspeak/transfer/cache_store.hpp"  // ChunkKey, Needs, MissReason

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace transfer::wire {

// Frame: [magic u32 "DSW1"][version u8][type u8][reserved u16 = 0][body length u32][body].
// Integers are little-endian. Every frame has exactly one canonical encoding: the decoder
// rejects anything encode() would not write, so decode(x) succeeds only if encode(decode(x)) == x.
inline constexpr std::uint32_t kMagic = 0x31575344u;  // "DSW1" as little-endian bytes
inline constexpr std::uint8_t kVersion = 1;
inline constexpr std::size_t kFrameHeaderBytes = 12;
inline constexpr std::size_t kMaxErrorText = 1024;      //!< longer error texts are cut
inline constexpr std::uint64_t kMaxChunkBytes = std::uint64_t{1} << 40;  //!< 1 TiB: no chunk is larger
inline constexpr std::size_t kMaxItems = 2 * static_cast<std::size_t>(layout::kMaxLayers);
//! The largest frame any message encodes to (a request for every E and KV layer).
inline constexpr std::size_t kMaxFrameBytes = kFrameHeaderBytes + 8 * 3 + 2 + 3 * kMaxItems;

enum class MessageType : std::uint8_t { kRequest = 1, kChunkHeader = 2, kError = 3 };

//! A receiver asks for the chunks of one context, made by one model. `needs` is sent as the
//! list of (layer, kind) items, E layers ascending first, then KV layers ascending.
struct Request {
  std::uint64_t request_id = 0;  //!< chosen by the receiver; echoed in every answer
  std::uint64_t context_hash = 0;
  std::uint64_t fingerprint = 0;
  Needs needs;
  friend bool operator==(const Request& a, const Request& b) {
    return a.request_id == b.request_id && a.context_hash == b.context_hash && a.fingerprint == b.fingerprint &&
           a.needs.e_layers == b.needs.e_layers && a.needs.kv_layers == b.needs.kv_layers;
  }
};

//! Precedes each chunk's bytes: which chunk, how long, and its checksum (chunk_checksum()).
struct ChunkHeader {
  std::uint64_t request_id = 0;
  ChunkKey key;
  std::uint64_t byte_length = 0;  //!< <= kMaxChunkBytes
  std::uint64_t checksum = 0;
  friend bool operator==(const ChunkHeader&, const ChunkHeader&) = default;
};

//! Why the sender sends no chunks for a request.
enum class ErrorKind : std::uint8_t {
  kMiss = 1,       //!< the store cannot serve it; `miss` says why
  kMalformed = 2,  //!< the request did not decode
  kInternal = 3,   //!< the sender failed (e.g. a transport error)
};

struct ErrorMessage {
  std::uint64_t request_id = 0;
  ErrorKind kind = ErrorKind::kInternal;
  MissReason miss = MissReason::kAbsent;  //!< meaningful for kMiss only; encoded as 0 otherwise
  std::string text;                        //!< at most kMaxErrorText bytes
  friend bool operator==(const ErrorMessage&, const ErrorMessage&) = default;
};

using Message = std::variant<Request, ChunkHeader, ErrorMessage>;

namespace detail {

class Writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(static_cast<std::byte>(v)); }
  void u16(std::uint16_t v) { le(v, 2); }
  void u32(std::uint32_t v) { le(v, 4); }
  void u64(std::uint64_t v) { le(v, 8); }
  void bytes(std::string_view s) {
    for (char c : s) out_.push_back(static_cast<std::byte>(c));
  }
  std::vector<std::byte> frame(MessageType type) && {
    std::vector<std::byte> body = std::move(out_);
    out_.clear();
    u32(kMagic);
    u8(kVersion);
    u8(static_cast<std::uint8_t>(type));
    u16(0);
    u32(static_cast<std::uint32_t>(body.size()));
    out_.insert(out_.end(), body.begin(), body.end());
    return std::move(out_);
  }

 private:
  void le(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<std::byte>(v >> (8 * i)));
  }
  std::vector<std::byte> out_;
};

//! Bounds-checked little-endian reads; every read fails once the input is exhausted.
class Reader {
 public:
  explicit Reader(std::span<const std::byte> in) : in_(in) {}
  bool u8(std::uint8_t& v) { return le(v, 1); }
  bool u16(std::uint16_t& v) { return le(v, 2); }
  bool u32(std::uint32_t& v) { return le(v, 4); }
  bool u64(std::uint64_t& v) { return le(v, 8); }
  bool text(std::string& s, std::size_t n) {
    if (n > in_.size() - pos_) return false;
    s.assign(reinterpret_cast<const char*>(in_.data() + pos_), n);
    pos_ += n;
    return true;
  }
  std::size_t remaining() const { return in_.size() - pos_; }

 private:
  template <class T>
  bool le(T& v, std::size_t n) {
    if (n > in_.size() - pos_) return false;
    std::uint64_t x = 0;
    for (std::size_t i = 0; i < n; ++i) x |= static_cast<std::uint64_t>(in_[pos_ + i]) << (8 * i);
    v = static_cast<T>(x);
    pos_ += n;
    return true;
  }
  std::span<const std::byte> in_;
  std::size_t pos_ = 0;
};

inline Status malformed(const std::string& what) { return Status::io_error("wire: malformed frame: " + what); }

inline bool valid_kind(std::uint8_t k) { return k <= static_cast<std::uint8_t>(Payload::kKv); }
inline bool valid_miss(std::uint8_t m) {
  return m >= static_cast<std::uint8_t>(MissReason::kAbsent) && m <= static_cast<std::uint8_t>(MissReason::kChecksumFailed);
}

inline Result<Message> decode_request(Reader& r) {
  Request q;
  std::uint16_t n = 0;
  if (!r.u64(q.request_id) || !r.u64(q.context_hash) || !r.u64(q.fingerprint) || !r.u16(n)) {
    return malformed("request shorter than its fixed fields");
  }
  if (n > kMaxItems) return malformed("request lists " + std::to_string(n) + " items, at most " + std::to_string(kMaxItems));
  if (r.remaining() != 3 * static_cast<std::size_t>(n)) {
    return malformed("request announces " + std::to_string(n) + " items but carries " + std::to_string(r.remaining()) + " bytes");
  }
  // Canonical order: E items, then KV items, layers strictly ascending within each kind.
  int last_kind = 0;
  std::int64_t last_layer = -1;
  for (std::uint16_t i = 0; i < n; ++i) {
    std::uint16_t layer = 0;
    std::uint8_t kind = 0;
    (void)r.u16(layer);  // cannot fail: the length was checked above
    (void)r.u8(kind);
    if (!valid_kind(kind)) return malformed("request item " + std::to_string(i) + " has kind " + std::to_string(kind));
    if (layer >= layout::kMaxLayers) return malformed("request item " + std::to_string(i) + " has layer " + std::to_string(layer));
    if (kind < last_kind || (kind == last_kind && static_cast<std::int64_t>(layer) <= last_layer)) {
      return malformed("request items out of order (E first, then KV, layers strictly ascending) at item " + std::to_string(i));
    }
    last_kind = kind;
    last_layer = layer;
    (kind == 0 ? q.needs.e_layers : q.needs.kv_layers).insert(layer);
  }
  return Message{q};
}

inline Result<Message> decode_chunk_header(Reader& r) {
  ChunkHeader h;
  std::uint16_t layer = 0;
  std::uint8_t kind = 0;
  if (!r.u64(h.request_id) || !r.u64(h.key.context_hash) || !r.u64(h.key.fingerprint) || !r.u16(layer) ||
      !r.u8(kind) || !r.u64(h.byte_length) || !r.u64(h.checksum)) {
    return malformed("chunk header shorter than its fields");
  }
  if (r.remaining() != 0) return malformed("chunk header followed by " + std::to_string(r.remaining()) + " stray bytes");
  if (!valid_kind(kind)) return malformed("chunk header has kind " + std::to_string(kind));
  if (layer >= layout::kMaxLayers) return malformed("chunk header has layer " + std::to_string(layer));
  if (h.byte_length > kMaxChunkBytes) return malformed("chunk header claims " + std::to_string(h.byte_length) + " bytes");
  h.key.layer = layer;
  h.key.kind = static_cast<Payload>(kind);
  return Message{h};
}

inline Result<Message> decode_error(Reader& r) {
  ErrorMessage e;
  std::uint8_t kind = 0;
  std::uint8_t miss = 0;
  std::uint16_t n = 0;
  if (!r.u64(e.request_id) || !r.u8(kind) || !r.u8(miss) || !r.u16(n)) return malformed("error shorter than its fixed fields");
  if (kind < 1 || kind > 3) return malformed("error has kind " + std::to_string(kind));
  e.kind = static_cast<ErrorKind>(kind);
  if (e.kind == ErrorKind::kMiss ? !valid_miss(miss) : miss != 0) {
    return malformed("error of kind " + std::to_string(kind) + " has miss reason " + std::to_string(miss));
  }
  if (e.kind == ErrorKind::kMiss) e.miss = static_cast<MissReason>(miss);
  if (n > kMaxErrorText) return malformed("error text of " + std::to_string(n) + " bytes");
  if (r.remaining() != n) return malformed("error announces " + std::to_string(n) + " text bytes, carries " + std::to_string(r.remaining()));
  (void)r.text(e.text, n);
  return Message{e};
}

}  // namespace detail

//! The frame of a request. Needs' layers are < kMaxLayers by construction, so this cannot fail.
inline std::vector<std::byte> encode(const Request& q) {
  detail::Writer w;
  w.u64(q.request_id);
  w.u64(q.context_hash);
  w.u64(q.fingerprint);
  w.u16(static_cast<std::uint16_t>(q.needs.e_layers.count() + q.needs.kv_layers.count()));
  for (Payload kind : {Payload::kE, Payload::kKv}) {
    const layout::LayerSet& s = kind == Payload::kE ? q.needs.e_layers : q.needs.kv_layers;
    for (std::int64_t i = 0; i < s.count(); ++i) {
      w.u16(static_cast<std::uint16_t>(s.nth(i)));
      w.u8(static_cast<std::uint8_t>(kind));
    }
  }
  return std::move(w).frame(MessageType::kRequest);
}

//! The frame of a chunk header. Fails on a layer outside [0, kMaxLayers), a kind that is not
//! E or KV, or a length above kMaxChunkBytes (the decoder would refuse them).
inline Result<std::vector<std::byte>> encode(const ChunkHeader& h) {
  if (h.key.layer < 0 || h.key.layer >= layout::kMaxLayers || !detail::valid_kind(static_cast<std::uint8_t>(h.key.kind)) ||
      h.byte_length > kMaxChunkBytes) {
    return Status::invalid_argument("wire: cannot encode a header for " + to_string(h.key) + " of " +
                                    std::to_string(h.byte_length) + " bytes");
  }
  detail::Writer w;
  w.u64(h.request_id);
  w.u64(h.key.context_hash);
  w.u64(h.key.fingerprint);
  w.u16(static_cast<std::uint16_t>(h.key.layer));
  w.u8(static_cast<std::uint8_t>(h.key.kind));
  w.u64(h.byte_length);
  w.u64(h.checksum);
  return std::move(w).frame(MessageType::kChunkHeader);
}

//! The frame of an error; a text longer than kMaxErrorText is cut to that length.
inline std::vector<std::byte> encode(const ErrorMessage& e) {
  detail::Writer w;
  w.u64(e.request_id);
  w.u8(static_cast<std::uint8_t>(e.kind));
  w.u8(e.kind == ErrorKind::kMiss ? static_cast<std::uint8_t>(e.miss) : 0);
  const std::string_view text = std::string_view(e.text).substr(0, kMaxErrorText);
  w.u16(static_cast<std::uint16_t>(text.size()));
  w.bytes(text);
  return std::move(w).frame(MessageType::kError);
}

//! Decodes one frame. Any deviation from the canonical encoding (short or long input, wrong
//! magic, version, type, reserved bits, lengths, kinds, layers, order, duplicates) is an
//! io_error that names it; nothing is read outside `frame`. Frames above kMaxFrameBytes are
//! refused before their body is looked at.
inline Result<Message> decode(std::span<const std::byte> frame) {
  if (frame.size() > kMaxFrameBytes) {
    return detail::malformed(std::to_string(frame.size()) + " bytes, more than any message (" +
                             std::to_string(kMaxFrameBytes) + ")");
  }
  detail::Reader r(frame);
  std::uint32_t magic = 0;
  std::uint8_t version = 0;
  std::uint8_t type = 0;
  std::uint16_t reserved = 0;
  std::uint32_t body = 0;
  if (!r.u32(magic) || !r.u8(version) || !r.u8(type) || !r.u16(reserved) || !r.u32(body)) {
    return detail::malformed(std::to_string(frame.size()) + " bytes, shorter than a frame header");
  }
  if (magic != kMagic) return detail::malformed("bad magic");
  if (version != kVersion) return detail::malformed("version " + std::to_string(version) + ", expected " + std::to_string(kVersion));
  if (reserved != 0) return detail::malformed("reserved bits set");
  if (body != r.remaining()) {
    return detail::malformed("body length " + std::to_string(body) + " but " + std::to_string(r.remaining()) + " bytes follow");
  }
  switch (static_cast<MessageType>(type)) {
    case MessageType::kRequest: return detail::decode_request(r);
    case MessageType::kChunkHeader: return detail::decode_chunk_header(r);
    case MessageType::kError: return detail::decode_error(r);
  }
  return detail::malformed("unknown message type " + std::to_string(type));
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::transfer::wire

// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file What `droidspeak serve` (the sender) and `droidspeak run --remote` (the receiver)
//! agree on without UCX: the sender's address, the sender model's fingerprint, how one
//! context's caches are cut into the store's chunks, and the receiver's stand-in for the
//! sender's views (address space only: the bytes come over the link).
#pragma once

#include <sys/mman.h>  // mmap, munmap: the stand-in views' reservation

#include <charconv>  // from_chars: the port
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "droidspeak/plan/compatibility.hpp"  // CompatibilityRecord, fingerprint64
#include "droidspeak/prefill/schedule.hpp"     // chunk_sizes: the bytes of one E or KV chunk
#include "droidspeak/prefill/sender_caches.hpp"
#include "droidspeak/transfer/cache_store.hpp"
#include "droidspeak/transfer/checksum.hpp"  // context_hash

namespace droidspeak_cli {

namespace ds = droidspeak;
using ds::Result;
using ds::Status;

//! An IPv4 address and a port, as `--listen` and `--remote` take them: "ADDR:PORT".
struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  std::string to_string() const { return host + ":" + std::to_string(port); }
};

//! Parses "ADDR:PORT" (IPv4 dotted quad, port in [0, 65535]; 0 only when `allow_any_port`:
//! the system picks one). The address itself is checked when the socket is made.
inline Result<Endpoint> parse_endpoint(const std::string& text, const std::string& option,
                                       bool allow_any_port) {
  const std::size_t colon = text.rfind(':');
  const auto bad = [&](const std::string& why) {
    return Status::invalid_argument(option + " must be ADDR:PORT (e.g. 127.0.0.1:" +
                                    (allow_any_port ? std::string("0") : std::string("5555")) + "), got '" +
                                    text + "': " + why);
  };
  if (colon == std::string::npos || colon == 0) return bad("no address");
  const std::string port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || port_text.empty() || port > 65535) {
    return bad("the port is not a number in [0, 65535]");
  }
  if (port == 0 && !allow_any_port) return bad("port 0 names no sender");
  return Endpoint{text.substr(0, colon), static_cast<std::uint16_t>(port)};
}

//! The store's name for a model: a hash of its weight fingerprints (embeddings, every layer,
//! final norm and head), so two checkpoints share it only if their weights are identical.
inline std::uint64_t model_fingerprint(const ds::plan::CompatibilityRecord& r) {
  std::vector<std::byte> bytes;
  const auto put = [&](std::uint64_t v) {
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<std::byte>(v >> (8 * i)));
  };
  put(r.embedding_fingerprint);
  for (std::uint64_t f : r.layer_fingerprints) put(f);
  put(r.head_fingerprint);
  constexpr std::uint64_t kModelSeed = 0x6D6F64656C5F7631ull;  // "model_v1"
  return ds::plan::fingerprint64(bytes, kModelSeed);
}

//! Puts one context's caches into `store` as the receiver's schedule asks for them: per layer
//! its KV chunk ([K,V][n][kv_heads][head_dim] of the transfer layout) and, for layers >= 1,
//! the E rows entering it ([n][hidden]; layer 0 is entered from the receiver's own
//! embeddings, never sent). `buffers` must hold every layer (SenderLayers::kAll) in the
//! transfer layout. Chunk sizes are the schedule's (prefill::chunk_sizes).
inline Status store_context(ds::transfer::CacheStore& store, const ds::prefill::SenderCacheBuffers& buffers,
                            const ds::layout::ModelGeometry& g, std::uint64_t context_hash,
                            std::uint64_t fingerprint) {
  const ds::prefill::SenderCaches c = buffers.caches();
  const std::int64_t n = buffers.num_tokens();
  const ds::prefill::ChunkSizes sizes = ds::prefill::chunk_sizes(g, n, c.e.dtype, c.kv.dtype);
  const ds::transfer::CacheMarker marker{context_hash, fingerprint, ds::transfer::CacheOrigin::kFullPrefill};
  for (std::int64_t l = 0; l < g.num_layers; ++l) {
    if (l >= 1) {
      const std::byte* e = c.e.data + c.e.layout.row_offset(l, 0) * ds::dtype_size(c.e.dtype);
      DROIDSPEAK_TRY(store.put(marker, l, ds::prefill::Payload::kE, std::vector<std::byte>(e, e + sizes.e_bytes)));
    }
    const std::byte* kv =
        c.kv.k_data + c.kv.layout.row_offset(l, ds::layout::KvPart::kK, 0, 0) * ds::dtype_size(c.kv.dtype);
    DROIDSPEAK_TRY(store.put(marker, l, ds::prefill::Payload::kKv, std::vector<std::byte>(kv, kv + sizes.kv_bytes)));
  }
  return Status::ok();
}

//! The receiver's stand-in for the sender's views in a remote partial prefill: the views the
//! executor needs for their shapes (f32 E of the plan's entry layers, f32 KV in the transfer
//! layout, n tokens) over address space reserved with no access. The UCX transport never reads
//! a transmit's source (the bytes come from the sender's store), and any read would fault: so
//! nothing of the sender's can be used but what arrived, checksummed, over the link.
class RemoteSenderViews {
 public:
  static Result<RemoteSenderViews> reserve(const ds::layout::ModelGeometry& g, const ds::plan::ReusePlan& plan,
                                           std::int64_t n) {
    RemoteSenderViews v;
    v.e_layout_ = {plan.entry_layers(), n, g.hidden_size};
    v.kv_layout_ = ds::layout::TransferLayout{g.num_layers, n, g.num_kv_heads, g.head_dim,
                                              ds::layout::HeadOrder::kNHD};
    const auto e_bytes = static_cast<std::size_t>(v.e_layout_.pool_elements() * ds::dtype_size(ds::DType::kF32));
    const auto kv_bytes = static_cast<std::size_t>(v.kv_layout_.pool_elements() * ds::dtype_size(ds::DType::kF32));
    v.bytes_ = e_bytes + kv_bytes + 1;  // never 0 (mmap refuses an empty mapping)
    void* p = mmap(nullptr, v.bytes_, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      return Status::io_error("remote: cannot reserve " + std::to_string(v.bytes_) + " bytes of address space");
    }
    v.base_ = static_cast<std::byte*>(p);
    v.kv_offset_ = e_bytes;
    return v;
  }
  RemoteSenderViews() = default;
  RemoteSenderViews(RemoteSenderViews&& o) noexcept { *this = std::move(o); }
  RemoteSenderViews& operator=(RemoteSenderViews&& o) noexcept {
    std::swap(base_, o.base_);
    std::swap(bytes_, o.bytes_);
    std::swap(kv_offset_, o.kv_offset_);
    std::swap(e_layout_, o.e_layout_);
    std::swap(kv_layout_, o.kv_layout_);
    return *this;
  }
  ~RemoteSenderViews() {
    if (base_ != nullptr) munmap(base_, bytes_);
  }

  ds::prefill::SenderCaches caches() const {
    ds::prefill::SenderCaches c;
    c.e = ds::layout::ConstEView(base_, ds::DType::kF32, e_layout_);
    c.kv = ds::layout::ConstKvView(base_ + kv_offset_, ds::DType::kF32, ds::layout::KvLayout(kv_layout_));
    return c;
  }

 private:
  std::byte* base_ = nullptr;
  std::size_t bytes_ = 0;
  std::size_t kv_offset_ = 0;
  ds::layout::ECacheLayout e_layout_{};
  ds::layout::TransferLayout kv_layout_{};
};

}  // namespace droidspeak_cli

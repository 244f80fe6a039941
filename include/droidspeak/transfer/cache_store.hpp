// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The sender-side cache store (the paper's store/fetch): E and KV chunks keyed by
//! (context hash, sender model fingerprint, layer, kind), under a byte budget with LRU
//! eviction, each with a checksum; and the receiver's mixed-cache marker, which the store
//! refuses. Thread-safe; no UCX needed.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/layer_set.hpp"
#include "droidspeak/plan/reuse_plan.hpp"
#include "droidspeak/prefill/transport.hpp"  // prefill::Payload: E or KV
#include "droidspeak/transfer/checksum.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>  // std::snprintf: hex in messages
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace transfer {

using prefill::Payload;

//! Where a chunk lives in the store. `layer` is the layer the E rows enter (kind kE) or whose
//! K and V they are (kind kKv), in [0, layout::kMaxLayers).
struct ChunkKey {
  std::uint64_t context_hash = 0;  //!< context_hash() of the context's token ids
  std::uint64_t fingerprint = 0;   //!< the sender model that computed the chunk
  std::int64_t layer = 0;
  Payload kind = Payload::kKv;
  friend bool operator==(const ChunkKey&, const ChunkKey&) = default;
};

namespace detail {
inline std::string hex64(std::uint64_t v) {
  char buf[19];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}
struct ChunkKeyHash {
  std::size_t operator()(const ChunkKey& k) const noexcept {
    std::uint64_t h = k.context_hash * 0x9E3779B97F4A7C15ull;
    h ^= k.fingerprint + 0xBF58476D1CE4E5B9ull + (h << 6) + (h >> 2);
    h ^= (static_cast<std::uint64_t>(k.layer) << 1 | static_cast<std::uint64_t>(k.kind)) + (h << 6) + (h >> 2);
    return static_cast<std::size_t>(h);
  }
};
}  // namespace detail

//! "KV of layer 3 (context 0x..., model 0x...)".
inline std::string to_string(const ChunkKey& k) {
  return std::string(k.kind == Payload::kE ? "E of layer " : "KV of layer ") + std::to_string(k.layer) +
         " (context " + detail::hex64(k.context_hash) + ", model " + detail::hex64(k.fingerprint) + ")";
}

//! Ok when the checksum `got` of the chunk `key` names (`bytes` long) is the one `expected`.
inline Status check_checksum(const ChunkKey& key, std::uint64_t expected, std::uint64_t got, std::size_t bytes) {
  if (got == expected) return Status::ok();
  return Status::io_error("checksum mismatch on " + to_string(key) + ": expected " + detail::hex64(expected) +
                          ", got " + detail::hex64(got) + " over " + std::to_string(bytes) + " bytes");
}

//! Checks that `bytes` have the checksum `expected`; the error names the chunk.
inline Status verify_chunk(const ChunkKey& key, std::span<const std::byte> bytes, std::uint64_t expected) {
  return check_checksum(key, expected, chunk_checksum(bytes), bytes.size());
}

//! One stored chunk. The bytes are immutable and shared: a lookup's result stays valid (and
//! its memory registered for sending stays alive) after the store evicts the entry.
struct StoredChunk {
  ChunkKey key;
  std::shared_ptr<const std::vector<std::byte>> bytes;
  std::uint64_t checksum = 0;  //!< chunk_checksum(*bytes), computed once when stored
  std::span<const std::byte> view() const {
    return bytes ? std::span<const std::byte>(*bytes) : std::span<const std::byte>();
  }
};

//! Which layers' E and KV a receiver needs.
struct Needs {
  layout::LayerSet e_layers;
  layout::LayerSet kv_layers;
  //! What `plan` transfers: E entering each interval's first layer (except 0), KV of every
  //! reused layer.
  static Needs of(const plan::ReusePlan& plan) { return {plan.entry_layers(), plan.reused()}; }
};

//! Why a lookup cannot serve a request (the receiver then runs a full prefill).
enum class MissReason : std::uint8_t {
  kAbsent = 1,               //!< never stored (or the store never saw this context)
  kEvicted = 2,              //!< stored once, evicted for the byte budget
  kFingerprintMismatch = 3,  //!< the context is cached, but by another model
  kChecksumFailed = 4,       //!< the stored bytes no longer match their checksum
};

constexpr std::string_view to_string(MissReason r) noexcept {
  switch (r) {
    case MissReason::kAbsent: return "absent";
    case MissReason::kEvicted: return "evicted";
    case MissReason::kFingerprintMismatch: return "fingerprint mismatch";
    case MissReason::kChecksumFailed: return "checksum failed";
  }
  return "unknown";
}

//! The answer to a lookup: every needed chunk, or a miss and why.
struct Lookup {
  bool hit = false;
  //! On a hit: E of each needed layer in ascending order, then KV in ascending order (the
  //! order the schedule sends them). Empty on a miss.
  std::vector<StoredChunk> chunks;
  MissReason reason = MissReason::kAbsent;  //!< on a miss
  ChunkKey missing;                          //!< on a miss: the first chunk that could not be served
  std::string message;                       //!< on a miss: "full prefill: <reason>: <detail>"
};

//! What produced a receiver's cache: its own full prefill, or a partial prefill that adopted
//! another model's KV (a mixed cache). A mixed cache is right for the request that made it
//! and for nothing else: it is not what the receiver's model computes for that prefix.
enum class CacheOrigin : std::uint8_t { kFullPrefill = 0, kMixed = 1 };

//! The marker a receiver's cache carries after a prefill under `plan`: mixed as soon as the
//! plan adopts the KV of any layer.
inline CacheOrigin origin_of(const plan::ReusePlan& plan) {
  return plan.reused().empty() ? CacheOrigin::kFullPrefill : CacheOrigin::kMixed;
}

//! Whose cache this is, for which context, and how it was made.
struct CacheMarker {
  std::uint64_t context_hash = 0;
  std::uint64_t fingerprint = 0;  //!< the model that owns the cache (the one that ran the prefill)
  CacheOrigin origin = CacheOrigin::kFullPrefill;
};

//! Sender-side store of E and KV chunks with a byte budget and LRU eviction. All members are
//! thread-safe (one mutex; checksums of incoming chunks are computed outside it).
class CacheStore {
 public:
  //! Keeps at most `budget_bytes` bytes of chunk payload (bookkeeping not counted).
  explicit CacheStore(std::int64_t budget_bytes) : budget_(budget_bytes < 0 ? 0 : budget_bytes) {}

  //! Stores one chunk of the cache `cache` describes, computing its checksum. Refuses (and
  //! stores nothing) when the cache is mixed: a partly reused cache is never kept as its
  //! owner's prefix cache. Fails on a layer outside [0, kMaxLayers) or a chunk larger than
  //! the whole budget. Replaces an existing chunk with the same key; evicts least recently
  //! used chunks until the new one fits.
  Status put(const CacheMarker& cache, std::int64_t layer, Payload kind, std::vector<std::byte> bytes) {
    if (cache.origin == CacheOrigin::kMixed) {
      return Status::invalid_argument("cache store: refusing a mixed cache (partly reused from another model) "
                                      "as the prefix cache of model " + detail::hex64(cache.fingerprint) +
                                      " for context " + detail::hex64(cache.context_hash));
    }
    const ChunkKey key{cache.context_hash, cache.fingerprint, layer, kind};
    const std::uint64_t sum = chunk_checksum(bytes);
    return insert(key, std::move(bytes), sum);
  }

  //! Stores a chunk that arrived with a claimed checksum (from another store or a peer):
  //! fails without storing it when the bytes do not match. Same limits as put().
  Status put_verified(const ChunkKey& key, std::vector<std::byte> bytes, std::uint64_t checksum) {
    DROIDSPEAK_TRY(verify_chunk(key, bytes, checksum));
    return insert(key, std::move(bytes), checksum);
  }

  //! Every chunk `needs` names for (context_hash, fingerprint), or the first miss. A hit
  //! marks the chunks most recently used. With `verify_checksums`, each chunk's checksum is
  //! recomputed first; a chunk that fails is dropped and the lookup misses with
  //! kChecksumFailed. Empty `needs` is a hit with no chunks.
  Lookup lookup(std::uint64_t context_hash, std::uint64_t fingerprint, const Needs& needs,
                bool verify_checksums = true) {
    std::vector<ChunkKey> keys;
    for (Payload kind : {Payload::kE, Payload::kKv}) {
      const layout::LayerSet& layers = kind == Payload::kE ? needs.e_layers : needs.kv_layers;
      for (std::int64_t i = 0; i < layers.count(); ++i) keys.push_back({context_hash, fingerprint, layers.nth(i), kind});
    }
    Lookup out;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (const ChunkKey& k : keys) {
        auto it = entries_.find(k);
        if (it == entries_.end()) return miss_locked(k);
        out.chunks.push_back(it->second.chunk);
      }
      for (const ChunkKey& k : keys) touch_locked(entries_.find(k)->second);
    }
    if (verify_checksums) {
      // Outside the lock: hashing is the slow part, and the shared bytes cannot change under us.
      for (const StoredChunk& c : out.chunks) {
        Status s = verify_chunk(c.key, c.view(), c.checksum);
        if (s.is_ok()) continue;
        erase(c.key);
        Lookup bad;
        bad.reason = MissReason::kChecksumFailed;
        bad.missing = c.key;
        bad.message = "full prefill: checksum failed: " + s.message();
        return bad;
      }
    }
    out.hit = true;
    return out;
  }

  //! Removes one chunk (no tombstone: a later lookup says absent). False if it was not there.
  bool erase(const ChunkKey& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return false;
    remove_locked(it);
    return true;
  }

  std::int64_t budget_bytes() const { return budget_; }
  std::int64_t used_bytes() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return used_;
  }
  std::int64_t num_chunks() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<std::int64_t>(entries_.size());
  }
  bool contains(const ChunkKey& key) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_.contains(key);
  }

 private:
  //! How many evicted keys are remembered to tell "evicted" from "absent" (bounded memory).
  static constexpr std::size_t kTombstones = 4096;

  struct Entry {
    StoredChunk chunk;
    std::list<ChunkKey>::iterator lru;  // position in lru_ (front: most recently used)
  };
  using Map = std::unordered_map<ChunkKey, Entry, detail::ChunkKeyHash>;

  Status insert(const ChunkKey& key, std::vector<std::byte> bytes, std::uint64_t sum) {
    if (key.layer < 0 || key.layer >= layout::kMaxLayers) {
      return Status::out_of_range("cache store: layer " + std::to_string(key.layer) + " outside [0, " +
                                  std::to_string(layout::kMaxLayers) + ")");
    }
    const auto size = static_cast<std::int64_t>(bytes.size());
    if (size > budget_) {
      return Status::out_of_range("cache store: " + to_string(key) + " has " + std::to_string(size) +
                                  " bytes, more than the whole budget of " + std::to_string(budget_));
    }
    auto shared = std::make_shared<std::vector<std::byte>>(std::move(bytes));
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = entries_.find(key); it != entries_.end()) remove_locked(it);
    while (used_ + size > budget_ && !lru_.empty()) {
      const ChunkKey victim = lru_.back();
      remove_locked(entries_.find(victim));
      tombstones_.push_back(victim);
      if (tombstones_.size() > kTombstones) tombstones_.pop_front();
    }
    lru_.push_front(key);
    entries_.emplace(key, Entry{StoredChunk{key, std::move(shared), sum}, lru_.begin()});
    used_ += size;
    ++per_context_[key.context_hash][key.fingerprint];
    return Status::ok();
  }

  void remove_locked(Map::iterator it) {
    const ChunkKey k = it->first;
    used_ -= static_cast<std::int64_t>(it->second.chunk.view().size());
    lru_.erase(it->second.lru);
    entries_.erase(it);
    auto ctx = per_context_.find(k.context_hash);
    if (--ctx->second[k.fingerprint] == 0) ctx->second.erase(k.fingerprint);
    if (ctx->second.empty()) per_context_.erase(ctx);
  }

  void touch_locked(Entry& e) { lru_.splice(lru_.begin(), lru_, e.lru); }

  Lookup miss_locked(const ChunkKey& k) const {
    Lookup out;
    out.missing = k;
    const auto ctx = per_context_.find(k.context_hash);
    if (ctx != per_context_.end() && !ctx->second.contains(k.fingerprint)) {
      out.reason = MissReason::kFingerprintMismatch;
      out.message = "full prefill: fingerprint mismatch: context " + detail::hex64(k.context_hash) +
                    " is cached by model " + detail::hex64(ctx->second.begin()->first) + ", not by " +
                    detail::hex64(k.fingerprint);
      return out;
    }
    bool evicted = false;
    for (const ChunkKey& t : tombstones_) evicted = evicted || t == k;
    out.reason = evicted ? MissReason::kEvicted : MissReason::kAbsent;
    out.message = "full prefill: " + std::string(transfer::to_string(out.reason)) + ": " + to_string(k) +
                  (evicted ? " was evicted for the byte budget" : " is not in the store");
    return out;
  }

  const std::int64_t budget_;
  mutable std::mutex mutex_;
  Map entries_;
  std::list<ChunkKey> lru_;
  std::deque<ChunkKey> tombstones_;
  // context hash -> model fingerprint -> number of stored chunks: tells a fingerprint
  // mismatch from an absent context without scanning the entries.
  std::unordered_map<std::uint64_t, std::unordered_map<std::uint64_t, std::int64_t>> per_context_;
  std::int64_t used_ = 0;
};

}}}  // namespace droidspeak::DROIDSPEAK_ABI::transfer

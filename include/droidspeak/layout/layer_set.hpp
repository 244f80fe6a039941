// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file `LayerSet`: a subset of a model's layers as a fixed-size bitmask, usable on device.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"

#include <cstdint>
#include <span>
#include <string>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace layout {

namespace detail {
DROIDSPEAK_HOST_DEVICE constexpr int popcount64(std::uint64_t w) {
#if defined(__CUDA_ARCH__)
  return __popcll(w);
#else
  return __builtin_popcountll(w);
#endif
}
//! Index of the lowest set bit. Precondition: w != 0.
DROIDSPEAK_HOST_DEVICE constexpr int lowest_bit64(std::uint64_t w) {
#if defined(__CUDA_ARCH__)
  return __ffsll(static_cast<long long>(w)) - 1;
#else
  return __builtin_ctzll(w);
#endif
}
}  // namespace detail

//! The most layers a model may have (Llama 3.1 405B has 126).
inline constexpr std::int64_t kMaxLayers = 256;

//! A set of layer indices in [0, kMaxLayers), as a 256-bit mask. A trivially copyable value
//! type: pass it by value into kernels. Iteration order is ascending.
class LayerSet {
 public:
  constexpr LayerSet() = default;

  //! Layers [begin, end); an empty set when begin >= end. Precondition: 0 <= begin, end <= kMaxLayers.
  static constexpr LayerSet range(std::int64_t begin, std::int64_t end) {
    LayerSet s;
    for (std::int64_t l = begin; l < end; ++l) s.insert(l);
    return s;
  }
  //! Every layer of a model with `num_layers` layers.
  static constexpr LayerSet all(std::int64_t num_layers) { return range(0, num_layers); }

  //! The set of listed layers. Fails on an index outside [0, num_layers) or a duplicate,
  //! naming it. Order of the list does not matter.
  static Result<LayerSet> from_list(std::span<const std::int64_t> layers, std::int64_t num_layers) {
    if (num_layers < 0 || num_layers > kMaxLayers) {
      return Status::invalid_argument("layer set: num_layers " + std::to_string(num_layers) +
                                      " outside [0, " + std::to_string(kMaxLayers) + "]");
    }
    LayerSet s;
    for (std::int64_t l : layers) {
      if (l < 0 || l >= num_layers) {
        return Status::out_of_range("layer set: layer " + std::to_string(l) + " outside [0, " +
                                    std::to_string(num_layers) + ")");
      }
      if (s.contains(l)) {
        return Status::invalid_argument("layer set: layer " + std::to_string(l) +
                                        " listed twice");
      }
      s.insert(l);
    }
    return s;
  }

  //! The set whose bit i is bit i of `mask` (layers 0..63).
  static constexpr LayerSet from_mask(std::uint64_t mask) {
    LayerSet s;
    s.words_[0] = mask;
    return s;
  }

  DROIDSPEAK_HOST_DEVICE constexpr bool contains(std::int64_t l) const {
    return l >= 0 && l < kMaxLayers && ((words_[l >> 6] >> (l & 63)) & 1u);
  }
  constexpr void insert(std::int64_t l) { words_[l >> 6] |= std::uint64_t{1} << (l & 63); }
  constexpr void erase(std::int64_t l) { words_[l >> 6] &= ~(std::uint64_t{1} << (l & 63)); }

  DROIDSPEAK_HOST_DEVICE constexpr std::int64_t count() const {
    std::int64_t n = 0;
    for (std::uint64_t w : words_) n += detail::popcount64(w);
    return n;
  }
  DROIDSPEAK_HOST_DEVICE constexpr bool empty() const { return count() == 0; }

  //! One past the largest member, 0 when empty.
  constexpr std::int64_t end_bound() const {
    for (std::int64_t l = kMaxLayers - 1; l >= 0; --l) {
      if (contains(l)) return l + 1;
    }
    return 0;
  }

  //! The `i`-th member in ascending order (0-based). Precondition: i < count().
  DROIDSPEAK_HOST_DEVICE constexpr std::int64_t nth(std::int64_t i) const {
    for (int w = 0; w < kWords; ++w) {
      const std::int64_t c = detail::popcount64(words_[w]);
      if (i < c) {
        std::uint64_t word = words_[w];
        for (std::int64_t k = 0; k < i; ++k) word &= word - 1;  // drop the lowest set bits
        return w * 64 + detail::lowest_bit64(word);
      }
      i -= c;
    }
    return -1;
  }

  //! How many members are smaller than `l` (the index of `l` among the members).
  DROIDSPEAK_HOST_DEVICE constexpr std::int64_t rank(std::int64_t l) const {
    std::int64_t r = 0;
    for (int w = 0; w < kWords && w * 64 < l; ++w) {
      const std::int64_t bits = l - w * 64;
      const std::uint64_t word = bits >= 64 ? words_[w] : (words_[w] & ((std::uint64_t{1} << bits) - 1));
      r += detail::popcount64(word);
    }
    return r;
  }

  constexpr LayerSet operator|(const LayerSet& o) const {
    LayerSet s;
    for (int w = 0; w < kWords; ++w) s.words_[w] = words_[w] | o.words_[w];
    return s;
  }
  constexpr LayerSet operator&(const LayerSet& o) const {
    LayerSet s;
    for (int w = 0; w < kWords; ++w) s.words_[w] = words_[w] & o.words_[w];
    return s;
  }
  //! Members of this set that are not in `o`.
  constexpr LayerSet minus(const LayerSet& o) const {
    LayerSet s;
    for (int w = 0; w < kWords; ++w) s.words_[w] = words_[w] & ~o.words_[w];
    return s;
  }
  friend constexpr bool operator==(const LayerSet&, const LayerSet&) = default;

  //! "{0, 3, 5}".
  std::string to_string() const {
    std::string out = "{";
    for (std::int64_t l = 0; l < kMaxLayers; ++l) {
      if (!contains(l)) continue;
      if (out.size() > 1) out += ", ";
      out += std::to_string(l);
    }
    return out + "}";
  }

 private:
  static constexpr int kWords = static_cast<int>(kMaxLayers / 64);
  std::uint64_t words_[kWords] = {0, 0, 0, 0};
};

}}}  // namespace droidspeak::DROIDSPEAK_ABI::layout

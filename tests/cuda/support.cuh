// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file CUDA test helpers: device buffers and device mirrors of the host test caches of
//! support/layouts.hpp, so one test runs a host primitive and its kernel on the same data.
#pragma once

#include "droidspeak/core/dtype.hpp"
#include "droidspeak/layout/any_layout.hpp"
#include "droidspeak/layout/layer_set.hpp"
#include "droidspeak/layout/token_range.hpp"
#include "droidspeak/layout/view.hpp"
#include "support/layouts.hpp"  // test::OwnedCache, make_cache, all_specs

#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace droidspeak::test {

//! Fails the test case with the runtime's message unless `e` is cudaSuccess.
inline void check_cuda(cudaError_t e) { REQUIRE_MESSAGE(e == cudaSuccess, cudaGetErrorString(e)); }

//! An owned device allocation (at least one byte, so the pointer is never null).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
    const cudaError_t e = cudaMalloc(&data_, bytes == 0 ? 1 : bytes);
    REQUIRE_MESSAGE(e == cudaSuccess, cudaGetErrorString(e));
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : data_(o.data_), bytes_(o.bytes_) { o.data_ = nullptr; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  ~DeviceBuffer() {
    if (data_ != nullptr) (void)cudaFree(data_);
  }

  //! A buffer holding a copy of `bytes` bytes at `host`.
  static DeviceBuffer from_host(const void* host, std::size_t bytes) {
    DeviceBuffer b(bytes);
    if (bytes > 0) {
      const cudaError_t e = cudaMemcpy(b.data_, host, bytes, cudaMemcpyHostToDevice);
      REQUIRE_MESSAGE(e == cudaSuccess, cudaGetErrorString(e));
    }
    return b;
  }
  template <class T>
  static DeviceBuffer from_vector(const std::vector<T>& v) {
    return from_host(v.data(), v.size() * sizeof(T));
  }

  void upload(const void* host, std::size_t bytes, std::size_t offset = 0) {
    const cudaError_t e = cudaMemcpy(get() + offset, host, bytes, cudaMemcpyHostToDevice);
    REQUIRE_MESSAGE(e == cudaSuccess, cudaGetErrorString(e));
  }
  //! `bytes` bytes from `offset`, copied to the host (synchronises).
  std::vector<std::byte> download(std::size_t bytes, std::size_t offset = 0) const {
    std::vector<std::byte> out(bytes);
    if (bytes > 0) {
      const cudaError_t e = cudaMemcpy(out.data(), get() + offset, bytes, cudaMemcpyDeviceToHost);
      REQUIRE_MESSAGE(e == cudaSuccess, cudaGetErrorString(e));
    }
    return out;
  }
  std::byte* get() const { return static_cast<std::byte*>(data_); }
  std::size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

//! A device copy of a host test cache: data, index arrays and a layout pointing at them.
//! `misalign` shifts the base pointers by that many bytes (a multiple of the element size),
//! to exercise the unvectorised path.
struct DeviceCache {
  DeviceBuffer k, v, block_table, indptr, indices, last_page_len;
  layout::KvLayout layout;
  DType dtype = DType::kF32;
  std::int64_t misalign = 0;

  explicit DeviceCache(const OwnedCache& c, std::int64_t misalign_bytes = 0)
      : layout(c.owned.layout), dtype(c.dtype), misalign(misalign_bytes) {
    k = DeviceBuffer(c.k.size() + static_cast<std::size_t>(misalign));
    if (!c.k.empty()) k.upload(c.k.data(), c.k.size(), static_cast<std::size_t>(misalign));
    if (!c.v.empty()) {
      v = DeviceBuffer(c.v.size() + static_cast<std::size_t>(misalign));
      v.upload(c.v.data(), c.v.size(), static_cast<std::size_t>(misalign));
    }
    const OwnedLayout& o = c.owned;
    if (layout.kind == layout::LayoutKind::kBlockTable) {
      block_table = DeviceBuffer::from_vector(o.block_table);
      layout.block_table.block_table = reinterpret_cast<const std::int32_t*>(block_table.get());
    } else if (layout.kind == layout::LayoutKind::kCsr) {
      indptr = DeviceBuffer::from_vector(o.indptr);
      indices = DeviceBuffer::from_vector(o.indices);
      last_page_len = DeviceBuffer::from_vector(o.last_page_len);
      layout.csr.indptr = reinterpret_cast<const std::int32_t*>(indptr.get());
      layout.csr.indices = reinterpret_cast<const std::int32_t*>(indices.get());
      layout.csr.last_page_len = reinterpret_cast<const std::int32_t*>(last_page_len.get());
    }
  }

  layout::KvView view() const {
    std::byte* kb = k.get() + misalign;
    std::byte* vb = layout.two_bases() ? v.get() + misalign : kb;
    return layout::KvView(kb, vb, dtype, layout);
  }
  layout::ConstKvView cview() const { return view(); }

  std::vector<std::byte> download_k() const {
    return k.download(k.bytes() - static_cast<std::size_t>(misalign),
                      static_cast<std::size_t>(misalign));
  }
  std::vector<std::byte> download_v() const {
    if (!layout.two_bases()) return {};
    return v.download(v.bytes() - static_cast<std::size_t>(misalign),
                      static_cast<std::size_t>(misalign));
  }
};

//! True when the device cache holds exactly the bytes of the host one (every byte of every
//! pool, so rows that must stay untouched are checked too).
inline bool same_bytes(const DeviceCache& d, const OwnedCache& h) {
  return d.download_k() == h.k && d.download_v() == h.v;
}

//! A short name for messages: "block-table NHD split page 16 bf16".
inline std::string describe(const LayoutSpec& s, DType d) {
  return s.name() + " " + std::string(to_string(d));
}

//! The names the CUDA layout tests use: `using namespace droidspeak::test::names;`.
namespace names {
using layout::HeadOrder;
using layout::KvPart;
using layout::KvPlacement;
using layout::LayerSet;
using layout::LayoutKind;
using test::DeviceBuffer;
using test::DeviceCache;
using test::LayoutSpec;
using test::OwnedCache;
}  // namespace names

//! The shape of a transfer between two caches, shared by the copy and quantise tests
//! (each adds its dtypes): layouts, sizes, selected layers, source tokens and where they
//! land, and whether the device bases are shifted by one element (the unvectorised path).
struct TransferCase {
  LayoutSpec src;
  LayoutSpec dst;
  std::int64_t layers = 3;
  std::int64_t heads = 8;
  std::int64_t head_dim = 128;
  std::int64_t src_tokens = 37;
  std::int64_t dst_tokens = 37;
  layout::LayerSet selected = layout::LayerSet::all(3);
  layout::TokenRange range{0, 37};
  std::int64_t dst_begin = 0;
  bool misalign = false;

  //! The host source cache in `dtype`, random from `seed`.
  OwnedCache make_src(DType dtype, std::uint64_t seed) const {
    return make_cache(src, dtype, layers, src_tokens, heads, head_dim, seed);
  }
  //! The host destination cache in `dtype`, as make_cache leaves it with seed 0.
  OwnedCache make_dst(DType dtype) const {
    return make_cache(dst, dtype, layers, dst_tokens, heads, head_dim, 0);
  }
  //! A device copy of `host`, its bases shifted by one element when `misalign` is set.
  DeviceCache upload(const OwnedCache& host) const {
    return DeviceCache(host, misalign ? dtype_size(host.dtype) : 0);
  }

  //! "block-table NHD split page 16 bf16 -> transfer NHD fp8_e4m3, head_dim 128, ...".
  std::string describe(DType from, DType to) const {
    return test::describe(src, from) + " -> " + test::describe(dst, to) + ", head_dim " +
           std::to_string(head_dim) + ", heads " + std::to_string(heads) + ", tokens " +
           range.to_string() + " -> " + std::to_string(dst_begin) + ", layers " +
           selected.to_string() + (misalign ? ", misaligned" : "");
  }
};

}  // namespace droidspeak::test

// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Bad input: every validation path returns its status code and a message saying
//! what was wrong, and nothing is written.
#include "droidspeak/layout/copy.hpp"
#include "droidspeak/layout/deviation.hpp"
#include "droidspeak/layout/quantize.hpp"
#include "support/layouts.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace droidspeak;
using namespace droidspeak::layout;

namespace {

void check_status(const Status& s, StatusCode code, const std::string& message) {
  CHECK(s.code() == code);
  CHECK_MESSAGE(s.message() == message, s.message());
}

// `op` accepts `args` as given and refuses them, naming itself `name`, once their scales
// pointer is null.
template <class Args, class Op>
void check_scales_required(Args args, Op op, const std::string& name) {
  CHECK(op(args).is_ok());
  args.scales = nullptr;
  check_status(op(args), StatusCode::kErrorInvalidArgument, name + ": scales is null");
}

struct Fixture {
  std::vector<float> src_buf, dst_buf;
  TransferLayout tl{2, 4, 2, 8, HeadOrder::kNHD};
  Fixture() : src_buf(256, 1.0f), dst_buf(256, 7.0f) {}
  ConstKvView src() const { return {reinterpret_cast<const std::byte*>(src_buf.data()), DType::kF32, tl}; }
  KvView dst() { return {reinterpret_cast<std::byte*>(dst_buf.data()), DType::kF32, tl}; }
  KvCopyArgs args() { return {src(), dst(), LayerSet::all(2), {0, 4}, 0}; }
  bool dst_untouched() const {
    for (float v : dst_buf) if (v != 7.0f) return false;
    return true;
  }
};

}  // namespace

TEST_CASE("copy_kv: shape, range and overlap errors") {
  Fixture f;
  KvCopyArgs a = f.args();
  a.src.dtype = static_cast<DType>(17);
  check_status(copy_kv(a), StatusCode::kErrorInvalidArgument, "copy_kv: src: unknown dtype");

  a = f.args();
  a.dst.layout = TransferLayout{2, 4, 1, 16, HeadOrder::kNHD};
  check_status(copy_kv(a), StatusCode::kErrorInvalidArgument,
               "copy_kv: src has 2 kv heads of head_dim 8 but dst has 1 of head_dim 16");

  a = f.args();
  a.layers = LayerSet::range(0, 3);
  check_status(copy_kv(a), StatusCode::kErrorOutOfRange,
               "copy_kv: layer 2 selected but src has 2 and dst 2 layers");

  a = f.args();
  a.src_tokens = {2, 5};
  check_status(copy_kv(a), StatusCode::kErrorOutOfRange,
               "copy_kv: source tokens [2, 5) outside the source's 4 tokens");
  a.src_tokens = {3, 2};
  check_status(copy_kv(a), StatusCode::kErrorOutOfRange,
               "copy_kv: source tokens [3, 2) outside the source's 4 tokens");

  a = f.args();
  a.src_tokens = {0, 2};
  a.dst_token_begin = 3;
  check_status(copy_kv(a), StatusCode::kErrorOutOfRange,
               "copy_kv: 2 tokens written from position 3 exceed the destination's 4 tokens");
  a.dst_token_begin = -1;
  CHECK(copy_kv(a).code() == StatusCode::kErrorOutOfRange);

  a = f.args();
  a.dst.k_data = reinterpret_cast<std::byte*>(f.src_buf.data() + 64);
  a.dst.v_data = a.dst.k_data;
  check_status(copy_kv(a), StatusCode::kErrorInvalidArgument, "copy_kv: src and dst buffers overlap");

  a = f.args();
  a.dst.k_data = nullptr;
  check_status(copy_kv(a), StatusCode::kErrorInvalidArgument, "copy_kv: dst: data pointer is null");

  a = f.args();
  a.src.layout = TransferLayout{-1, 4, 2, 8, HeadOrder::kNHD};
  check_status(copy_kv(a), StatusCode::kErrorInvalidArgument,
               "copy_kv: src: transfer layout: need num_layers >= 0, num_tokens >= 0, "
               "num_kv_heads > 0, head_dim > 0; got -1, 4, 2, 8");
  a.src.layout = TransferLayout{1 << 30, 1 << 30, 1 << 30, 8, HeadOrder::kNHD};
  check_status(copy_kv(a), StatusCode::kErrorInvalidArgument,
               "copy_kv: src: transfer layout: size overflows 64 bits");
  CHECK(f.dst_untouched());
}

TEST_CASE("copy_kv: paged index errors") {
  Fixture f;
  const PagePool pp{2, 3, 2, 2, 8, HeadOrder::kNHD, KvPlacement::kFused};
  std::vector<float> pool(static_cast<std::size_t>(pp.pool_elements()), 0.0f);
  std::vector<std::int32_t> table{0, 2};
  KvCopyArgs a = f.args();
  auto with_table = [&](BlockTableLayout l) {
    a.dst = KvView(reinterpret_cast<std::byte*>(pool.data()), DType::kF32, l);
    return copy_kv(a);
  };
  check_status(with_table({pp, table.data(), 1, 4}), StatusCode::kErrorOutOfRange,
               "copy_kv: dst: block table layout: 4 tokens need 2 blocks but the table has 1");
  check_status(with_table({pp, nullptr, 2, 4}), StatusCode::kErrorInvalidArgument,
               "copy_kv: dst: block table layout: block_table is null");
  table[1] = 3;
  check_status(with_table({pp, table.data(), 2, 4}), StatusCode::kErrorOutOfRange,
               "copy_kv: dst: block table layout: block_table[1] = 3 outside [0, 3)");
  table[1] = -1;
  CHECK(with_table({pp, table.data(), 2, 4}).code() == StatusCode::kErrorOutOfRange);
  check_status(with_table({PagePool{2, 3, 0, 2, 8, HeadOrder::kNHD, KvPlacement::kFused}, table.data(), 2, 4}),
               StatusCode::kErrorInvalidArgument,
               "copy_kv: dst: block table layout: page pool: need num_layers >= 0, num_pages >= 0 "
               "and positive page_size, num_kv_heads, head_dim; got 2, 3, 0, 2, 8");
  check_status(with_table({pp, table.data(), 2, -4}), StatusCode::kErrorInvalidArgument,
               "copy_kv: dst: block table layout: negative num_tokens or num_blocks");

  // CSR: request 0 of a batch of 1, pages {1, 0}, last page holds 2 tokens -> 4 tokens.
  std::vector<std::int32_t> indptr{0, 2}, indices{1, 0}, last{2};
  auto with_csr = [&](CsrPageLayout l) {
    a.dst = KvView(reinterpret_cast<std::byte*>(pool.data()), DType::kF32, l);
    return copy_kv(a);
  };
  CHECK(with_csr({pp, indptr.data(), indices.data(), last.data(), 1, 0, 4}).is_ok());
  check_status(with_csr({pp, indptr.data(), indices.data(), last.data(), 1, 1, 4}),
               StatusCode::kErrorOutOfRange, "copy_kv: dst: csr page layout: request 1 outside a batch of 1");
  check_status(with_csr({pp, nullptr, indices.data(), last.data(), 1, 0, 4}),
               StatusCode::kErrorInvalidArgument,
               "copy_kv: dst: csr page layout: indptr, indices and last_page_len are required");
  check_status(with_csr({pp, indptr.data(), indices.data(), last.data(), 1, 0, 3}),
               StatusCode::kErrorInvalidArgument,
               "copy_kv: dst: csr page layout: request 0 holds 4 tokens but num_tokens is 3");
  last[0] = 3;
  check_status(with_csr({pp, indptr.data(), indices.data(), last.data(), 1, 0, 5}),
               StatusCode::kErrorOutOfRange,
               "copy_kv: dst: csr page layout: last_page_len[0] = 3 outside [1, 2]");
  last[0] = 2;
  indices[0] = 5;
  check_status(with_csr({pp, indptr.data(), indices.data(), last.data(), 1, 0, 4}),
               StatusCode::kErrorOutOfRange,
               "copy_kv: dst: csr page layout: indices[0] = 5 outside [0, 3)");
  indices[0] = 1;
  indptr = {1, 2};
  check_status(with_csr({pp, indptr.data(), indices.data(), last.data(), 1, 0, 2}),
               StatusCode::kErrorInvalidArgument, "copy_kv: dst: csr page layout: indptr[0] must be 0");
  std::vector<std::int32_t> indptr3{0, 2, 1}, last2{2, 2};
  check_status(with_csr({pp, indptr3.data(), indices.data(), last2.data(), 2, 0, 4}),
               StatusCode::kErrorInvalidArgument, "copy_kv: dst: csr page layout: indptr decreases at 1");
  check_status(with_csr({pp, indptr.data(), indices.data(), last.data(), 1, 0, -1}),
               StatusCode::kErrorInvalidArgument, "copy_kv: dst: csr page layout: negative num_tokens");
  CHECK(f.dst_untouched());
}

TEST_CASE("quantize_kv / dequantize_kv: dtype and scale errors") {
  Fixture f;
  std::vector<std::int8_t> q(256, 0);
  std::vector<float> scales(64, 0.0f);
  const KvView qv(reinterpret_cast<std::byte*>(q.data()), DType::kI8, f.tl);
  KvQuantizeArgs a{f.src(), qv, scales.data(), LayerSet::all(2), {0, 4}, 0};
  check_scales_required(a, [](const KvQuantizeArgs& x) { return quantize_kv(x); }, "quantize_kv");
  a = {f.src(), f.dst(), scales.data(), LayerSet::all(2), {0, 4}, 0};
  check_status(quantize_kv(a), StatusCode::kErrorInvalidArgument,
               "quantize_kv: dst dtype f32 is not fp8_e4m3 or int8");
  a = {ConstKvView(qv), KvView(reinterpret_cast<std::byte*>(f.dst_buf.data()), DType::kI8, f.tl),
       scales.data(), LayerSet::all(2), {0, 4}, 0};
  check_status(quantize_kv(a), StatusCode::kErrorInvalidArgument,
               "quantize_kv: src dtype int8 is not f32, f16 or bf16");

  KvDequantizeArgs d{ConstKvView(qv), scales.data(), f.dst(), LayerSet::all(2), {0, 4}, 0};
  check_scales_required(d, [](const KvDequantizeArgs& x) { return dequantize_kv(x); },
                        "dequantize_kv");
  d = {f.src(), scales.data(), f.dst(), LayerSet::all(2), {0, 4}, 0};
  check_status(dequantize_kv(d), StatusCode::kErrorInvalidArgument,
               "dequantize_kv: src dtype f32 is not fp8_e4m3 or int8");
  d = {ConstKvView(qv), scales.data(), KvView(reinterpret_cast<std::byte*>(f.dst_buf.data()), DType::kFP8E4M3, f.tl),
       LayerSet::all(2), {0, 4}, 0};
  check_status(dequantize_kv(d), StatusCode::kErrorInvalidArgument,
               "dequantize_kv: dst dtype fp8_e4m3 is not f32, f16 or bf16");
  d = {ConstKvView(qv), scales.data(), f.dst(), LayerSet::all(3), {0, 4}, 0};
  check_status(dequantize_kv(d), StatusCode::kErrorOutOfRange,
               "dequantize_kv: layer 2 selected but src has 2 and dst 2 layers");
}

TEST_CASE("kv_deviation: shape and output errors") {
  Fixture f;
  std::vector<KvDeviation> out(2);
  KvDeviationArgs a{f.src(), f.src(), LayerSet::all(2), {0, 4}};
  CHECK(kv_deviation(a, out).is_ok());
  std::vector<KvDeviation> small(1);
  check_status(kv_deviation(a, small), StatusCode::kErrorInvalidArgument,
               "kv_deviation: out has 1 entries, layer 1 selected");
  a.tokens = {0, 5};
  check_status(kv_deviation(a, out), StatusCode::kErrorOutOfRange,
               "kv_deviation: tokens [0, 5) outside a (4) or b (4)");
  a = {f.src(), f.src(), LayerSet::all(3), {0, 4}};
  check_status(kv_deviation(a, out), StatusCode::kErrorOutOfRange,
               "kv_deviation: layer 2 selected but a has 2 and b 2 layers");
  ConstKvView other(reinterpret_cast<const std::byte*>(f.src_buf.data()), DType::kF32,
                    TransferLayout{2, 4, 1, 16, HeadOrder::kNHD});
  a = {f.src(), other, LayerSet::all(2), {0, 4}};
  check_status(kv_deviation(a, out), StatusCode::kErrorInvalidArgument,
               "kv_deviation: a and b differ in kv heads or head_dim");
  a = {f.src(), ConstKvView(nullptr, DType::kF32, f.tl), LayerSet::all(2), {0, 4}};
  check_status(kv_deviation(a, out), StatusCode::kErrorInvalidArgument,
               "kv_deviation: b: data pointer is null");
}

TEST_CASE("copy_e: errors") {
  std::vector<float> src(2 * 4 * 8, 1.0f), dst(2 * 4 * 8, 0.0f);
  const ECacheLayout l{LayerSet::from_mask(0b11), 4, 8};
  ECopyArgs a{ConstEView(reinterpret_cast<const std::byte*>(src.data()), DType::kF32, l),
              EView(reinterpret_cast<std::byte*>(dst.data()), DType::kF32, l), LayerSet::from_mask(0b11),
              {0, 4}, 0};
  CHECK(copy_e(a).is_ok());
  ECopyArgs b = a;
  b.dst.layout.hidden_size = 4;
  check_status(copy_e(b), StatusCode::kErrorInvalidArgument, "copy_e: hidden size 8 vs 4");
  b = a;
  b.src_tokens = {1, 4};
  b.dst_token_begin = 2;
  check_status(copy_e(b), StatusCode::kErrorOutOfRange,
               "copy_e: tokens [1, 4) -> from 2 outside src (4) or dst (4)");
  b = a;
  b.dst.data = reinterpret_cast<std::byte*>(src.data() + 8);
  check_status(copy_e(b), StatusCode::kErrorInvalidArgument, "copy_e: src and dst buffers overlap");
  b = a;
  b.src.data = nullptr;
  check_status(copy_e(b), StatusCode::kErrorInvalidArgument, "copy_e: data pointer is null");
  b = a;
  b.dst.dtype = static_cast<DType>(99);
  check_status(copy_e(b), StatusCode::kErrorInvalidArgument, "copy_e: unknown dtype");
  b = a;
  b.src.layout.hidden_size = 0;
  check_status(copy_e(b), StatusCode::kErrorInvalidArgument,
               "copy_e: src: e-cache layout: need num_tokens >= 0 and hidden_size > 0, got 4 and 0");
}

TEST_CASE("layout validation: pool and E-cache sizes that overflow") {
  const PagePool huge{1 << 20, std::int64_t{1} << 40, 1 << 20, 8, 128, HeadOrder::kNHD, KvPlacement::kSplit};
  check_status(huge.validate(), StatusCode::kErrorInvalidArgument, "page pool: size overflows 64 bits");
  const PagePool many{1, std::int64_t{INT32_MAX} + 1, 1, 1, 1, HeadOrder::kNHD, KvPlacement::kSplit};
  check_status(many.validate(), StatusCode::kErrorInvalidArgument,
               "page pool: num_pages exceeds the int32 page index range");
  const ECacheLayout e{LayerSet::all(200), std::int64_t{1} << 40, std::int64_t{1} << 30};
  check_status(e.validate(), StatusCode::kErrorInvalidArgument, "e-cache layout: size overflows 64 bits");
  KvLayout bad;
  bad.kind = static_cast<LayoutKind>(7);
  check_status(bad.validate(), StatusCode::kErrorInvalidArgument, "kv layout: unknown layout kind");
  check_status(bad.validate_host_indices(), StatusCode::kErrorInvalidArgument, "kv layout: unknown layout kind");
}

#include "droidspeak/layout/copy.hpp"
#include "droidspeak/layout/deviation.hpp"
#include "droidspeak/layout/quantize.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace droidspeak;
using namespace droidspeak::layout;

TEST_CASE("smoke: transfer to block table and back") {
  TransferLayout tl{2, 5, 2, 4, HeadOrder::kNHD};
  std::vector<float> src(static_cast<size_t>(tl.pool_elements()));
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i) + 0.5f;
  std::vector<std::int32_t> table{2, 0, 1};
  BlockTableLayout bt{PagePool{2, 3, 2, 2, 4, HeadOrder::kHND, KvPlacement::kFused}, table.data(), 3, 5};
  std::vector<std::uint16_t> pool(static_cast<size_t>(bt.pool_elements()));
  KvView pv(reinterpret_cast<std::byte*>(pool.data()), DType::kBF16, bt);
  ConstKvView sv(reinterpret_cast<const std::byte*>(src.data()), DType::kF32, tl);
  REQUIRE(copy_kv({sv, pv, LayerSet::all(2), {0, 5}, 0}).is_ok());
  std::vector<float> back(src.size(), -1.0f);
  KvView bv(reinterpret_cast<std::byte*>(back.data()), DType::kF32, tl);
  REQUIRE(copy_kv({pv, bv, LayerSet::all(2), {0, 5}, 0}).is_ok());
  for (size_t i = 0; i < src.size(); ++i) CHECK(back[i] == to_float(to_bfloat16(src[i])));
}

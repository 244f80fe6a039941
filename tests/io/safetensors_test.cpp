// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Tests of io/safetensors.hpp: round trips, every malformed-file case, shards.
#include "droidspeak/io/safetensors.hpp"

#include "io/io_test_support.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <map>
#include <numeric>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

using namespace droidspeak;
using namespace droidspeak::io;
using droidspeak::test::check_error;
using droidspeak::test::crafted_safetensors;
using droidspeak::test::raw_safetensors;
using droidspeak::test::TempDir;

namespace {

// Distinct, deterministic bytes for a tensor of `n` elements of `dtype`.
std::vector<std::byte> pattern(DType dtype, std::int64_t n, int seed) {
  std::vector<std::byte> out(static_cast<std::size_t>(n * dtype_size(dtype)));
  for (std::int64_t i = 0; i < n; ++i) {
    const float v = static_cast<float>(seed) * 0.5f + static_cast<float>(i) * 0.25f - 3.0f;
    std::byte* p = out.data() + i * dtype_size(dtype);
    if (dtype == DType::kF32) std::memcpy(p, &v, 4);
    const std::uint16_t h = to_half(v).bits;
    const std::uint16_t b = to_bfloat16(v).bits;
    if (dtype == DType::kF16) std::memcpy(p, &h, 2);
    if (dtype == DType::kBF16) std::memcpy(p, &b, 2);
  }
  return out;
}

std::int64_t product(const std::vector<std::int64_t>& shape) {
  return std::accumulate(shape.begin(), shape.end(), std::int64_t{1}, std::multiplies<>());
}

// Parses crafted bytes in memory and from a file; both must fail the same way.
Status parse_both(const std::vector<std::byte>& bytes) {
  TempDir dir;
  const auto path = dir / "crafted.safetensors";
  droidspeak::test::write_bytes(path, bytes);
  Result<SafetensorsFile> f = SafetensorsFile::open(path);
  Result<SafetensorsView> m = parse_safetensors(bytes, path.string());
  CHECK(f.status().code() == m.status().code());
  CHECK(f.status().message() == m.status().message());
  return f.status();
}

// A crafted file of `header` and `data_bytes` zero bytes of data: both parses refuse it with
// kErrorIo and a message naming every substring.
void check_refused(std::string_view header, std::size_t data_bytes,
                   std::initializer_list<std::string_view> substrings) {
  check_error(parse_both(crafted_safetensors(header, data_bytes)), StatusCode::kErrorIo, substrings);
}

}  // namespace

TEST_CASE("safetensors: round trip of every dtype and shape") {
  const std::vector<std::vector<std::int64_t>> shapes = {{}, {0}, {1}, {7}, {3, 5}, {2, 0, 3}, {2, 3, 4, 5}};
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    CAPTURE(to_string(dtype));
    std::vector<std::vector<std::byte>> data;
    std::vector<std::string> names;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      data.push_back(pattern(dtype, product(shapes[i]), static_cast<int>(i)));
      // Unsorted names: the writer sorts them.
      names.push_back("layers." + std::to_string(shapes.size() - i) + ".w");
    }
    std::vector<TensorView> tensors;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      tensors.push_back({names[i], dtype, shapes[i], data[i]});
    }
    TempDir dir;
    const auto path = dir / "model.safetensors";
    const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "ünïcode"}};
    REQUIRE(write_safetensors(path, std::span<const TensorView>(tensors), metadata).is_ok());

    Result<SafetensorsFile> f = SafetensorsFile::open(path);
    REQUIRE_MESSAGE(f.is_ok(), f.status().to_string());
    CHECK(f->metadata() == metadata);
    CHECK(f->path() == path);
    const auto listed = f->names();
    REQUIRE(listed.size() == shapes.size());
    CHECK(std::is_sorted(listed.begin(), listed.end()));
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      CAPTURE(names[i]);
      Result<TensorView> t = f->tensor(names[i]);
      REQUIRE(t.is_ok());
      CHECK(t->name == names[i]);
      CHECK(t->dtype == dtype);
      CHECK(t->shape == shapes[i]);
      CHECK(t->numel() == product(shapes[i]));
      REQUIRE(t->data.size() == data[i].size());
      CHECK(std::equal(t->data.begin(), t->data.end(), data[i].begin()));
      // Every element type here gets an aligned pointer from an 8-padded header.
      CHECK(reinterpret_cast<std::uintptr_t>(t->data.data()) % dtype_size(dtype) == 0);
      Result<std::vector<float>> f32 = to_f32_vector(*t);
      REQUIRE(f32.is_ok());
      for (std::size_t k = 0; k < f32->size(); ++k) {
        CHECK((*f32)[k] == static_cast<float>(i) * 0.5f + static_cast<float>(k) * 0.25f - 3.0f);
      }
    }

    // The file holds exactly what serialize_safetensors produces, with an 8-aligned header.
    Result<std::vector<std::byte>> image =
        serialize_safetensors(to_raw(std::span<const TensorView>(tensors)), metadata);
    REQUIRE(image.is_ok());
    const auto bytes = f->bytes();
    REQUIRE(bytes.size() == image->size());
    CHECK(std::equal(bytes.begin(), bytes.end(), image->begin()));
    std::uint64_t header_len = 0;
    std::memcpy(&header_len, bytes.data(), 8);
    CHECK((8 + header_len) % 8 == 0);
    CHECK(static_cast<char>(bytes[8]) == '{');
    // Tensors are packed in name order from offset 0.
    std::int64_t expected_begin = static_cast<std::int64_t>(8 + header_len);
    for (const SafetensorsEntry& e : f->entries()) {
      CHECK(e.begin == expected_begin);
      expected_begin = e.end;
    }
    CHECK(expected_begin == static_cast<std::int64_t>(bytes.size()));
  }
}

TEST_CASE("safetensors: raw tensors of other element types, and integer reads") {
  const std::vector<std::int32_t> ids = {72, 101, 108, -1, 2147483647};
  const std::vector<std::int64_t> big = {1, -2, std::int64_t{1} << 40};
  const std::vector<std::uint8_t> bytes = {1, 2, 3};
  const std::vector<RawTensorView> tensors = {
      {"input_ids.0", "I32", {5}, std::as_bytes(std::span(ids))},
      {"big", "I64", {3, 1}, std::as_bytes(std::span(big))},
      {"u", "U8", {3}, std::as_bytes(std::span(bytes))},
  };
  Result<std::vector<std::byte>> image = serialize_safetensors(tensors);
  REQUIRE(image.is_ok());
  Result<SafetensorsView> v = parse_safetensors(*image, "mem");
  REQUIRE_MESSAGE(v.is_ok(), v.status().to_string());

  Result<RawTensorView> r = v->raw_tensor("input_ids.0");
  REQUIRE(r.is_ok());
  CHECK(r->dtype == "I32");
  Result<std::vector<std::int64_t>> got = to_i64_vector(*r);
  REQUIRE(got.is_ok());
  CHECK(*got == std::vector<std::int64_t>(ids.begin(), ids.end()));
  Result<std::vector<std::int64_t>> got_big = to_i64_vector(*v->raw_tensor("big"));
  REQUIRE(got_big.is_ok());
  CHECK(*got_big == big);
  check_error(to_i64_vector(*v->raw_tensor("u")).status(), StatusCode::kErrorNotSupported,
              {"\"u\"", "U8"});

  // The typed view refuses element types droidspeak does not compute in, naming the tensor.
  check_error(v->tensor("input_ids.0").status(), StatusCode::kErrorNotSupported,
              {"mem", "\"input_ids.0\"", "I32", "not supported"});
  check_error(v->tensor("nope").status(), StatusCode::kErrorInvalidArgument,
              {"mem", "no tensor named \"nope\""});
  check_error(v->raw_tensor("nope").status(), StatusCode::kErrorInvalidArgument, {"\"nope\""});
  CHECK(v->contains("big"));
  CHECK_FALSE(v->contains("bi"));
}

TEST_CASE("safetensors: the writer refuses bad input") {
  const std::vector<float> x(6, 1.0f);
  const auto bytes = std::as_bytes(std::span(x));
  SUBCASE("byte count") {
    const std::vector<TensorView> t = {{"w", DType::kF32, {2, 2}, bytes}};
    check_error(serialize_safetensors(to_raw(t)).status(), StatusCode::kErrorInvalidArgument,
                {"\"w\"", "24 bytes", "need 16"});
  }
  SUBCASE("duplicate name") {
    const std::vector<TensorView> t = {{"w", DType::kF32, {6}, bytes}, {"w", DType::kF32, {6}, bytes}};
    check_error(serialize_safetensors(to_raw(t)).status(), StatusCode::kErrorInvalidArgument,
                {"\"w\"", "twice"});
  }
  SUBCASE("reserved and empty names") {
    const std::vector<TensorView> t = {{"__metadata__", DType::kF32, {6}, bytes}};
    check_error(serialize_safetensors(to_raw(t)).status(), StatusCode::kErrorInvalidArgument,
                {"__metadata__"});
    const std::vector<TensorView> e = {{"", DType::kF32, {6}, bytes}};
    CHECK(serialize_safetensors(to_raw(e)).status().code() == StatusCode::kErrorInvalidArgument);
  }
  SUBCASE("unknown dtype and negative shape") {
    const std::vector<RawTensorView> t = {{"w", "F7", {6}, bytes}};
    check_error(serialize_safetensors(t).status(), StatusCode::kErrorInvalidArgument,
                {"\"w\"", "unknown dtype"});
    const std::vector<RawTensorView> n = {{"w", "F32", {-6}, bytes}};
    check_error(serialize_safetensors(n).status(), StatusCode::kErrorInvalidArgument,
                {"\"w\"", "negative"});
  }
  SUBCASE("invalid UTF-8 name") {
    const std::vector<RawTensorView> t = {{"w\xff", "F32", {6}, bytes}};
    CHECK(serialize_safetensors(t).status().code() == StatusCode::kErrorInvalidArgument);
  }
  SUBCASE("unwritable path") {
    const std::vector<TensorView> t = {{"w", DType::kF32, {6}, bytes}};
    check_error(write_safetensors("/nonexistent-dir/x.safetensors", std::span<const TensorView>(t)),
                StatusCode::kErrorIo, {"/nonexistent-dir/x.safetensors"});
  }
}

TEST_CASE("safetensors: every malformed file gets a status naming file, tensor and problem") {
  SUBCASE("file shorter than the length field") {
    check_error(parse_both(std::vector<std::byte>(5)), StatusCode::kErrorIo, {"crafted.safetensors", "truncated", "5 bytes"});
    check_error(parse_both({}), StatusCode::kErrorIo, {"crafted.safetensors", "truncated"});
  }
  SUBCASE("header length past the end of the file") {
    check_error(parse_both(raw_safetensors(1000, "{}")), StatusCode::kErrorIo,
                {"crafted.safetensors", "header length 1000", "past the end"});
    check_error(parse_both(raw_safetensors(~std::uint64_t{0}, "{}")), StatusCode::kErrorIo,
                {"past the end"});
  }
  SUBCASE("a truncated data section") {
    // A valid file cut short: the header promises 24 bytes of data, 10 remain.
    check_refused(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}})", 10,
                  {"crafted.safetensors", "\"w\"", "out of range", "10 bytes"});
  }
  SUBCASE("header not JSON, or not an object") {
    check_refused("{\"w\": ", 0, {"crafted.safetensors", "not valid JSON"});
    check_refused("", 0, {"not valid JSON"});
    check_refused(std::string("{}\0", 3), 0, {"not valid JSON"});
    check_refused("[1, 2]", 0, {"crafted.safetensors", "must be a JSON object", "array"});
  }
  SUBCASE("entries that are not objects or lack fields") {
    check_refused(R"({"w": 3})", 0, {"\"w\"", "must be an object"});
    check_refused(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", 4, {"\"w\"", "missing \"dtype\""});
    check_refused(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", 4,
                  {"\"w\"", "missing \"shape\""});
    check_refused(R"({"w":{"dtype":"F32","shape":[1]}})", 4, {"\"w\"", "missing \"data_offsets\""});
    check_refused(R"({"w":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})", 4,
                  {"\"w\"", "\"dtype\" must be a string"});
    check_refused(R"({"w":{"dtype":"F32","shape":1,"data_offsets":[0,4]}})", 4,
                  {"\"w\"", "\"shape\" must be an array"});
  }
  SUBCASE("unknown dtype") {
    check_refused(R"({"emb":{"dtype":"F7","shape":[1],"data_offsets":[0,4]}})", 4,
                  {"crafted.safetensors", "\"emb\"", "unknown dtype \"F7\""});
  }
  SUBCASE("shape and byte count disagree") {
    check_refused(R"({"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,24]}})", 24,
                  {"crafted.safetensors", "\"w\"", "[2, 3]", "12 bytes", "span 24", "mismatch"});
  }
  SUBCASE("data_offsets out of range, reversed, negative or malformed") {
    check_refused(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", 12,
                  {"\"w\"", "[8, 16]", "out of range", "12 bytes"});
    check_refused(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 16,
                  {"\"w\"", "end 0 is before begin 8"});
    check_refused(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[-4,0]}})", 16,
                  {"\"w\"", "negative"});
    check_refused(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 16,
                  {"\"w\"", "two integers"});
    check_refused(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,"8"]}})", 16,
                  {"\"w\"", "two integers"});
    check_refused(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[18446744073709551615,8]}})", 16,
                  {"\"w\"", "two integers"});
  }
  SUBCASE("overlapping tensors") {
    check_refused(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                  12, {"crafted.safetensors", "\"a\"", "\"b\"", "overlap"});
    // Identical ranges overlap too; empty tensors overlap nothing.
    check_refused(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                  R"("b":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}})",
                  8, {"overlap"});
    CHECK(parse_both(crafted_safetensors(
                         R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                         R"("b":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})",
                         8))
              .is_ok());
  }
  SUBCASE("negative, non-integer and overflowing shapes") {
    check_refused(R"({"w":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,0]}})", 0,
                  {"\"w\"", "shape[1] is negative"});
    check_refused(R"({"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,0]}})", 0,
                  {"\"w\"", "shape[0] is not an integer"});
    check_refused(R"({"w":{"dtype":"F32","shape":["2"],"data_offsets":[0,0]}})", 0,
                  {"\"w\"", "shape[0] is not an integer", "string"});
    check_refused(R"({"w":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,0]}})", 0,
                  {"\"w\"", "overflows"});
    // The product fits, times the element size it does not.
    check_refused(R"({"w":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}})", 0,
                  {"\"w\"", "overflows"});
  }
  SUBCASE("metadata must map strings to strings") {
    check_refused(R"({"__metadata__": [1]})", 0, {"__metadata__", "must be an object"});
    check_refused(R"({"__metadata__": {"k": 1}})", 0,
                  {"__metadata__", "\"k\"", "must be a string"});
  }
  SUBCASE("a file that does not exist") {
    check_error(SafetensorsFile::open("/nonexistent/model.safetensors").status(),
                StatusCode::kErrorIo, {"/nonexistent/model.safetensors", "cannot open"});
  }
}

TEST_CASE("safetensors: headers the format allows") {
  // Trailing spaces (the writer's own padding), an empty object, gaps between tensors.
  CHECK(parse_both(crafted_safetensors("{}      ", 0)).is_ok());
  CHECK(parse_both(crafted_safetensors("{}", 0)).is_ok());
  const std::vector<std::byte> bytes =
      crafted_safetensors(R"({"b":{"dtype":"F16","shape":[1],"data_offsets":[6,8]},)"
                          R"("a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})",
                          8);
  Result<SafetensorsView> v = parse_safetensors(bytes, "gaps");
  REQUIRE(v.is_ok());
  CHECK(v->names() == std::vector<std::string_view>{"a", "b"});
  CHECK(v->entries()[1].shape == std::vector<std::int64_t>{1});
}

TEST_CASE("safetensors: a sharded set equals the same tensors from one file") {
  TempDir dir;
  std::vector<std::vector<std::byte>> data;
  std::vector<TensorView> all;
  const std::vector<std::string> names = {"embed", "layers.0.q", "layers.0.k", "layers.1.q", "norm"};
  for (std::size_t i = 0; i < names.size(); ++i) {
    data.push_back(pattern(i % 2 ? DType::kBF16 : DType::kF32, static_cast<std::int64_t>(3 + i), static_cast<int>(i)));
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    all.push_back({names[i], i % 2 ? DType::kBF16 : DType::kF32, {static_cast<std::int64_t>(3 + i)}, data[i]});
  }
  REQUIRE(write_safetensors(dir / "single.safetensors", std::span<const TensorView>(all)).is_ok());
  const std::vector<TensorView> shard1 = {all[0], all[2], all[4]};
  const std::vector<TensorView> shard2 = {all[1], all[3]};
  REQUIRE(write_safetensors(dir / "model-00001-of-00002.safetensors", std::span<const TensorView>(shard1)).is_ok());
  REQUIRE(write_safetensors(dir / "model-00002-of-00002.safetensors", std::span<const TensorView>(shard2)).is_ok());
  droidspeak::test::write_text(dir / "model.safetensors.index.json", R"({
    "metadata": {"total_size": 100},
    "weight_map": {
      "embed": "model-00001-of-00002.safetensors",
      "layers.0.k": "model-00001-of-00002.safetensors",
      "norm": "model-00001-of-00002.safetensors",
      "layers.0.q": "model-00002-of-00002.safetensors",
      "layers.1.q": "model-00002-of-00002.safetensors"
    }})");

  Result<SafetensorsSet> single = SafetensorsSet::open(dir / "single.safetensors");
  Result<SafetensorsSet> sharded = SafetensorsSet::open(dir / "model.safetensors.index.json");
  REQUIRE_MESSAGE(single.is_ok(), single.status().to_string());
  REQUIRE_MESSAGE(sharded.is_ok(), sharded.status().to_string());
  CHECK(sharded->shards().size() == 2);
  CHECK(single->names() == sharded->names());
  for (std::string_view name : single->names()) {
    CAPTURE(name);
    Result<TensorView> a = single->tensor(name);
    Result<TensorView> b = sharded->tensor(name);
    REQUIRE(a.is_ok());
    REQUIRE(b.is_ok());
    CHECK(a->dtype == b->dtype);
    CHECK(a->shape == b->shape);
    CHECK(std::equal(a->data.begin(), a->data.end(), b->data.begin(), b->data.end()));
  }
  check_error(sharded->tensor("lm_head").status(), StatusCode::kErrorInvalidArgument,
              {"model.safetensors.index.json", "no tensor named \"lm_head\""});
  // Moving the set keeps earlier views valid (the mappings do not move).
  Result<TensorView> before = sharded->tensor("norm");
  SafetensorsSet moved = std::move(sharded).value();
  Result<TensorView> after = moved.tensor("norm");
  CHECK(before->data.data() == after->data.data());
}

TEST_CASE("safetensors: malformed shard indexes") {
  TempDir dir;
  const std::vector<float> x = {1, 2};
  const std::vector<TensorView> t = {{"a", DType::kF32, {2}, std::as_bytes(std::span(x))}};
  REQUIRE(write_safetensors(dir / "s1.safetensors", std::span<const TensorView>(t)).is_ok());
  const auto index = dir / "model.safetensors.index.json";
  auto open_with = [&](std::string_view text) {
    droidspeak::test::write_text(index, text);
    return SafetensorsSet::open_index(index).status();
  };
  check_error(open_with("{ nope"), StatusCode::kErrorIo, {"model.safetensors.index.json", "not valid JSON"});
  check_error(open_with("[]"), StatusCode::kErrorIo, {"model.safetensors.index.json", "object"});
  check_error(open_with(R"({"metadata": {}})"), StatusCode::kErrorIo,
              {"model.safetensors.index.json", "missing \"weight_map\""});
  check_error(open_with(R"({"weight_map": []})"), StatusCode::kErrorIo, {"\"weight_map\" must be an object"});
  check_error(open_with(R"({"weight_map": {"a": 1}})"), StatusCode::kErrorIo,
              {"tensor \"a\"", "file name string"});
  check_error(open_with(R"({"weight_map": {"a": "../s1.safetensors"}})"), StatusCode::kErrorIo,
              {"tensor \"a\"", "not a file name"});
  check_error(open_with(R"({"weight_map": {"a": "/etc/passwd"}})"), StatusCode::kErrorIo,
              {"tensor \"a\"", "not a file name"});
  check_error(open_with(R"({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}})"),
              StatusCode::kErrorIo, {"model.safetensors.index.json", "s2.safetensors", "\"b\"", "missing"});
  check_error(open_with(R"({"weight_map": {"a": "s1.safetensors", "z": "s1.safetensors"}})"),
              StatusCode::kErrorIo, {"tensor \"z\"", "missing from its shard", "s1.safetensors"});
  // A malformed shard: the message names the index and the shard.
  droidspeak::test::write_bytes(dir / "bad.safetensors", raw_safetensors(99, "{}"));
  check_error(open_with(R"({"weight_map": {"a": "bad.safetensors"}})"), StatusCode::kErrorIo,
              {"model.safetensors.index.json", "bad.safetensors", "past the end"});
  check_error(SafetensorsSet::open_index(dir / "absent.index.json").status(), StatusCode::kErrorIo,
              {"absent.index.json", "not found"});
  CHECK(open_with(R"({"weight_map": {"a": "s1.safetensors"}})").is_ok());
}

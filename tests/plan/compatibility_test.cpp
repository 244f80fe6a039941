// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
#include "droidspeak/plan/compatibility.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace droidspeak;
using namespace droidspeak::plan;
using droidspeak::layout::LayerSet;

namespace {
CompatibilityRecord record() {
  CompatibilityRecord r;
  r.architecture = "LlamaForCausalLM";
  r.geometry = {6, 192, 4, 2, 48};
  r.vocab_size = 256;
  r.embedding_fingerprint = 11;
  r.layer_fingerprints = {1, 2, 3, 4, 5, 6};
  r.head_fingerprint = 99;
  return r;
}
}  // namespace

TEST_CASE("fingerprints tell identical bytes from different ones") {
  std::vector<std::byte> a(1001, std::byte{3}), b = a;
  CHECK(fingerprint64(a) == fingerprint64(b));
  b[1000] = std::byte{4};
  CHECK(fingerprint64(a) != fingerprint64(b));
  b = a;
  b.push_back(std::byte{0});  // a trailing zero changes the length, hence the fingerprint
  CHECK(fingerprint64(a) != fingerprint64(b));
  CHECK(fingerprint64(std::span<const std::byte>{}) != fingerprint64(a));
  // A known value pins the function across platforms and releases (plan files store it).
  const std::byte abc[] = {std::byte{'a'}, std::byte{'b'}, std::byte{'c'}};
  CHECK(fingerprint64(abc) == 0xf34b80ae66eb8043ull);
  CHECK(fingerprint64(abc, 1) != fingerprint64(abc, 2));
}

TEST_CASE("identical prefixes and layers are found; exact reuse needs the embeddings too") {
  CompatibilityRecord s = record(), r = record();
  r.layer_fingerprints[3] = 40;
  r.layer_fingerprints[5] = 60;
  Result<PairCompatibility> c = check_compatibility(s, r);
  REQUIRE(c.is_ok());
  CHECK(c->embeddings_identical);
  CHECK(c->identical_prefix == 3);
  CHECK(c->identical_layers == LayerSet::from_mask(0b010111));
  CHECK(c->exact_reuse_layers() == LayerSet::range(0, 3));
  r.embedding_fingerprint = 12;
  c = check_compatibility(s, r);
  REQUIRE(c.is_ok());
  CHECK(c->exact_reuse_layers().empty());
  CHECK(check_compatibility(s, s)->identical_prefix == 6);
}

TEST_CASE("incompatible pairs are refused naming the first mismatch") {
  CompatibilityRecord s = record(), r = record();
  r.geometry.num_kv_heads = 4;
  CHECK(check_compatibility(s, r).status().message() ==
        "incompatible models: num_kv_heads 2 vs 4 (sender vs receiver)");
  r = record();
  r.geometry.num_layers = 7;
  r.layer_fingerprints.push_back(7);
  CHECK(check_compatibility(s, r).status().message() ==
        "incompatible models: num_layers 6 vs 7 (sender vs receiver)");
  r = record();
  r.vocab_size = 32000;
  CHECK(check_compatibility(s, r).status().message() ==
        "incompatible models: vocab_size 256 vs 32000 (sender vs receiver)");
  r = record();
  r.rope.theta = 500000;
  CHECK(check_compatibility(s, r).status().message() ==
        "incompatible models: rope_theta 10000 vs 500000 (sender vs receiver)");
  r = record();
  r.rope.llama3_scaling = true;
  CHECK(check_compatibility(s, r).status().message() ==
        "incompatible models: rope_scaling none vs llama3 (sender vs receiver)");
  r = record();
  r.layer_fingerprints.pop_back();
  CHECK(check_compatibility(s, r).status().code() == StatusCode::kErrorInvalidArgument);
}

// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Test fixtures for the droidspeak tool: random byte-level checkpoints in DIR — `base`,
//! `tuned` (base with layers 3..5 and the embeddings perturbed), `other-kv` (different KV
//! heads: incompatible with both) — and a samples file `samples.jsonl`.
//!
//! Usage: droidspeak_make_test_models DIR [--layers L] [--hidden H] [--context N]
#include <cstdio>
#include <fstream>
#include <string>

#include "args.hpp"
#include "droidspeak/reference/hf_loader.hpp"
#include "droidspeak/reference/random_model.hpp"

namespace ds = droidspeak;

int main(int argc, char** argv) {
  const droidspeak_cli::Args args(std::vector<std::string>(argv + 1, argv + argc),
                                  {{"layers"}, {"hidden"}, {"context"}});
  const auto layers = droidspeak_cli::parse_int(args.get("layers", "6"));
  const auto hidden = droidspeak_cli::parse_int(args.get("hidden", "64"));
  const auto context = droidspeak_cli::parse_int(args.get("context", "96"));
  if (!args.error().empty() || args.positional().size() != 1 || !layers || !hidden || !context ||
      *hidden % 16 != 0 || *layers < 2 || *context < 1) {
    std::fprintf(stderr,
                 "usage: droidspeak_make_test_models DIR [--layers L] [--hidden H (multiple of "
                 "16)] [--context N]\n");
    return 2;
  }
  const std::filesystem::path dir = args.positional()[0];
  ds::io::HfConfig c{};
  c.architecture = "LlamaForCausalLM";
  c.hidden_size = *hidden;
  c.num_layers = *layers;
  c.num_q_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = *hidden / 4;
  c.intermediate_size = 2 * *hidden;
  c.vocab_size = 256;
  c.max_position_embeddings = 4096;
  c.rms_norm_eps = 1e-5f;
  c.rope.theta = 10000.0f;
  c.torch_dtype = "float16";
  auto base = ds::reference::make_random_model(c, 1, ds::DType::kF16);
  if (!base) return std::fprintf(stderr, "%s\n", base.status().to_string().c_str()), 1;
  auto tuned =
      ds::reference::perturb_layers(*base, ds::layout::LayerSet::range(3, *layers), 0.3f, 7, true);
  if (!tuned) return std::fprintf(stderr, "%s\n", tuned.status().to_string().c_str()), 1;
  ds::io::HfConfig o = c;
  o.num_kv_heads = 4;
  auto other = ds::reference::make_random_model(o, 2, ds::DType::kF16);
  if (!other) return std::fprintf(stderr, "%s\n", other.status().to_string().c_str()), 1;
  for (const auto& [name, w] :
       {std::pair{"base", &*base}, std::pair{"tuned", &*tuned}, std::pair{"other-kv", &*other}}) {
    const ds::Status s = ds::reference::save_hf_model(dir / name, *w);
    if (!s) return std::fprintf(stderr, "%s\n", s.to_string().c_str()), 1;
  }
  // Text samples: repetitive lines so a random model's suffix loss still means something.
  std::ofstream f(dir / "samples.jsonl", std::ios::trunc);
  const std::string words[] = {"alpha ", "beta ", "gamma ", "delta ", "kappa ", "sigma "};
  for (int i = 0; i < 4; ++i) {
    std::string ctx, sfx;
    for (int j = 0; static_cast<std::int64_t>(ctx.size()) < *context; ++j)
      ctx += words[(i + j * (i + 1)) % 6];
    ctx.resize(static_cast<std::size_t>(*context));
    for (int j = 0; sfx.size() < 16; ++j) sfx += words[(i + j) % 6];
    sfx.resize(16);
    f << "{\"context\": \"" << ctx << "\", \"suffix\": \"" << sfx << "\"}\n";
  }
  std::ofstream(dir / "context.txt", std::ios::trunc)
      << "alpha beta gamma delta kappa sigma alpha beta gamma delta";
  std::ofstream(dir / "prompt.txt", std::ios::trunc) << " kappa sigma";
  return f ? 0 : 1;
}

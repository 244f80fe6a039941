// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file What every subcommand of the droidspeak tool shares: loading a checked model pair,
//! reading inputs, checking output
//! paths, the progress bar and formatting.
#pragma once

#include <unistd.h>  // isatty

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "droidspeak/io/output_file.hpp"
#include "droidspeak/plan/compatibility.hpp"
#include "droidspeak/plan/plan_file.hpp"
#include "droidspeak/prefill/partial_prefill.hpp"
#include "droidspeak/profile/qa_samples_file.hpp"
#include "droidspeak/profile/samples_file.hpp"
#include "droidspeak/reference/compatibility.hpp"
#include "droidspeak/reference/engine.hpp"
#include "droidspeak/reference/hf_loader.hpp"
#include "droidspeak/reference/tokenizer.hpp"

namespace droidspeak_cli {

namespace ds = droidspeak;
namespace fs = std::filesystem;
using ds::Result;
using ds::Status;

//! Two loaded checkpoints that may share KV, with their records and engines.
struct Pair {
  fs::path sender_dir, receiver_dir;
  ds::reference::ModelWeights sender_weights, receiver_weights;
  ds::plan::CompatibilityRecord sender_record, receiver_record;
  ds::plan::PairCompatibility compat;
  ds::reference::Engine sender, receiver;
  std::int64_t num_layers() const { return receiver.geometry().num_layers; }
};

//! A checkpoint directory's weights, refusing a missing directory with a short message.
inline Result<ds::reference::ModelWeights> load_checkpoint(const fs::path& dir, const char* role) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Status::io_error(
        std::string(role) + " " + dir.string() +
        (fs::exists(dir, ec) ? ": not a directory" : ": no such checkpoint directory"));
  }
  Result<ds::reference::ModelWeights> w = ds::reference::load_hf_model(dir);
  if (!w) return w.status().with_context(std::string(role) + " " + dir.string());
  return w;
}

//! Loads both checkpoints, refuses an incompatible pair, builds the two engines.
inline Result<Pair> load_pair(const fs::path& sender_dir, const fs::path& receiver_dir) {
  Pair p;
  p.sender_dir = sender_dir;
  p.receiver_dir = receiver_dir;
  Result<ds::reference::ModelWeights> s = load_checkpoint(sender_dir, "sender");
  if (!s) return s.status();
  Result<ds::reference::ModelWeights> r = load_checkpoint(receiver_dir, "receiver");
  if (!r) return r.status();
  p.sender_weights = std::move(s).value();
  p.receiver_weights = std::move(r).value();
  Result<ds::plan::CompatibilityRecord> sr = ds::reference::compatibility_record(p.sender_weights);
  if (!sr) return sr.status();
  Result<ds::plan::CompatibilityRecord> rr =
      ds::reference::compatibility_record(p.receiver_weights);
  if (!rr) return rr.status();
  p.sender_record = *sr;
  p.receiver_record = *rr;
  Result<ds::plan::PairCompatibility> c =
      ds::plan::check_compatibility(p.sender_record, p.receiver_record);
  if (!c) return c.status();
  p.compat = *c;
  Result<ds::reference::Engine> se = ds::reference::Engine::create(p.sender_weights);
  if (!se) return se.status();
  Result<ds::reference::Engine> re = ds::reference::Engine::create(p.receiver_weights);
  if (!re) return re.status();
  p.sender = std::move(se).value();
  p.receiver = std::move(re).value();
  return p;
}

//! The plan file at `path`, refused (naming the file and what differs) when it was made for
//! another pair than `pair`.
inline Result<ds::plan::PlanFile> load_plan_for(const fs::path& path, const Pair& pair) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return Status::io_error(path.string() + ": no such plan file");
  Result<ds::plan::PlanFile> file = ds::plan::read_plan_file(path);
  if (!file) return file.status();
  DROIDSPEAK_TRY(ds::plan::check_plan_matches(*file, pair.sender_record, pair.receiver_record)
                     .with_context(path.string()));
  return file;
}

//! A samples file (JSON lines) for `pair`, keeping the first `max_samples` (0: all): a task
//! samples file (profile::read_qa_samples: context, question, answer) when its first line has
//! a "question" or "question_ids" key, else a samples file (profile::read_samples: context,
//! suffix). A sample longer than either model's max_position_embeddings is refused while
//! loading, before any compute.
inline Result<std::vector<ds::profile::Sample>> load_samples(const fs::path& path, const Pair& pair,
                                                             std::int64_t max_samples) {
  const std::int64_t vocab = pair.receiver.vocab_size();
  const std::int64_t max_positions = std::min(pair.sender_weights.config.max_position_embeddings,
                                              pair.receiver_weights.config.max_position_embeddings);
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    return Status::io_error(path.string() + ": no such samples file");
  std::string text;
  DROIDSPEAK_TRY(ds::io::detail::read_text_file(path, text));
  Result<std::vector<ds::profile::Sample>> s =
      ds::profile::looks_like_qa_samples(text)
          ? ds::profile::parse_qa_samples(text, path.string(), vocab, max_positions)
          : ds::profile::parse_samples(text, path.string(), vocab, max_positions);
  if (!s) return s.status();
  if (max_samples > 0 && static_cast<std::int64_t>(s->size()) > max_samples) {
    s->resize(static_cast<std::size_t>(max_samples));
  }
  return s;
}

//! Whether every sample has a reference answer (a task samples file).
inline bool all_have_answers(const std::vector<ds::profile::Sample>& samples) {
  return std::all_of(samples.begin(), samples.end(), [](const ds::profile::Sample& s) { return s.has_answer(); });
}

//! Refuses a measure on generated answers (f1, exact) over samples without answers.
inline Status check_measure_fits(ds::plan::QualityMeasure measure, const std::vector<ds::profile::Sample>& samples,
                                 const fs::path& path) {
  if (ds::plan::needs_answers(measure) && !all_have_answers(samples)) {
    return Status::invalid_argument("--measure " + std::string(ds::plan::to_string(measure)) +
                                    " scores generated answers: " + path.string() +
                                    " is no task samples file (JSON lines of context, question and answer)");
  }
  return Status::ok();
}

//! Tokens of a file: its bytes (byte-level models) or whitespace-separated ids (`ids`).
inline Result<std::vector<std::int32_t>> load_tokens(const fs::path& path, std::int64_t vocab,
                                                     bool ids) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return Status::io_error(path.string() + ": no such file");
  if (ids) return ds::reference::read_token_file(path.string(), vocab);
  if (vocab < 256) {
    return Status::invalid_argument(path.string() +
                                    ": text needs a byte-level model (vocab 256), this one has " +
                                    std::to_string(vocab) + " tokens: give token ids with --ids");
  }
  std::ifstream in(path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::io_error(path.string() + ": read error");
  return ds::reference::byte_tokens(text);
}

//! Tokens as readable text: printable bytes as they are, others C-escaped (byte-level
//! models), or the ids separated by spaces.
inline std::string show_tokens(const std::vector<std::int32_t>& tokens, std::int64_t vocab) {
  std::string out;
  for (std::int32_t t : tokens) {
    if (vocab != 256) {
      out += (out.empty() ? "" : " ") + std::to_string(t);
    } else if (t == '\n') {
      out += "\\n";
    } else if (t == '\t') {
      out += "\\t";
    } else if (t == '\\') {
      out += "\\\\";
    } else if (t >= 0x20 && t < 0x7F) {
      out += static_cast<char>(t);
    } else {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", static_cast<unsigned>(t) & 0xFFu);
      out += b;
    }
  }
  return out;
}

//! Seconds since `t0`.
inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

//! Refuses, before any work starts, an output file given as `option` ("--out", say) that
//! could not be written (io::check_writable_file); the message names the option and the path.
inline Status check_output_file(const fs::path& path, const std::string& option) {
  const Status s = ds::io::check_writable_file(path);
  return s ? s : Status::io_error(option + " " + s.message());
}

//! The same for an output directory (io::check_writable_directory).
inline Status check_output_dir(const fs::path& dir, const std::string& option) {
  const Status s = ds::io::check_writable_directory(dir);
  return s ? s : Status::io_error(option + " " + s.message());
}

//! Tokens of a byte-level model as the bytes they are (to write them back as text).
inline std::string token_bytes(const std::vector<std::int32_t>& tokens) {
  std::string bytes;
  for (std::int32_t t : tokens) bytes += static_cast<char>(t);
  return bytes;
}

//! "12.34 ms".
inline std::string ms(double seconds) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f ms", 1e3 * seconds);
  return b;
}

//! "+3.21 %".
inline std::string pct(double fraction, int decimals = 2) {
  char b[32];
  std::snprintf(b, sizeof b, "%+.*f %%", decimals, 100.0 * fraction);
  return b;
}

//! A quality drop as printed: a signed percentage, or nats for the KL measure.
inline std::string drop_text(double drop, const std::string& measure) {
  if (measure != "kl") return pct(drop);
  char b[32];
  std::snprintf(b, sizeof b, "%.4f nats", drop);
  return b;
}

//! The name a measure's drop is shown under: "loss drop", "KL (nats)", "f1 drop", ...
inline std::string measure_label(const std::string& name) {
  return name == "kl" ? "KL (nats)" : name + " drop";
}

//! The f1 and exact columns of a table row: "  0.8333   0.667".
inline std::string task_columns(const ds::plan::QualityMetrics& q) {
  char b[48];
  std::snprintf(b, sizeof b, "  %6.4f  %6.3f", q.f1(), q.exact());
  return b;
}

//! A one-line progress bar with the time left, redrawn in place on stderr.
class ProgressBar {
 public:
  explicit ProgressBar(std::string label) : label_(std::move(label)), tty_(isatty(2) != 0) {}
  //! Redraws (at most ~5 times a second, or every 10 % when stderr is not a terminal).
  void update(std::int64_t done, std::int64_t total) {
    const double frac =
        total > 0 ? std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0)
                  : 1.0;
    const double elapsed = seconds_since(t0_);
    if (frac < 1.0 && (tty_ ? elapsed - last_ < 0.2 : frac - last_frac_ < 0.1)) return;
    last_ = elapsed;
    last_frac_ = frac;
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(frac * kWidth);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(kWidth, '.');
    char eta[48] = "";
    if (frac >= 1.0) {
      std::snprintf(eta, sizeof eta, "done in %.1f s", elapsed);
    } else if (frac > 0.0) {
      std::snprintf(eta, sizeof eta, "about %.0f s left", elapsed * (1.0 - frac) / frac);
    } else {
      std::snprintf(eta, sizeof eta, "estimating time left");
    }
    std::fprintf(stderr, "%s%s [%s] %3.0f %%  %s%s", tty_ ? "\r" : "", label_.c_str(), bar.c_str(),
                 100.0 * frac, eta, tty_ ? "\x1b[K" : "\n");
    if (tty_ && frac >= 1.0) std::fputc('\n', stderr);
    std::fflush(stderr);
  }

 private:
  std::string label_;
  bool tty_;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
  double last_ = -1.0;
  double last_frac_ = -1.0;
};

//! One line describing a checkpoint's geometry.
inline std::string describe(const ds::io::HfConfig& c) {
  return c.architecture + ", " + std::to_string(c.num_layers) + " layers, hidden " +
         std::to_string(c.hidden_size) + ", " + std::to_string(c.num_q_heads) + " q / " +
         std::to_string(c.num_kv_heads) + " kv heads x " + std::to_string(c.head_dim) + ", vocab " +
         std::to_string(c.vocab_size) + (c.torch_dtype.empty() ? "" : ", " + c.torch_dtype);
}

//! What the pair shares, in one line.
inline std::string describe(const ds::plan::PairCompatibility& c) {
  return "compatible; identical layers: " +
         (c.identical_layers.empty() ? std::string("none") : c.identical_layers.to_string()) +
         "; embeddings " + (c.embeddings_identical ? "identical" : "differ") +
         "; exact reuse of layers " +
         (c.exact_reuse_layers().empty() ? std::string("none")
                                         : c.exact_reuse_layers().to_string());
}

}  // namespace droidspeak_cli

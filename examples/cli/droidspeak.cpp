// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The droidspeak command-line tool: profile a pair of checkpoints into a plan, run a
//! pipelined partial prefill with it, compare it with full reuse and full recompute, inspect
//! checkpoints and plans; with no arguments, all of that on a bundled pair.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "args.hpp"
#include "cmd_compare.hpp"
#include "cmd_inspect.hpp"
#include "cmd_load.hpp"
#include "cmd_profile.hpp"
#include "cmd_run.hpp"
#if defined(DROIDSPEAK_CLI_UCX)
#include "cmd_serve.hpp"
#endif
#include "common.hpp"

using namespace droidspeak_cli;

namespace {

#ifndef DROIDSPEAK_SOURCE_DIR
#define DROIDSPEAK_SOURCE_DIR "."
#endif

constexpr const char* kUsage =
    R"(usage: droidspeak [COMMAND] [OPTIONS]   (droidspeak COMMAND --help for its options)

DroidSpeak: a receiver LLM reuses the KV cache a sender LLM of the same
architecture computed, recomputing only the layers a profiled plan names.

commands:
  (none) / demo  profile -> compare -> run on a bundled pair, pictures in droidspeak-out/
  profile        profile a sender/receiver pair over samples and write a plan file
  run            pipelined partial prefill with a plan, timed against full prefill
                 (--remote ADDR:PORT: the sender's caches come from a serve process)
  serve          the sender as a process: prefill contexts, serve their caches over UCX
  compare        full reuse, the plan and full recompute on held-out samples
  inspect        what a checkpoint directory or a plan file holds
  load           many requests: time to first token against load, four strategies
)";

constexpr const char* kProfileHelp =
    R"(usage: droidspeak profile --sender DIR --receiver DIR --samples FILE --out plan.json
         [--granularity g] [--threshold 0.05] [--max-intervals k]
         [--measure loss|accuracy|kl|f1|exact] [--max-samples N]
         [--svg-dir DIR] [--no-prune]

Checks the pair is compatible, measures the receiver's quality for every
contiguous recompute interval (starting and ending on multiples of g layers)
over the samples, selects the cheapest plan whose quality drop stays within the
threshold (loss, accuracy, f1, exact: a fraction, 0.05 = 5 %; kl: nats), writes the
plan file, prints the Pareto front and draws grid.svg and pareto.svg (next to
the plan unless --svg-dir). --max-intervals 2 also evaluates the two-interval
plans cheaper than the best single interval. With loss or kl the profiler
prunes exactly: a plan that can no longer reach the Pareto front stops being
measured (its grid cell reads "pruned"); the front is the same as without
pruning. --no-prune measures every plan on every sample.
Samples: JSON lines {"context": TEXT, "suffix": TEXT} (byte-level models) or
{"context_ids": [ids], "suffix_ids": [ids]} (any model); suffix >= 2 tokens.
Task samples (told apart by a "question" key on the first line):
{"context": TEXT, "question": TEXT, "answer": TEXT} or {"context_ids": [ids],
"question_ids": [ids], "answer_ids": [ids], "stop_id": id}, optionally with
"max_answer_tokens": N. After the question every plan generates an answer
greedily over its mixed cache (text answers end at the first newline), scored
by --measure f1 (word-level F1) or exact (exact match), both after
normalisation: ASCII lower-case, punctuation and whitespace separate words.
Task samples are never pruned.
)";

constexpr const char* kRunHelp =
    R"(usage: droidspeak run --plan plan.json --sender DIR --receiver DIR
         --context FILE --prompt FILE [--bandwidth GB/s] [--latency ms]
         [--tokens N] [--pairs N] [--ids] [--timeline FILE.svg] [--no-guard]
         [--use-plan PLAN|selected]
         [--remote ADDR:PORT [--remote-timeout S] [--transports TLS]
          [--link-rounds N]] [--sweep-bandwidth GB/s,GB/s,...]

The sender prefills the context. The receiver's cost model is calibrated on
this machine and the fastest of the plan file's profiled plans within its
quality threshold is chosen for the link (a simulated link of --bandwidth GB/s
when given, else in process). The receiver's pipelined partial prefill with it
is timed against its own full prefill in N interleaved pairs (default 6, so
each goes first equally often) after a warm-up pair: measured and predicted
time to first token side by side, and partial / full as the median of the
per-pair ratios with its range and the load average. Both then generate N tokens (greedy, default 32) and the median
pair is drawn (timeline.svg next to the plan unless --timeline). Context and
prompt files are text (byte-level models) or, with --ids, token ids.
When the plan file holds a calibrated quality guard (written by profile), the
plan's partial prefill runs once more and the guard probes it: if the reused
KV deviates beyond the calibrated bounds, the continuation comes from the
receiver's full prefill instead. --no-guard skips the check.
--use-plan runs the plan the file selected ("selected") or another plan the
file profiled ("3-4", "0,3-4", "none") instead of the fastest for the link.
--remote ADDR:PORT: the sender is a `droidspeak serve` process holding the
context's caches. The receiver asks it by context hash, sender model and plan,
and fetches E then KV over UCX while it recomputes (--bandwidth then only tells
the cost model the link's rate). If the sender cannot serve them (a miss, a
cache of another model, a timeout after --remote-timeout seconds (default 10),
a corrupt chunk, a dead sender), the run prints "remote: FELL BACK to the
receiver's full prefill: <why>" and continues from its own full prefill. It
never uses partial or unchecked data. --transports sets UCX_TLS (e.g. tcp).
Before choosing the plan, the remote receiver measures the link through that
same path: after a warm-up round, --link-rounds rounds (default 4, at most 3 s)
each fetch E of 2 layers and KV of 4, every chunk timed, and fits latency per
chunk + bytes / bandwidth. The cost model then uses the measured link; both
rates are printed. --link-rounds 0 skips it (--bandwidth is then used as is).
--sweep-bandwidth 0.0025,0.01,1 prints, for each of those links (GB/s, with
--latency), the plan the cost model would choose within the file's threshold
and its predicted time to first token, and stops: nothing else runs.
)";

constexpr const char* kServeHelp =
    R"(usage: droidspeak serve --sender DIR (--samples FILE | --context FILE [--ids])
         [--listen ADDR:PORT] [--port-file FILE] [--max-requests N]
         [--idle-timeout S] [--send-timeout S] [--budget-mb MB]
         [--transports TLS] [--fault corrupt|withhold|kill-after:N]

The sender as its own process: loads the sender checkpoint, prefills every
context of the samples file and/or the context file (E and KV of every layer),
keeps them in a cache store of --budget-mb MB (default 4096, LRU) and serves
them over UCX to `droidspeak run --remote`. It listens on --listen (default
127.0.0.1:0: loopback, a free port, printed and written to --port-file) and
runs until SIGINT/SIGTERM, until it has answered --max-requests requests, or
until no request came for --idle-timeout seconds; then it lets the last sends
finish (at most --send-timeout seconds, default 10) and prints what it served.
A request it cannot serve gets a miss and its reason; a malformed one gets an
error; neither stops it. --fault is for tests of the receiver's fallbacks:
corrupt flips a byte of every chunk, withhold sends none, kill-after:N makes
the process SIGKILL itself when a chunk is due after N were sent.
)";

constexpr const char* kCompareHelp =
    R"(usage: droidspeak compare --plan plan.json --sender DIR --receiver DIR
         --samples FILE [--max-samples N] [--pairs N]
         [--measure loss|accuracy|kl|f1|exact] [--threshold t]
         [--small-model DIR]

Full reuse, the plan and full recompute side by side on (held-out) samples:
quality drop against the receiver's full prefill (on --measure, default the
plan file's), loss, next-token accuracy, KL, and prefill time with its ratio to
the receiver's full prefill, each timed in N interleaved pairs (default 6)
after a warm-up pair. Task samples (see droidspeak profile --help) add the F1
and exact match of each row's greedy answers, and print the first question's.
Below, the baselines: the sender alone (its own full prefill and answers on the
receiver's samples) and, with --small-model, a smaller model of the same
vocabulary. If the sender alone is within the threshold (default the plan
file's) of the receiver's full prefill, compare says that reuse is pointless
for this pair.
)";

constexpr const char* kInspectHelp = R"(usage: droidspeak inspect DIR [DIR2]
       droidspeak inspect plan.json

A checkpoint directory: its geometry, parameters and weight fingerprints (with
DIR2: whether the two may share KV and which layers are identical). A plan
file: the plan, how it was selected, its predictions and the pair it is for.
)";

constexpr const char* kDemoHelp =
    R"(usage: droidspeak [demo] [--models DIR] [--data DIR] [--sender NAME]
         [--receiver NAME] [--domain NAME] [--out DIR] [--granularity g]
         [--samples N] [--measure loss|accuracy|kl] [--threshold t]
         [--bandwidth GB/s] [--pairs N]

Profiles the bundled pair base -> ft-code on examples/data/code_profile.jsonl,
compares the plan with full reuse and full recompute on code_heldout.jsonl,
runs the fastest profiled plan for a simulated link of --bandwidth GB/s on one
held-out context (timed in --pairs interleaved pairs), and writes plan.json,
grid.svg, pareto.svg and timeline.svg into droidspeak-out/.
Defaults: granularity 2, 8 samples per file, 1 GB/s, and the paper's
criterion: the cheapest plan whose suffix loss on the profiling samples is
within 5 % of the receiver's own (--measure loss --threshold 0.05; --measure kl
--threshold 0.03 selects on the KL divergence from the receiver's own
predictions instead).
)";

// Message of one line: newlines folded.
std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

int fail(const std::string& command, const std::string& message) {
  std::fprintf(stderr, "droidspeak%s%s: error: %s\n", command.empty() ? "" : " ", command.c_str(),
               one_line(message).c_str());
  return 1;
}

int fail(const std::string& command, const Status& s) { return fail(command, s.message()); }

// Parses, answers --help, reports option errors; `ok` false means: return `rc`.
struct Parsed {
  Args args;
  bool done = false;
  int rc = 0;
};

Parsed parse(const std::string& command, const std::vector<std::string>& argv,
             const std::vector<OptionSpec>& specs, const char* help,
             const std::vector<std::string>& required) {
  Parsed p{Args(argv, specs)};
  if (p.args.help()) {
    std::fputs(help, stdout);
    p.done = true;
  } else if (!p.args.error().empty()) {
    p.rc = fail(command, p.args.error() + " (see droidspeak " + command + " --help)");
    p.done = true;
  } else if (const std::string m = p.args.missing(required); !m.empty()) {
    p.rc = fail(command, "missing " + m + " (see droidspeak " + command + " --help)");
    p.done = true;
  } else if (!p.args.positional().empty() && command != "inspect") {
    p.rc = fail(command, "unexpected argument '" + p.args.positional()[0] + "' (see droidspeak " +
                             command + " --help)");
    p.done = true;
  }
  return p;
}

int cmd_profile(const std::vector<std::string>& argv) {
  Parsed p = parse("profile", argv,
                   {{"sender"},
                    {"receiver"},
                    {"samples"},
                    {"out"},
                    {"granularity"},
                    {"threshold"},
                    {"max-intervals"},
                    {"measure"},
                    {"max-samples"},
                    {"svg-dir"},
                    {"no-prune", false}},
                   kProfileHelp, {"sender", "receiver", "samples", "out"});
  if (p.done) return p.rc;
  ProfileCommand c{.sender = p.args.get("sender"),
                   .receiver = p.args.get("receiver"),
                   .samples = p.args.get("samples"),
                   .out = p.args.get("out"),
                   .svg_dir = p.args.get("svg-dir")};
  c.measure = p.args.get("measure", "loss");
  c.prune = !p.args.has("no-prune");
  if (!p.args.get_int("granularity", 1, 1, 4096, c.granularity) ||
      !p.args.get_number("threshold", 0.05, 0, 100, c.threshold) ||
      !p.args.get_int("max-intervals", 1, 1, 2, c.max_intervals) ||
      !p.args.get_int("max-samples", 0, 0, 1 << 30, c.max_samples)) {
    return fail("profile", p.args.error());
  }
  if (const auto m = ds::plan::parse_quality_measure(c.measure); !m) return fail("profile", m.status());
  // Every output path is checked before the work; the files are then written atomically.
  if (const Status s = check_output_file(c.out, "--out"); !s) return fail("profile", s);
  if (!c.svg_dir.empty()) {
    if (const Status s = check_output_dir(c.svg_dir, "--svg-dir"); !s) return fail("profile", s);
  }
  Result<Pair> pair = load_pair(c.sender, c.receiver);
  if (!pair) return fail("profile", pair.status());
  const Status s = run_profile(c, *pair);
  return s ? 0 : fail("profile", s);
}

int cmd_run(const std::vector<std::string>& argv) {
  Parsed p = parse("run", argv,
                   {{"plan"},
                    {"sender"},
                    {"receiver"},
                    {"context"},
                    {"prompt"},
                    {"bandwidth"},
                    {"latency"},
                    {"tokens"},
                    {"ids", false},
                    {"timeline"},
                    {"pairs"},
                    {"no-guard", false},
                    {"use-plan"},
                    {"remote"},
                    {"remote-timeout"},
                    {"transports"},
                    {"link-rounds"},
                    {"sweep-bandwidth"}},
                   kRunHelp, {"plan", "sender", "receiver", "context", "prompt"});
  if (p.done) return p.rc;
  RunCommand c{.plan = p.args.get("plan"),
               .sender = p.args.get("sender"),
               .receiver = p.args.get("receiver"),
               .context = p.args.get("context"),
               .prompt = p.args.get("prompt"),
               .timeline = p.args.get("timeline")};
  c.ids = p.args.has("ids");
  c.guard = !p.args.has("no-guard");
  c.use_plan = p.args.get("use-plan");
  c.remote = p.args.get("remote");
  c.transports = p.args.get("transports");
  if (!p.args.get_number("remote-timeout", 10, 0.01, 3600, c.remote_timeout) ||
      !p.args.get_number("bandwidth", 0, 1e-6, 1e6, c.bandwidth_gbps) ||
      !p.args.get_number("latency", 0, 0, 1e4, c.latency_ms) ||
      !p.args.get_int("tokens", 32, 1, 100000, c.tokens) ||
      !p.args.get_int("pairs", 6, 1, 10000, c.pairs) ||
      !p.args.get_int("link-rounds", 4, 0, 1000, c.link_rounds)) {
    return fail("run", p.args.error());
  }
  if (p.args.has("sweep-bandwidth")) {
    Result<std::vector<double>> sweep = parse_bandwidths(p.args.get("sweep-bandwidth"));
    if (!sweep) return fail("run", sweep.status());
    c.sweep_gbps = std::move(sweep).value();
  }
  if (const Status s = check_output_file(timeline_path(c), "--timeline"); !s) return fail("run", s);
  Result<Pair> pair = load_pair(c.sender, c.receiver);
  if (!pair) return fail("run", pair.status());
  const Status s = run_run(c, *pair);
  return s ? 0 : fail("run", s);
}

int cmd_serve(const std::vector<std::string>& argv) {
  Parsed p = parse("serve", argv,
                   {{"sender"},
                    {"samples"},
                    {"context"},
                    {"ids", false},
                    {"listen"},
                    {"port-file"},
                    {"max-requests"},
                    {"idle-timeout"},
                    {"send-timeout"},
                    {"budget-mb"},
                    {"transports"},
                    {"fault"}},
                   kServeHelp, {"sender"});
  if (p.done) return p.rc;
#if defined(DROIDSPEAK_CLI_UCX)
  ServeCommand c{.sender = p.args.get("sender"),
                 .samples = p.args.get("samples"),
                 .context = p.args.get("context"),
                 .ids = p.args.has("ids"),
                 .listen = p.args.get("listen", "127.0.0.1:0"),
                 .port_file = p.args.get("port-file")};
  c.transports = p.args.get("transports");
  c.fault = p.args.get("fault");
  if (!p.args.get_int("max-requests", 0, 0, 1 << 30, c.max_requests) ||
      !p.args.get_number("idle-timeout", 0, 0, 1e6, c.idle_timeout) ||
      !p.args.get_number("send-timeout", 10, 0.01, 3600, c.send_timeout) ||
      !p.args.get_int("budget-mb", 4096, 1, 1 << 24, c.budget_mb)) {
    return fail("serve", p.args.error());
  }
  if (!c.port_file.empty()) {
    if (const Status s = check_output_file(c.port_file, "--port-file"); !s) return fail("serve", s);
  }
  const Status s = run_serve(c);
  return s ? 0 : fail("serve", s);
#else
  return fail("serve", "this droidspeak was built without UCX (install libucx-dev and rebuild)");
#endif
}

int cmd_compare(const std::vector<std::string>& argv) {
  Parsed p =
      parse("compare", argv,
            {{"plan"}, {"sender"}, {"receiver"}, {"samples"}, {"max-samples"}, {"pairs"}, {"measure"},
             {"threshold"}, {"small-model"}},
            kCompareHelp, {"plan", "sender", "receiver", "samples"});
  if (p.done) return p.rc;
  CompareCommand c{.plan = p.args.get("plan"),
                   .sender = p.args.get("sender"),
                   .receiver = p.args.get("receiver"),
                   .samples = p.args.get("samples")};
  c.small_model = p.args.get("small-model");
  c.measure = p.args.get("measure", "");
  double threshold = 0.0;
  if (!p.args.get_int("max-samples", 0, 0, 1 << 30, c.max_samples) ||
      !p.args.get_int("pairs", 6, 1, 10000, c.pairs) ||
      !p.args.get_number("threshold", 0, 0, 100, threshold))
    return fail("compare", p.args.error());
  if (p.args.has("threshold")) c.threshold = threshold;
  if (!c.measure.empty()) {
    if (const auto m = ds::plan::parse_quality_measure(c.measure); !m) return fail("compare", m.status());
  }
  Result<Pair> pair = load_pair(c.sender, c.receiver);
  if (!pair) return fail("compare", pair.status());
  const Status s = run_compare(c, *pair);
  return s ? 0 : fail("compare", s);
}

int cmd_inspect(const std::vector<std::string>& argv) {
  Parsed p = parse("inspect", argv, {}, kInspectHelp, {});
  if (p.done) return p.rc;
  const std::vector<std::string>& pos = p.args.positional();
  if (pos.empty() || pos.size() > 2)
    return fail("inspect",
                "give a checkpoint directory (and a second one) or a plan file (see droidspeak "
                "inspect --help)");
  const Status s = run_inspect(pos[0], pos.size() > 1 ? fs::path(pos[1]) : fs::path());
  return s ? 0 : fail("inspect", s);
}

// The first of `candidates` that is a directory.
fs::path first_dir(std::initializer_list<fs::path> candidates) {
  std::error_code ec;
  for (const fs::path& p : candidates) {
    if (fs::is_directory(p, ec)) return p;
  }
  return *candidates.begin();
}

int cmd_demo(const std::vector<std::string>& argv) {
  Parsed p = parse("demo", argv,
                   {{"models"},
                    {"data"},
                    {"sender"},
                    {"receiver"},
                    {"domain"},
                    {"out"},
                    {"granularity"},
                    {"samples"},
                    {"measure"},
                    {"threshold"},
                    {"bandwidth"},
                    {"pairs"}},
                   kDemoHelp, {});
  if (p.done) return p.rc;
  const fs::path src = DROIDSPEAK_SOURCE_DIR;
  const fs::path models = p.args.has("models")
                              ? fs::path(p.args.get("models"))
                              : first_dir({"examples/models", src / "examples" / "models"});
  const fs::path data = p.args.has("data")
                            ? fs::path(p.args.get("data"))
                            : first_dir({"examples/data", src / "examples" / "data"});
  const fs::path out = p.args.get("out", "droidspeak-out");
  const std::string sender = p.args.get("sender", "base"),
                    receiver = p.args.get("receiver", "ft-code");
  const std::string domain = p.args.get("domain", "code");
  std::int64_t granularity = 2, count = 8, pairs = 6;
  double threshold = 0.05, bandwidth = 1.0;
  const std::string measure = p.args.get("measure", "loss");
  if (!p.args.get_int("granularity", 2, 1, 4096, granularity) ||
      !p.args.get_int("samples", 8, 1, 1 << 20, count) ||
      !p.args.get_number("threshold", 0.05, 0, 100, threshold) ||
      !p.args.get_number("bandwidth", 1.0, 1e-6, 1e6, bandwidth) ||
      !p.args.get_int("pairs", 6, 1, 10000, pairs)) {
    return fail("demo", p.args.error());
  }
  if (const auto m = ds::plan::parse_quality_measure(measure); !m) return fail("demo", m.status());
  if (const Status s = check_output_dir(out, "--out"); !s) return fail("demo", s);
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec)
    return fail("demo", out.string() + ": cannot create the output directory: " + ec.message());
  const auto t0 = std::chrono::steady_clock::now();
  Result<Pair> pair = load_pair(models / sender, models / receiver);
  if (!pair)
    return fail("demo", pair.status().message() +
                            " (bundled models: tools/train_family.py, or --models DIR)");

  std::printf(
      "== 1/3  profile: which layers must %s recompute when it reuses %s's KV cache? ==\n\n",
      receiver.c_str(), sender.c_str());
  ProfileCommand pc{.sender = models / sender,
                    .receiver = models / receiver,
                    .samples = data / (domain + "_profile.jsonl"),
                    .out = out / "plan.json",
                    .svg_dir = out,
                    .granularity = granularity,
                    .threshold = threshold,
                    .max_intervals = 1,
                    .measure = measure,
                    .max_samples = count};
  ds::plan::PlanFile plan;
  if (const Status s = run_profile(pc, *pair, &plan); !s) return fail("demo", s);

  std::printf("\n== 2/3  compare on held-out text the plan never saw ==\n");
  CompareCommand cc{.plan = pc.out,
                    .sender = pc.sender,
                    .receiver = pc.receiver,
                    .samples = data / (domain + "_heldout.jsonl"),
                    .max_samples = count,
                    .pairs = pairs};
  if (const Status s = run_compare(cc, *pair); !s) return fail("demo", s);

  std::printf(
      "\n== 3/3  run: pipelined partial prefill of one held-out context, then generation ==\n\n");
  Result<std::vector<ds::profile::Sample>> held =
      load_samples(cc.samples, *pair, 1);
  if (!held) return fail("demo", held.status());
  const ds::profile::Sample& smp = (*held)[0];
  const std::vector<std::int32_t> prompt(
      smp.suffix.begin(), smp.suffix.begin() + static_cast<std::ptrdiff_t>(smp.suffix.size() / 2));
  const std::vector<ds::io::OutputFile> inputs = {{out / "context.txt", token_bytes(smp.context)},
                                                   {out / "prompt.txt", token_bytes(prompt)}};
  if (const Status s = ds::io::write_files_atomically(inputs); !s) return fail("demo", s);
  RunCommand rc{.plan = pc.out,
                .sender = pc.sender,
                .receiver = pc.receiver,
                .context = out / "context.txt",
                .prompt = out / "prompt.txt",
                .timeline = out / "timeline.svg",
                .bandwidth_gbps = bandwidth,
                .latency_ms = 0.05,
                .tokens = 32,
                .pairs = pairs};
  ds::plan::ReusePlan ran;
  if (const Status s = run_run(rc, *pair, &ran); !s) return fail("demo", s);
  std::printf(
      "\ndone in %.1f s. On this link %s recomputes %lld of its %lld layers (plan %s) and reuses "
      "%s's KV for the rest.\n"
      "Pictures: %s/grid.svg (quality drop of every interval), %s/pareto.svg (quality vs layers\n"
      "recomputed), %s/timeline.svg (the pipelined prefill against a full prefill). Profile your "
      "own\n"
      "pair with: droidspeak profile --sender DIR --receiver DIR --samples FILE --out plan.json\n",
      seconds_since(t0), receiver.c_str(), static_cast<long long>(ran.num_recomputed()),
      static_cast<long long>(ran.num_layers()), ran.to_string().c_str(), sender.c_str(),
      out.c_str(), out.c_str(), out.c_str());
  return 0;
}

int dispatch(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return cmd_demo({});
  const std::string command = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (command == "profile") return cmd_profile(rest);
  if (command == "run") return cmd_run(rest);
  if (command == "serve") return cmd_serve(rest);
  if (command == "compare") return cmd_compare(rest);
  if (command == "inspect") return cmd_inspect(rest);
  if (command == "load") return load_main(rest);
  if (command == "demo") return cmd_demo(rest);
  if (command.rfind("--", 0) == 0) return cmd_demo(args);  // options of the default command
  return fail("", "unknown command '" + command + "' (see droidspeak --help)");
}

}  // namespace

int main(int argc, char** argv) {
#ifdef OPENBLAS_VERSION
  // One threading runtime: with the BLAS at one thread per call, the reference engine splits
  // its matrix products over its own pool in pieces its threads claim as they come
  // (reference::EngineOptions::num_threads), which a core busy with another process slows
  // far less than the BLAS's static split (bench/RESULTS.md).
  openblas_set_num_threads(1);
#endif
  // The library reports every failure as a Status; this catches what the standard library
  // itself may throw (allocation failure, filesystem errors) so the tool never dies unexplained.
  try {
    return dispatch(argc, argv);
  } catch (const std::exception& e) {
    return fail("", e.what());
  }
}

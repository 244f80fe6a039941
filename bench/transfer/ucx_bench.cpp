// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
// The UCX path's bytes per second against ucx_perftest (UCP tag_bw) on the same link, in the same
// run: a program, not a Google Benchmark, since its baseline is another program.
//
// Both sides are two processes on this host talking over 127.0.0.1 (UCX picks the transports;
// set UCX_TLS to force one, it applies to both). Per pair, in alternating order:
//   ours      a UcxReceiver fetches `chunks` KV chunks of `size` bytes from a UcxSender in a
//             forked child (request, then per chunk header + pieces + checksum check);
//             `--source one` fetches the same stored chunk `chunks` times instead (one request
//             each), the memory footprint of perftest, which sends one buffer over and over;
//   baseline  ucx_perftest -t tag_bw -s size -n chunks (server and client processes).
// The result is the median over pairs of (our bytes/s) / (perftest bytes/s), with its spread
// and the load average. Exit 77 (skipped) when ucx_perftest is not installed.
//
// Usage: ucx_bench [--size BYTES] [--chunks N] [--pairs N] [--warmup N] [--port P] [--source distinct|one]
#include "droidspeak/profile/paired_timing.hpp"  // summarize, load_average: the ratio's spread
#include "droidspeak/transfer/ucx_transport.hpp"

#include <fcntl.h>  // O_WRONLY
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

using namespace droidspeak;
using namespace droidspeak::transfer;

namespace {

struct Args {
  std::size_t size = 4u << 20;
  std::int64_t chunks = 32;
  std::int64_t pairs = 5;
  std::int64_t warmup = 1;
  int port = 13400;  // ucx_perftest's port; each run uses the next one
  bool one_source = false;  // --source one: every fetch reads the same stored chunk
};

bool parse(int argc, char** argv, Args& a) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--source") {
      const std::string v = argv[i + 1];
      if (v != "one" && v != "distinct") return false;
      a.one_source = v == "one";
      continue;
    }
    const long long v = std::atoll(argv[i + 1]);
    if (k == "--size") a.size = static_cast<std::size_t>(v);
    else if (k == "--chunks") a.chunks = v;
    else if (k == "--pairs") a.pairs = v;
    else if (k == "--warmup") a.warmup = v;
    else if (k == "--port") a.port = static_cast<int>(v);
    else return false;
  }
  return a.size > 0 && a.chunks >= 1 && a.chunks <= layout::kMaxLayers && a.pairs >= 1 && a.warmup >= 0;
}

bool have_perftest() { return std::system("command -v ucx_perftest >/dev/null 2>&1") == 0; }

//! One ucx_perftest tag_bw run on loopback; its overall bandwidth in bytes/s (UCX prints MB/s
//! with MB = 2^20), or a negative value on failure.
double perftest_bytes_per_second(const Args& a, int port) {
  const std::string p = std::to_string(port);
  const char* server_argv[] = {"ucx_perftest", "-p", p.c_str(), nullptr};
  pid_t server = 0;
  posix_spawn_file_actions_t quiet;  // the server's banner would interleave with our table
  posix_spawn_file_actions_init(&quiet);
  posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&quiet, 2, "/dev/null", O_WRONLY, 0);
  const int spawned = posix_spawnp(&server, "ucx_perftest", &quiet, nullptr, const_cast<char**>(server_argv), environ);
  posix_spawn_file_actions_destroy(&quiet);
  if (spawned != 0) return -1;
  double bw = -1;
  // The server needs a moment to listen: the client retries a few times.
  for (int attempt = 0; attempt < 20 && bw < 0; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const std::string cmd = "ucx_perftest 127.0.0.1 -p " + p + " -t tag_bw -s " + std::to_string(a.size) + " -n " +
                            std::to_string(a.chunks) + " -w 2 -v 2>/dev/null";
    FILE* f = popen(cmd.c_str(), "r");
    if (f == nullptr) break;
    char line[512];
    while (std::fgets(line, sizeof line, f) != nullptr) {
      // iterations,50.0_percentile_lat,avg_lat,overall_lat,avg_bw,overall_bw,avg_mr,overall_mr
      double it = 0, p50 = 0, avg = 0, overall = 0, avg_bw = 0, overall_bw = 0;
      if (std::sscanf(line, " %lf,%lf,%lf,%lf,%lf,%lf", &it, &p50, &avg, &overall, &avg_bw, &overall_bw) == 6) {
        bw = overall_bw * 1048576.0;
      }
    }
    pclose(f);
  }
  kill(server, SIGTERM);
  int status = 0;
  waitpid(server, &status, 0);
  return bw;
}

//! Our path, fetched in order into one registered buffer: with distinct sources, one request
//! for every chunk; with one source, `chunks` requests for the chunk of layer 0.
double ours_bytes_per_second(UcxReceiver& r, const Args& a, std::vector<std::byte>& dst) {
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t l = 0; l < a.chunks; ++l) {
    if ((l == 0 || a.one_source) &&
        !r.request(1, 1, Needs{{}, layout::LayerSet::range(0, a.one_source ? 1 : a.chunks)}).is_ok()) {
      return -1;
    }
    const Status s = r.transmit({Payload::kKv, a.one_source ? 0 : l}, {}, dst);
    if (!s.is_ok()) {
      std::fprintf(stderr, "ucx_bench: %s\n", s.to_string().c_str());
      return -1;
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return static_cast<double>(a.size) * static_cast<double>(a.chunks) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (!parse(argc, argv, a)) {
    std::fprintf(stderr, "usage: ucx_bench [--size BYTES] [--chunks N<=256] [--pairs N] [--warmup N] [--port P] "
                 "[--source distinct|one]\n");
    return 2;
  }
  if (!have_perftest()) {
    std::printf("ucx_bench: SKIPPED (ucx_perftest not found; tools/setup.sh installs ucx-utils)\n");
    return 77;
  }

  // The sender: a child process that creates its UCX context after the fork.
  int fds[2];
  if (pipe(fds) != 0) return 1;
  const pid_t child = fork();
  if (child < 0) return 1;
  if (child == 0) {
    close(fds[0]);
    CacheStore store(static_cast<std::int64_t>(a.size) * a.chunks + 1);
    for (std::int64_t l = 0; l < a.chunks; ++l) {
      std::vector<std::byte> b(a.size, static_cast<std::byte>(l));
      if (!store.put({1, 1, CacheOrigin::kFullPrefill}, l, Payload::kKv, std::move(b)).is_ok()) _exit(2);
    }
    SenderOptions o;
    o.verify_checksums = false;  // the receiver checks every chunk; the store was just filled
    auto s = UcxSender::listen(store, o);
    if (!s) _exit(3);
    const std::uint16_t port = (*s)->port();
    if (write(fds[1], &port, sizeof port) != static_cast<ssize_t>(sizeof port)) _exit(4);
    (void)(*s)->progress_for(std::chrono::seconds(300));
    _exit(0);
  }
  close(fds[1]);
  pollfd pfd{fds[0], POLLIN, 0};
  std::uint16_t port = 0;
  if (poll(&pfd, 1, 30000) != 1 || read(fds[0], &port, sizeof port) != static_cast<ssize_t>(sizeof port)) {
    std::fprintf(stderr, "ucx_bench: the sender did not start\n");
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    return 1;
  }
  close(fds[0]);

  int rc = 0;
  {
    auto r = UcxReceiver::connect("127.0.0.1", port, ReceiverOptions{std::chrono::milliseconds(30000), ""});
    if (!r) {
      std::fprintf(stderr, "ucx_bench: %s\n", r.status().to_string().c_str());
      rc = 1;
    } else {
      std::vector<std::byte> dst(a.size);
      (void)(*r)->register_memory(dst);
      const double load_before = profile::load_average();
      std::vector<double> ratios;
      int perftest_port = a.port;
      std::printf("pair  ours (GB/s)  ucx_perftest tag_bw (GB/s)  ratio\n");
      for (std::int64_t i = 0; i < a.warmup + a.pairs && rc == 0; ++i) {
        double ours = 0, base = 0;
        if (i % 2 == 0) {
          ours = ours_bytes_per_second(**r, a, dst);
          base = perftest_bytes_per_second(a, perftest_port++);
        } else {
          base = perftest_bytes_per_second(a, perftest_port++);
          ours = ours_bytes_per_second(**r, a, dst);
        }
        if (ours <= 0 || base <= 0) {
          std::fprintf(stderr, "ucx_bench: a run failed (ours %.3g B/s, ucx_perftest %.3g B/s)\n", ours, base);
          rc = 1;
          break;
        }
        const bool warm = i < a.warmup;
        std::printf("%4s  %11.3f  %26.3f  %5.3f\n", warm ? "warm" : std::to_string(i - a.warmup).c_str(), ours / 1e9,
                    base / 1e9, ours / base);
        if (!warm) ratios.push_back(ours / base);
      }
      if (rc == 0) {
        auto sum = profile::summarize(ratios);
        if (!sum) {
          rc = 1;
        } else {
          std::printf("UCX path / ucx_perftest, %zu-byte chunks x %lld: %.2f (%.2f-%.2f over %lld pairs, ±%.2f, load %.1f -> %.1f)\n",
                      a.size, static_cast<long long>(a.chunks), sum->median, sum->min, sum->max,
                      static_cast<long long>(sum->count), sum->half_iqr, load_before, profile::load_average());
        }
      }
    }
  }
  kill(child, SIGTERM);
  waitpid(child, nullptr, 0);
  return rc;
}

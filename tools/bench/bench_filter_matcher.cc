// Matcher benchmark: lookups per second on one core and bytes per domain on a synthetic
// list the size of the full UT1 publication (5 million domains by default).
//
//   bench_filter_matcher [domains=5000000] [lookups=20000000]
//
// Queries are half hits (a subdomain of a listed name, as browsers ask "www.") and half
// misses (three-label names not listed), each through the DNS hot path: suffix hashes of
// the name, then the profile check. Also times the snapshot build, load and size.
#include <sys/mman.h>
#include <sys/resource.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "common/filter/snapshot.h"

namespace {

using Clock = std::chrono::steady_clock;

// CPU time of this thread: on a shared machine, wall time also counts other processes.
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::string RandomLabel(std::mt19937_64& rng, int min_len, int max_len) {
  static const char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789-";
  int len = min_len + static_cast<int>(rng() % (max_len - min_len + 1));
  std::string s;
  for (int i = 0; i < len; ++i) s += kChars[rng() % (i == 0 || i == len - 1 ? 36 : 37)];
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace preau::filter;
  size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 5000000;
  size_t lookups = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 20000000;
  static const char* kTlds[] = {"com", "fr", "net", "org", "de", "info", "ru", "co.uk"};
  std::mt19937_64 rng(42);

  std::vector<std::string> names;
  names.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::string d = RandomLabel(rng, 4, 16) + "." + kTlds[rng() % 8];
    if (rng() % 4 == 0) d = RandomLabel(rng, 2, 8) + "." + d;  // some listed subdomains
    names.push_back(std::move(d));
  }

  // Build through the real snapshot path: 60 categories, as in UT1.
  auto t0 = Clock::now();
  SnapshotContents c;
  c.version = 1;
  for (int i = 0; i < 60; ++i) c.categories.push_back({"cat" + std::to_string(i), false});
  for (int i = 0; i < 60; ++i) c.profile.blocked_categories.push_back("cat" + std::to_string(i));
  c.entries.reserve(n);
  for (size_t i = 0; i < n; ++i) c.entries.push_back({HashDomain(names[i]), uint8_t(i % 60)});
  preau::Result<std::string> bytes = BuildSnapshot(std::move(c));
  if (!bytes.ok()) {
    std::fprintf(stderr, "build: %s\n", bytes.status().message().c_str());
    return 1;
  }
  auto t1 = Clock::now();
  auto snap = Snapshot::Parse(*bytes);
  if (!snap.ok()) {
    std::fprintf(stderr, "load: %s\n", snap.status().message().c_str());
    return 1;
  }
  auto t2 = Clock::now();
  const Snapshot& s = **snap;
  const Matcher& m = s.matcher();
  size_t entries = s.entry_count();
  size_t mem = m.domains().MemoryBytes();

  // Queries prepared up front so that only the lookups are timed.
  const size_t kQueries = 1 << 20;
  // One contiguous buffer, as names sit in packet buffers on the DNS path.
  std::vector<std::string> queries;
  std::string text;
  std::vector<std::pair<uint32_t, uint32_t>> spans;
  queries.reserve(kQueries);
  for (size_t i = 0; i < kQueries; ++i) {
    if (i % 2 == 0) {
      queries.push_back("www." + names[rng() % n]);
    } else {
      queries.push_back("www." + RandomLabel(rng, 4, 16) + "." + kTlds[rng() % 8]);
    }
    spans.emplace_back(static_cast<uint32_t>(text.size()),
                       static_cast<uint32_t>(queries.back().size()));
    text += queries.back();
  }
  size_t blocked = 0;
  auto t3 = Clock::now();
  double cpu3 = ThreadCpuSeconds();
  SuffixHashes sh;
  for (size_t i = 0; i < lookups; ++i) {
    auto [off, len] = spans[i & (kQueries - 1)];
    ComputeSuffixHashes(std::string_view(text.data() + off, len), sh);
    blocked += m.Check(sh, s.profile()).blocked;
  }
  double cpu4 = ThreadCpuSeconds();
  auto t4 = Clock::now();
  double rate = lookups / (cpu4 - cpu3);
  // The same through CheckBatch, as the resolver matches a burst of UDP queries (up to 32
  // per recvmmsg): the memory loads of a batch overlap.
  auto batched = [&](size_t batch_size, size_t& bblocked) {
    std::vector<SuffixHashes> batch(batch_size);
    std::vector<Verdict> verdicts(batch_size);
    double c0 = ThreadCpuSeconds();
    for (size_t i = 0; i < lookups; i += batch_size) {
      for (size_t k = 0; k < batch_size; ++k) {
        auto [off, len] = spans[(i + k) & (kQueries - 1)];
        ComputeSuffixHashes(std::string_view(text.data() + off, len), batch[k]);
      }
      m.CheckBatch(batch.data(), batch_size, s.profile(), verdicts.data());
      for (size_t k = 0; k < batch_size; ++k) bblocked += verdicts[k].blocked;
    }
    return lookups / (ThreadCpuSeconds() - c0);
  };
  size_t bblocked = 0, bblocked32 = 0;
  double brate = batched(16, bblocked);
  double brate32 = batched(32, bblocked32);

  // Baseline in the same run: one dependent random read at a time over an array as large
  // as the matcher's (a pointer chase). A lookup made alone waits on memory at least this
  // long, whatever its data structure, unless the data fits in the caches.
  double chase_ns = 0;
  {
    size_t lines = mem / 64;
    std::vector<uint32_t> order(lines);
    for (size_t i = 0; i < lines; ++i) order[i] = static_cast<uint32_t>(i);
    std::shuffle(order.begin(), order.end(), rng);
    constexpr size_t kHuge = size_t{2} << 20;
    size_t bytes_rounded = (lines * 64 + kHuge - 1) / kHuge * kHuge;
    auto* arena = static_cast<uint64_t*>(std::aligned_alloc(kHuge, bytes_rounded));
    madvise(arena, bytes_rounded, MADV_HUGEPAGE);  // as the snapshot buffer
    for (size_t i = 0; i < lines; ++i) arena[order[i] * 8] = order[(i + 1) % lines];
    size_t hops = std::min<size_t>(lookups, 10000000), at = order[0];
    double c0 = ThreadCpuSeconds();
    for (size_t i = 0; i < hops; ++i) at = arena[at * 8];
    chase_ns = (ThreadCpuSeconds() - c0) * 1e9 / hops;
    if (at == lines) std::printf("impossible\n");  // keeps the chase from being optimised out
    std::free(arena);
  }
  size_t dblocked = 0;
  size_t dlookups = lookups / 4;
  auto t5 = Clock::now();
  for (size_t i = 0; i < dlookups; ++i) {
    dblocked += m.Decide(queries[i & (kQueries - 1)], s.profile()).blocked;
  }
  auto t6 = Clock::now();

  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("domains               %zu (entries %zu)\n", n, entries);
  std::printf("snapshot bytes        %zu (%.2f bytes/domain)\n", bytes->size(),
              double(bytes->size()) / n);
  std::printf("matcher memory        %zu bytes (%.2f bytes/domain: hashes, categories, index)\n",
              mem, double(mem) / n);
  std::printf("build snapshot        %.2f s\n", Seconds(t0, t1));
  std::printf("load + validate       %.3f s\n", Seconds(t1, t2));
  std::printf("lookups (hot path)    %.2f M/s per CPU-second of one core (%.0f ns CPU each; "
              "%.2f M/s wall clock on this shared machine; %zu blocked of %zu)\n",
              rate / 1e6, 1e9 / rate, lookups / Seconds(t3, t4) / 1e6, blocked, lookups);
  std::printf("lookups, batches of 16 %.2f M/s per CPU-second (%.0f ns CPU each; %zu blocked)\n",
              brate / 1e6, 1e9 / brate, bblocked);
  std::printf("lookups, batches of 32 %.2f M/s per CPU-second (%.0f ns CPU each; %zu blocked)"
              " <- the resolver's path\n",
              brate32 / 1e6, 1e9 / brate32, bblocked32);
  std::printf("baseline: dependent random read over %zu MB: %.0f ns (one-at-a-time lookup = "
              "%.2f of it)\n",
              mem >> 20, chase_ns, (1e9 / rate) / chase_ns);
  std::printf("Decide (with strings) %.2f M/s (%zu blocked of %zu)\n",
              dlookups / Seconds(t5, t6) / 1e6, dblocked, dlookups);
  std::printf("peak RSS (all, incl. builder strings) %ld MB\n", ru.ru_maxrss / 1024);
  bool ok = brate32 >= 5e6 && double(mem) / n <= 24.0 && blocked >= lookups / 2;
  std::printf("targets (>= 5 M lookups/s on the resolver's path, <= 24 bytes/domain): %s\n",
              ok ? "met" : "NOT MET");
  return ok ? 0 : 2;
}

// Fuzzes what the agent reads from the server and from its disk: snapshots (Parse checks
// the SHA-256 first, so this mostly exercises the header and framing checks) and deltas,
// whose entries are walked before the result's checksum can be compared. Seeds: run once
// with PREAU_FUZZ_WRITE_SEEDS=DIR to write a valid snapshot and a valid delta there.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "common/filter/snapshot.h"

using namespace preau::filter;

namespace {

std::string Build(uint64_t version, int shift) {
  SnapshotContents c;
  c.version = version;
  c.categories = {{"gambling", false}, {"doh", false}, {"liste_bu", true}};
  c.profile.blocked_categories = {"gambling", "doh"};
  c.profile.allow = {"ok.example"};
  c.profile.deny = {"no.example"};
  c.urls = {{0, "casino.example/games"}};
  for (int i = 0; i < 40; ++i) {
    std::string d = "site" + std::to_string(i + shift) + ".example";
    c.entries.push_back({HashDomain(d), static_cast<uint8_t>(i % 2)});
  }
  return *BuildSnapshot(std::move(c));
}

const Snapshot& Base() {
  static std::shared_ptr<const Snapshot> base = *Snapshot::Parse(Build(1, 0));
  return *base;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("PREAU_FUZZ_WRITE_SEEDS");
  if (dir == nullptr) return 0;
  std::string target = Build(2, 10);
  auto to = Snapshot::Parse(target);
  std::string delta = *MakeDelta(Base(), **to);
  std::ofstream(std::string(dir) + "/snapshot", std::ios::binary) << "S" << target;
  std::ofstream(std::string(dir) + "/delta", std::ios::binary) << "D" << delta;
  std::printf("seeds written to %s\n", dir);
  std::exit(0);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] == 'D') {
    auto applied = ApplyDelta(Base(), bytes);
    if (applied.ok()) (*applied)->Decide("www.site12.example");
  } else {
    auto s = Snapshot::Parse(bytes);
    if (s.ok()) {
      (*s)->Decide("www.site3.example");
      (*s)->DecideUrl("https://casino.example/games/x");
      MakeDelta(Base(), **s);
    }
  }
  return 0;
}

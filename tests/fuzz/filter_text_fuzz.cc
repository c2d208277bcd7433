// Fuzzes the filter's text inputs: a UT1 `domains` file (both readers must agree line for
// line), host names and URLs as `preau filter test` and the focus/open commands take them.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "common/filter/domain_name.h"
#include "common/filter/snapshot.h"
#include "common/filter/ut1_reader.h"
#include "common/filter/url_rules.h"

using namespace preau::filter;

namespace {

const Snapshot& Filter() {
  static std::shared_ptr<const Snapshot> s = [] {
    SnapshotContents c;
    c.version = 1;
    c.categories = {{"gambling", false}, {"doh", false}};
    c.profile.blocked_categories = {"gambling", "doh"};
    c.profile.allow = {"ok.casino.example"};
    c.urls = {{0, "video.example/poker"}};
    c.entries = {{HashDomain("casino.example"), 0}, {HashDomain("dns.example"), 1},
                 {HashDomain("10.0.0.1"), 0}};
    return *Snapshot::Parse(*BuildSnapshot(std::move(c)));
  }();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  Ut1Category full;
  ParseDomainsText(text, full);
  Ut1HashedCategory hashed;
  HashDomainsText(text, 5, hashed);
  if (full.domains.size() != hashed.domain_hashes.size() ||
      full.skipped.size() != hashed.skipped_count) {
    std::abort();  // the two readers disagree on what a line is
  }
  (void)NormalizeDomain(text);
  Filter().Decide(text);
  Filter().DecideUrl(text);
  (void)SplitUrl(text);
  return 0;
}

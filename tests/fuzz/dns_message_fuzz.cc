// Fuzzes what the agent's resolver reads from the network: client queries (loopback) and
// upstream responses, then builds every kind of answer from what parsed. Any crash,
// out-of-bounds read or undefined behaviour is a bug (ASan + UBSan in the fuzz build).
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/filter/dns_message.h"

using namespace preau::agent::dns;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view msg(reinterpret_cast<const char*>(data), size);
  ParsedQuery p = ParseQuery(msg);
  switch (p.outcome) {
    case ParseOutcome::kOk: {
      std::string r = BuildResponse(msg, p.query, kServFail);
      Truncate(r, p.query.question_end);
      BuildBlockAnswer(msg, p.query, 60);
      Record a{"forcesafesearch.google.com", kTypeA, 300, std::string("\xd8\xef\x26\x78", 4)};
      BuildCnameAnswer(msg, p.query, "forcesafesearch.google.com", 300, {a});
      BuildQuery(7, p.query.name, p.query.qtype, p.query.has_edns);
      break;
    }
    case ParseOutcome::kFormErr:
    case ParseOutcome::kNotImp:
      BuildHeaderOnlyError(msg, kFormErr);
      break;
    case ParseOutcome::kDrop:
      break;
  }
  ResponseInfo info;
  std::string error;
  if (ParseResponse(msg, info, error)) {
    std::string copy(msg);
    SetId(copy, 0x1234);
    Truncate(copy, info.question_end);
    ParsedQuery q = ParseQuery(BuildQuery(1, "www.example.org", kTypeA, false));
    if (q.outcome == ParseOutcome::kOk) {
      BuildCnameAnswer(BuildQuery(1, "www.example.org", kTypeA, false), q.query,
                       "strict.bing.com", 300, info.answers);
    }
  }
  return 0;
}

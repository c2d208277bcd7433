// Fuzzes the policy parser with arbitrary YAML: `preau policy check` and `policy apply`
// read files written by hand, so any text must give errors with lines, never a crash.
#include <cstdint>
#include <string_view>

#include "common/policy/policy_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view yaml(reinterpret_cast<const char*>(data), size);
  preau::policy::ParseResult r = preau::policy::ParsePolicy(yaml, "fuzz.yaml");
  preau::policy::ParseOptions effective;
  effective.completeness = preau::policy::Completeness::kEffective;
  preau::policy::ParseResult e = preau::policy::ParsePolicy(yaml, "fuzz.yaml", effective);
  (void)r;
  (void)e;
  return 0;
}

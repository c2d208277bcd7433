// Policy commands: `preau policy check|apply|status`.
//
// check works offline: it parses and validates the file as the server would and prints
// every error as "file:line: key: message" on stderr (exit 1 when there is one). A file
// checked alone must stand on its own (everything a device needs); one level of a chain
// is checked with --fragment, or together with the levels above it (--inherit, farthest
// first), which also finds conflicts between levels.
//
// apply sends the file itself (never a compiled form): the server checks it again, stores
// a new version for the group, and pushes per-device signed bundles. With --rollout P, only
// ceil(P % of the group's devices) get it, picked in a stable order; applying the same file
// again with a larger P widens the rollout to more devices (100: everyone).
//
// status lists, per policy version, the devices targeted, applied, failed (with the
// reasons) and pending.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "tools/preau/cli_context.h"

namespace preau::cli {

struct PolicyCheckOptions {
  std::string file;
  std::vector<std::string> inherit;  // the levels above FILE, farthest first
  bool fragment = false;             // FILE is one level of a chain, checked alone
};
Status PolicyCheck(const CliContext& ctx, const PolicyCheckOptions& o);

struct PolicyApplyOptions {
  std::string file;
  std::string group;
  uint32_t rollout = 100;  // percent of the group's devices, 1..100
};
Status PolicyApply(const CliContext& ctx, const PolicyApplyOptions& o);

struct PolicyStatusOptions {
  std::string name;   // empty: every policy
  std::string group;  // empty: every group the caller may see
};
Status PolicyStatus(const CliContext& ctx, const PolicyStatusOptions& o);

}  // namespace preau::cli

// PolicyPublisher: turns applied policies into signed per-device bundles and gets them to
// the devices.
//
// A device's effective policy comes from the chain of its group's ancestors, farthest first
// ("ville", "ville/jaures", "ville/jaures/cm2-b"). At each level, the group's policy for the
// device is the newest version applied there that targets it: applied at 100 %, or with the
// device among its pilot devices (see rollout.h). A group thus holds one policy at a time; a
// new apply (any name) at 100 % replaces the previous one. The levels are combined by
// policy::ResolvePolicy (the closest level wins, key by key) and checked as a whole.
//
// Bundle versions: a bundle's version is the highest revision (server-wide apply number) of
// its chain, or the device's previous bundle version + 1 if that is higher (a device moved
// to a group with older policies), so versions only grow per device. A bundle is re-issued
// only when the device's chain changed; otherwise the stored one is resent as is.
//
// Apply is the operators' path (validate, store, issue, push to connected devices at once);
// OnHello is the devices' path (a device that reconnects with an older version gets its
// current bundle). Both run under one mutex, so bundle versions never race.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/policy/inheritance.h"
#include "preau/v1/policy.pb.h"
#include "server/policy/policy_records.h"
#include "server/server_core.h"

namespace preau::server {

// The groups from the authority down to `group`: "a", "a/b", "a/b/c".
std::vector<std::string> GroupChain(const std::string& group);

class PolicyPublisher {
 public:
  PolicyPublisher(ServerCore& core, PolicyRecords& records) : core_(core), records_(records) {}

  // Validates `req` (the YAML, the group, the rollout, and the combined policy of every
  // chain it changes), stores the version or widens its rollout, issues the bundles and
  // pushes them. The caller has checked the operator's role and scope.
  Result<v1::ApplyPolicyResponse> Apply(const std::string& operator_name,
                                        const v1::ApplyPolicyRequest& req);

  // A device said hello holding bundle version `held_version`: sends its current bundle if
  // that one is newer (issuing it first if the device's chain changed).
  void OnHello(const std::string& device_id, uint64_t held_version);

 private:
  struct Resolution {
    std::string name;  // the closest level's policy name
    v1::PolicySpec spec;
    std::vector<policy::PolicyError> errors;
  };
  // Resolves chains, each once; with `with_lines`, levels are parsed again from their YAML
  // so that errors name file and line.
  class Resolver;

  // A bundle to issue: its version and chain decided, its resolved policy, not yet signed.
  struct Job {
    IssuedBundle out;
    const Resolution* resolution = nullptr;  // owned by the Resolver
  };
  // Decides the next bundle for `device_id` from `chain` (not empty): its version is above
  // both the last one issued and `held` (what the device said it holds, which is higher
  // than anything this server issued when its database was restored from a backup).
  Result<Job> Plan(const std::string& device_id,
                   const std::vector<const PolicyVersionRecord*>& chain,
                   const std::optional<IssuedBundle>& previous, Resolver& resolver,
                   uint64_t held = 0);
  // Signs with the policy key into job.out.signed_bundle; SignAll does a batch on several
  // threads.
  Status Sign(Job& job) const;
  Status SignAll(std::vector<Job>& jobs) const;

  ServerCore& core_;
  PolicyRecords& records_;
  std::mutex mu_;
};

}  // namespace preau::server

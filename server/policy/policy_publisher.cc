#include "server/policy/policy_publisher.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <set>
#include <thread>

#include "common/policy/bundle.h"
#include "common/policy/policy_parser.h"
#include "server/policy/rollout.h"

namespace preau::server {

namespace {

constexpr size_t kMaxFileNameBytes = 200;
constexpr size_t kMaxReportedConflicts = 5;
constexpr size_t kSendBatch = 50;

using Chain = std::vector<const PolicyVersionRecord*>;
// Group -> the versions applied there, newest first.
using VersionIndex = std::map<std::string, std::vector<const PolicyVersionRecord*>>;

VersionIndex IndexByGroup(const std::vector<PolicyVersionRecord>& newest_first) {
  VersionIndex index;
  for (const auto& v : newest_first) index[v.group].push_back(&v);
  return index;
}

// The policy of each level that targets `device_id`.
Chain ChainFor(const std::string& device_id, const std::string& group,
               const VersionIndex& index) {
  Chain chain;
  for (const auto& g : GroupChain(group)) {
    auto it = index.find(g);
    if (it == index.end()) continue;
    for (const auto* v : it->second) {
      if (v->Targets(device_id)) {
        chain.push_back(v);
        break;
      }
    }
  }
  return chain;
}

// The chain every device of `group` runs once each level's newest version reaches
// everyone.
Chain FullChainFor(const std::string& group, const VersionIndex& index) {
  Chain chain;
  for (const auto& g : GroupChain(group)) {
    auto it = index.find(g);
    if (it != index.end() && !it->second.empty()) chain.push_back(it->second.front());
  }
  return chain;
}

std::vector<int64_t> Revisions(const Chain& chain) {
  std::vector<int64_t> out;
  for (const auto* v : chain) out.push_back(v->revision);
  return out;
}

std::string Describe(const Chain& chain) {
  std::string out;
  for (const auto* v : chain) {
    out += (out.empty() ? "" : " + ") + v->name + " v" + std::to_string(v->version) + " (" +
           v->group + ")";
  }
  return out;
}

const char* LevelName(const std::string& group) {
  size_t depth = static_cast<size_t>(std::count(group.begin(), group.end(), '/'));
  static const char* kNames[] = {"authority", "school", "class", "subgroup"};
  return kNames[std::min<size_t>(depth, 3)];
}

// Only the file's own name goes into messages and the store.
std::string CleanFileName(const std::string& file) {
  std::string base = file.substr(file.find_last_of('/') == std::string::npos
                                     ? 0
                                     : file.find_last_of('/') + 1);
  std::string out;
  for (char c : base) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  if (out.empty()) out = "policy.yaml";
  if (out.size() > kMaxFileNameBytes) out.resize(kMaxFileNameBytes);
  return out;
}

}  // namespace

std::vector<std::string> GroupChain(const std::string& group) {
  std::vector<std::string> out;
  for (size_t pos = group.find('/'); pos != std::string::npos; pos = group.find('/', pos + 1)) {
    out.push_back(group.substr(0, pos));
  }
  if (!group.empty()) out.push_back(group);
  return out;
}

class PolicyPublisher::Resolver {
 public:
  explicit Resolver(bool with_lines) : with_lines_(with_lines) {}

  const Resolution& Resolve(const Chain& chain) {
    std::string key = ChainText(Revisions(chain));
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    std::vector<policy::PolicyLevel> levels;
    for (const auto* v : chain) levels.push_back(Level(*v));
    policy::ResolvedPolicy resolved =
        policy::ResolvePolicy(levels, policy::Completeness::kEffective);
    Resolution r;
    r.name = chain.empty() ? "" : chain.back()->name;
    r.spec = std::move(resolved.spec);
    r.errors = std::move(resolved.errors);
    return cache_.emplace(key, std::move(r)).first->second;
  }

 private:
  policy::PolicyLevel Level(const PolicyVersionRecord& v) {
    policy::PolicyLevel level;
    level.level = LevelName(v.group);
    level.source = v.file;
    if (with_lines_) {
      // The YAML again, for the lines of each key: errors then point into the files.
      policy::ParseResult parsed = policy::ParsePolicy(v.source, v.file);
      if (parsed.ok()) {
        level.spec = parsed.policy->spec;
        level.lines = parsed.policy->lines;
        return level;
      }
    }
    level.spec.ParseFromString(v.spec);
    return level;
  }

  bool with_lines_;
  std::map<std::string, Resolution> cache_;
};

Result<PolicyPublisher::Job> PolicyPublisher::Plan(const std::string& device_id,
                                                   const Chain& chain,
                                                   const std::optional<IssuedBundle>& previous,
                                                   Resolver& resolver, uint64_t held) {
  const Resolution& r = resolver.Resolve(chain);
  if (!r.errors.empty()) {
    return FailedPrecondition("the policies " + Describe(chain) + " conflict once combined:\n" +
                              policy::FormatErrors(r.errors));
  }
  std::vector<int64_t> revisions = Revisions(chain);
  uint64_t version = static_cast<uint64_t>(*std::max_element(revisions.begin(), revisions.end()));
  uint64_t floor = std::max<uint64_t>(previous ? previous->version : 0, held);
  if (floor >= version) version = floor + 1;
  Job job;
  job.resolution = &r;
  job.out.device_id = device_id;
  job.out.version = version;
  job.out.chain = std::move(revisions);
  job.out.issued_ms = core_.Now();
  return job;
}

Status PolicyPublisher::Sign(Job& job) const {
  const Resolution& r = *job.resolution;
  PREAU_ASSIGN_OR_RETURN(auto signed_bundle,
                         policy::SignBundle(policy::MakeBundle(r.name, job.out.version,
                                                               job.out.device_id, r.spec,
                                                               job.out.issued_ms),
                                            core_.keys.policy_key_pem));
  job.out.signed_bundle = signed_bundle.SerializeAsString();
  return Status::Ok();
}

Status PolicyPublisher::SignAll(std::vector<Job>& jobs) const {
  // Signing (a PEM key parsed and an ECDSA signature per device) is most of an apply's
  // cost: spread it over the cores.
  size_t workers = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4);
  workers = std::min(workers, jobs.size());
  std::vector<Status> results(jobs.size());
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads;
  for (size_t w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      for (size_t i = next++; i < jobs.size(); i = next++) results[i] = Sign(jobs[i]);
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& st : results) PREAU_RETURN_IF_ERROR(st);
  return Status::Ok();
}

Result<v1::ApplyPolicyResponse> PolicyPublisher::Apply(const std::string& operator_name,
                                                       const v1::ApplyPolicyRequest& req) {
  uint32_t percent = req.rollout_percent() == 0 ? 100 : req.rollout_percent();
  if (percent > 100) {
    return InvalidArgument("rollout must be a percentage from 1 to 100, not " +
                           std::to_string(percent));
  }
  PREAU_RETURN_IF_ERROR(ValidateGroupPath(req.group()));
  if (!core_.store->GroupExists(req.group())) {
    return NotFound("unknown group '" + req.group() + "' (create it with `preau groups create`)");
  }
  if (req.source().size() > policy::kMaxPolicySourceBytes) {
    return InvalidArgument("the policy file is larger than 256 KiB");
  }
  const std::string file = CleanFileName(req.file());
  // Never trust the CLI: the server parses and checks the file itself, as `policy check`
  // does (for_apply).
  policy::ParseOptions opts;
  opts.for_apply = true;
  policy::ParseResult parsed = policy::ParsePolicy(req.source(), file, opts);
  if (!parsed.ok()) {
    return InvalidArgument("policy refused:\n" + policy::FormatErrors(parsed.errors));
  }
  const std::string name = parsed.policy->spec.name();

  std::lock_guard<std::mutex> lock(mu_);
  PREAU_ASSIGN_OR_RETURN(auto devices, core_.store->ListDevices(req.group(), false));
  std::vector<std::string> ids;
  for (const auto& d : devices) ids.push_back(d.id);
  PREAU_ASSIGN_OR_RETURN(std::vector<PolicyVersionRecord> versions, records_.Versions({}));

  // The same file again, while it is still the group's newest policy: widen its rollout.
  PolicyVersionRecord* newest_here = nullptr;
  for (auto& v : versions) {
    if (v.group == req.group()) {
      newest_here = &v;
      break;
    }
  }
  bool promote = newest_here && newest_here->name == name && newest_here->source == req.source();
  int64_t revision = 0;
  if (promote) {
    PolicyVersionRecord& v = *newest_here;
    if (percent < v.rollout_percent) {
      return FailedPrecondition("policy '" + name + "' v" + std::to_string(v.version) +
                                " already reaches " + std::to_string(v.rollout_percent) +
                                " % of " + req.group() +
                                "; a rollout only widens (change the file for a new version)");
    }
    if (percent < 100) v.pilot = SelectRollout(name, ids, percent, v.pilot);
    v.rollout_percent = percent;
    revision = v.revision;
  } else {
    PolicyVersionRecord v;
    PREAU_ASSIGN_OR_RETURN(v.revision, records_.NextRevision());
    v.group = req.group();
    v.name = name;
    v.version = 1;
    for (const auto& old : versions) {
      if (old.group == v.group && old.name == name) {
        v.version = old.version + 1;
        break;
      }
    }
    v.file = file;
    v.source = req.source();
    v.spec = parsed.policy->spec.SerializeAsString();
    v.rollout_percent = percent;
    v.applied_by = operator_name;
    v.applied_ms = core_.Now();
    if (percent < 100) v.pilot = SelectRollout(name, ids, percent, {});
    revision = v.revision;
    versions.insert(versions.begin(), std::move(v));
  }
  const PolicyVersionRecord* target = nullptr;
  for (const auto& v : versions) {
    if (v.revision == revision) target = &v;
  }

  // Check the combined policy of every chain that includes this version: each device's
  // now, and each group's once the rollout reaches everyone.
  VersionIndex index = IndexByGroup(versions);
  Resolver resolver(/*with_lines=*/true);
  std::set<std::string> checked;
  std::vector<std::string> problems;
  auto check = [&](const Chain& chain, const std::string& group) {
    std::vector<int64_t> revs = Revisions(chain);
    if (std::find(revs.begin(), revs.end(), revision) == revs.end()) return;
    if (!checked.insert(ChainText(revs)).second) return;
    const Resolution& r = resolver.Resolve(chain);
    if (r.errors.empty() || problems.size() >= kMaxReportedConflicts) return;
    problems.push_back("for the devices of " + group + " (" + Describe(chain) + "):\n" +
                       policy::FormatErrors(r.errors));
  };
  std::vector<Chain> chains;
  chains.reserve(devices.size());
  for (const auto& d : devices) {
    chains.push_back(ChainFor(d.id, d.group, index));
    check(chains.back(), d.group);
  }
  PREAU_ASSIGN_OR_RETURN(auto groups, core_.store->ListGroups());
  for (const auto& [g, count] : groups) {
    if (PathWithin(g, req.group())) check(FullChainFor(g, index), g);
  }
  if (!problems.empty()) {
    std::string message = "policy '" + name + "' refused: combined with the other levels it "
                          "conflicts";
    for (const auto& p : problems) message += "\n" + p;
    return InvalidArgument(message);
  }

  if (promote) {
    PREAU_RETURN_IF_ERROR(records_.Widen(revision, target->rollout_percent, target->pilot));
  } else {
    PREAU_ASSIGN_OR_RETURN(int64_t stored, records_.AddVersion(*target));
    if (stored != revision) {
      return Internal("policy revision " + std::to_string(stored) + " stored, " +
                      std::to_string(revision) + " expected");
    }
  }

  v1::ApplyPolicyResponse resp;
  resp.set_group(req.group());
  resp.set_name(name);
  resp.set_version(target->version);
  resp.set_revision(static_cast<uint64_t>(revision));
  resp.set_promoted(promote);
  resp.set_rollout_percent(target->rollout_percent);
  resp.set_group_devices(static_cast<uint32_t>(devices.size()));

  // Bundles go out in batches, each stored before it is sent: the first devices verify
  // and enforce while the server signs for the next ones.
  PREAU_ASSIGN_OR_RETURN(auto previous, records_.Bundles());
  std::vector<Job> jobs;
  std::vector<IssuedBundle> batch;
  auto flush = [&]() -> Status {
    PREAU_RETURN_IF_ERROR(SignAll(jobs));
    for (auto& job : jobs) batch.push_back(std::move(job.out));
    jobs.clear();
    PREAU_RETURN_IF_ERROR(records_.SaveBundles(batch));
    for (const auto& b : batch) {
      v1::ServerMessage m;
      m.mutable_policy()->ParseFromString(b.signed_bundle);
      if (core_.connections.Send(b.device_id, m)) {
        resp.set_sent(resp.sent() + 1);
      } else {
        resp.set_queued(resp.queued() + 1);
      }
    }
    batch.clear();
    return Status::Ok();
  };
  for (size_t i = 0; i < devices.size(); ++i) {
    const Chain& chain = chains[i];
    std::vector<int64_t> revs = Revisions(chain);
    if (std::find(revs.begin(), revs.end(), revision) != revs.end()) {
      resp.set_targeted(resp.targeted() + 1);
    }
    if (chain.empty()) continue;
    auto prev_it = previous.find(devices[i].id);
    std::optional<IssuedBundle> prev;
    if (prev_it != previous.end()) prev = prev_it->second;
    if (prev && prev->chain == revs) continue;
    // What the device last reported holding is a floor too (see OnHello).
    auto job = Plan(devices[i].id, chain, prev, resolver, devices[i].policy_version);
    if (!job.ok()) {
      // Only a chain this apply does not touch can fail here (the others were checked);
      // that device keeps what it has.
      std::fprintf(stderr, "preau-server: device %s: no new policy bundle: %s\n",
                   devices[i].id.c_str(), job.status().message().c_str());
      continue;
    }
    jobs.push_back(std::move(job).value());
    if (jobs.size() >= kSendBatch) PREAU_RETURN_IF_ERROR(flush());
  }
  PREAU_RETURN_IF_ERROR(flush());
  return resp;
}

void PolicyPublisher::OnHello(const std::string& device_id, uint64_t held_version) {
  Status st = [&]() -> Status {
    std::lock_guard<std::mutex> lock(mu_);
    PREAU_ASSIGN_OR_RETURN(auto device, core_.store->GetDevice(device_id));
    if (device.retired_ms != 0) return Status::Ok();
    PREAU_ASSIGN_OR_RETURN(auto versions, records_.Versions(GroupChain(device.group)));
    if (versions.empty()) return Status::Ok();
    VersionIndex index = IndexByGroup(versions);
    Chain chain = ChainFor(device_id, device.group, index);
    if (chain.empty()) return Status::Ok();
    PREAU_ASSIGN_OR_RETURN(auto previous, records_.Bundle(device_id));
    IssuedBundle current;
    // A device holding a version above the last one this server issued it: the server's
    // database was restored from a backup older than that bundle. Issue the server's
    // policy again, numbered above what the device holds, or the device would refuse
    // every later bundle as "not newer".
    bool behind_device = held_version > (previous ? previous->version : 0);
    if (previous && previous->chain == Revisions(chain) && !behind_device) {
      current = *previous;
    } else {
      // The device's chain changed since its last bundle (it moved, or it was offline).
      Resolver resolver(/*with_lines=*/false);
      PREAU_ASSIGN_OR_RETURN(Job job, Plan(device_id, chain, previous, resolver, held_version));
      PREAU_RETURN_IF_ERROR(Sign(job));
      current = std::move(job.out);
      PREAU_RETURN_IF_ERROR(records_.SaveBundles({current}));
    }
    if (held_version >= current.version) return Status::Ok();
    v1::ServerMessage m;
    if (!m.mutable_policy()->ParseFromString(current.signed_bundle)) {
      return DataLoss("stored policy bundle does not parse");
    }
    core_.connections.Send(device_id, m);
    return Status::Ok();
  }();
  if (!st.ok()) {
    std::fprintf(stderr, "preau-server: device %s: policy not sent: %s\n", device_id.c_str(),
                 st.message().c_str());
  }
}

}  // namespace preau::server

#include "agent/filter/system_path.h"

#include <filesystem>

#include "agent/config/agent_config.h"
#include "common/files.h"

namespace preau::agent {

namespace {

FilterSystemPathOptions WithRecordDir(FilterSystemPathOptions o) {
  o.resolver.record_dir = o.record_dir;
  return o;
}

}  // namespace

Result<FilterSystemPathOptions> SystemPathOptionsFrom(const AgentConfig& config,
                                                      const std::string& filter_dir) {
  FilterSystemPathOptions o;
  PREAU_ASSIGN_OR_RETURN(o.resolver.way, ParseResolverWay(config.system_resolver));
  o.resolver.resolv_conf = config.resolv_conf;
  o.resolver.resolved_dropin = config.resolved_dropin;
  o.resolver.resolved_runtime = config.resolved_runtime;
  o.resolver.resolved_reload = config.resolved_reload;
  o.firewall = config.firewall;
  o.firewall_options.nft = config.nft;
  o.record_dir = filter_dir + "/system";
  return o;
}

Result<std::unique_ptr<FilterSystemPath>> SystemPathForState(const AgentConfig& config,
                                                             const std::string& state_dir) {
  PREAU_ASSIGN_OR_RETURN(FilterSystemPathOptions o,
                         SystemPathOptionsFrom(config, state_dir + "/filter"));
  return std::make_unique<FilterSystemPath>(std::move(o));
}

FilterSystemPath::FilterSystemPath(FilterSystemPathOptions options)
    : options_(WithRecordDir(std::move(options))),
      resolver_(options_.resolver),
      firewall_(options_.firewall_options) {}

bool FilterSystemPath::Engaged() const { return resolver_.Pointed(); }

FirewallRules FilterSystemPath::Rules(const std::string& address, SystemResolver::Way way) const {
  FirewallRules rules;
  rules.local_resolvers = {address};
  if (way == SystemResolver::Way::kResolved) {
    rules.local_resolvers.push_back("127.0.0.53");
    rules.local_resolvers.push_back("127.0.0.54");
  }
  rules.doh_addresses = doh_;
  return rules;
}

Status FilterSystemPath::SetDohAddresses(const std::string& address, std::vector<std::string> doh) {
  std::lock_guard<std::mutex> lock(mu_);
  if (doh == doh_ && doh_loaded_) return Status::Ok();
  doh_ = std::move(doh);
  doh_loaded_ = false;
  if (!options_.firewall || !resolver_.Pointed()) return Status::Ok();
  PREAU_ASSIGN_OR_RETURN(SystemResolver::Way way, resolver_.Choose());
  PREAU_RETURN_IF_ERROR(firewall_.Install(Rules(address, way)));
  doh_loaded_ = true;
  return Status::Ok();
}

Status FilterSystemPath::Engage(const std::string& address, bool fail_open) {
  std::lock_guard<std::mutex> lock(mu_);
  PREAU_ASSIGN_OR_RETURN(SystemResolver::Way way, resolver_.Choose());  // refuse before acting
  std::error_code ec;
  std::filesystem::create_directories(options_.record_dir, ec);
  if (ec) return Internal("creating " + options_.record_dir + ": " + ec.message());
  PREAU_RETURN_IF_ERROR(SetFailOpen(fail_open));
  if (options_.firewall) {
    PREAU_RETURN_IF_ERROR(WriteFileAtomic(FirewallPath(), "1\n", 0600));
    PREAU_RETURN_IF_ERROR(firewall_.Install(Rules(address, way)));
    doh_loaded_ = true;
  }
  Status pointed = resolver_.Point(address);
  if (!pointed.ok()) {
    // Half in the path is the worst of both: take the firewall back out.
    Status undone = DisengageLocked();
    return undone.ok() ? pointed : pointed.Context(undone.message());
  }
  return Status::Ok();
}

Status FilterSystemPath::SetFailOpen(bool fail_open) {
  std::error_code ec;
  if (!fail_open) {
    std::filesystem::remove(FailOpenPath(), ec);
    return ec ? Internal("removing " + FailOpenPath() + ": " + ec.message()) : Status::Ok();
  }
  std::filesystem::create_directories(options_.record_dir, ec);
  return WriteFileAtomic(FailOpenPath(), "1\n", 0600);
}

Status FilterSystemPath::Disengage() {
  std::lock_guard<std::mutex> lock(mu_);
  return DisengageLocked();
}

Status FilterSystemPath::DisengageLocked() {
  doh_loaded_ = false;
  PREAU_RETURN_IF_ERROR(resolver_.Restore());
  std::error_code ec;
  if (std::filesystem::exists(FirewallPath(), ec)) {
    PREAU_RETURN_IF_ERROR(firewall_.Remove());
    std::filesystem::remove(FirewallPath(), ec);
  }
  std::filesystem::remove(FailOpenPath(), ec);
  return Status::Ok();
}

Status FilterSystemPath::AfterStop() {
  std::lock_guard<std::mutex> lock(mu_);
  std::error_code ec;
  if (!std::filesystem::exists(FailOpenPath(), ec)) return Status::Ok();  // fail closed
  return DisengageLocked();
}

Status FilterSystemPath::Check(const std::string& address) const {
  if (options_.firewall) {
    auto installed = firewall_.Installed();
    if (!installed.ok()) return FailedPrecondition("firewall missing: " + installed.status().message());
    if (!*installed) {
      return FailedPrecondition("firewall missing: the nftables table inet " +
                                options_.firewall_options.table + " is not loaded");
    }
  }
  return resolver_.CheckPointed(address);
}

}  // namespace preau::agent

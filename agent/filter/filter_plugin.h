// FilterPlugin: the web filter joined to the agent. It runs the DnsResolver on loopback,
// keeps it fed with the snapshot the server compiled for this device's profile, and keeps
// enforcing offline.
//
// Updates: the server sends a FilterUpdate (a full snapshot, or a delta on the version
// this agent named in its hello); the plugin downloads the artifact with
// DeviceService.Fetch on a worker thread (resumable, SHA-256 verified), applies the delta
// to the snapshot it holds or parses the full one (each checked against its own checksum
// and the version announced), writes it atomically to its state folder, swaps it into the
// resolver without dropping a query, and says hello again so the server knows. At start
// the persisted snapshot is loaded first, so a device restarted without network filters
// exactly as before. A failed update is retried with backoff.
//
// The profile (categories, allow, deny, safe search) travels inside the snapshot; the fail
// mode comes with the update and is persisted beside it. A teacher's `class allow`
// (TeacherState::AllowedSites) becomes the resolver's allow overrides, with their expiry on
// the agent's clock.
//
// The system's DNS path: when the policy enables the filter (WebFilterLink, fed by the
// `web_filter` rule) and the agent manages this machine (FilterPluginOptions::system, from
// agent.conf), the plugin puts the filter in the path (FilterSystemPath: system resolver
// and firewall), starts the guard process that holds the fail mode if the agent dies, and
// runs the rule's self-test on its own thread; when the policy no longer enables it, it
// puts the system back. The resolver forwards to the upstreams the system had.
//
// With no listen address (simulated fleets) the plugin serves nothing, and the rule says
// NOT_SUPPORTED.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "agent/apps/package_fetcher.h"
#include "agent/control/teacher_state.h"
#include "agent/core/agent_feature.h"
#include "agent/config/agent_config.h"
#include "agent/filter/dns_resolver.h"
#include "agent/filter/filter_guard.h"
#include "agent/filter/system_path.h"
#include "agent/filter/web_filter_rule.h"
#include "common/filter/snapshot.h"
#include "preau/v1/filter.pb.h"

namespace preau::agent {

struct FilterPluginOptions {
  // "127.80.65.53:53", "[::1]:53"; port 0 picks a free port (tests). Empty: plugin off.
  std::string listen;
  // Where the snapshot is kept; empty: a per-device folder under the temporary directory.
  std::string dir;
  // Upstream DNS servers; empty: the system's original ones (see SystemResolver).
  std::vector<std::string> upstreams;
  // Set: the agent manages this machine's DNS path when the policy enables the filter.
  std::optional<FilterSystemPathOptions> system;
  // Shared with the `web_filter` rule (may be null: no rule, nothing managed).
  std::shared_ptr<WebFilterLink> link;
  // The guard process's argv ("{fd}" is its end of the pipe); empty: no guard.
  std::vector<std::string> guard_command;
  // The resolver the self-test queries directly; empty: the first upstream.
  std::string self_test_resolver;
  // How long the self-test may keep failing before the agent puts itself back in the path.
  std::chrono::seconds repair_after{60};
  // How often the `doh` category's listed names are resolved again (their addresses
  // change without the lists changing); also at once when a new snapshot comes.
  std::chrono::seconds doh_refresh{3600};
  DnsResolverOptions resolver;  // listen address, port, upstreams and clock are set here
  std::chrono::milliseconds retry_min{2'000};
  std::chrono::milliseconds retry_max{10 * 60'000};
};

// The filter folder for a state folder (see AppsDirFor for the in-memory case).
std::string FilterDirFor(const std::string& state_dir, const std::string& device_id);

class FilterPlugin final : public AgentFeature {
 public:
  FilterPlugin(std::shared_ptr<TeacherState> teacher, FilterPluginOptions options);
  ~FilterPlugin() override;

  std::string Name() const override { return "filter"; }
  void Start(AgentContext& ctx) override;
  void FillHello(v1::Hello* hello) override;
  bool OnServerMessage(const v1::ServerMessage& msg) override;
  void OnConnected() override;
  // A retired device leaves the system as it was, whatever its last policy said.
  void OnRetired() override;
  void Stop() override;

  // Any thread. The version of the snapshot enforced now (0: none yet).
  uint64_t version() const { return version_.load(); }
  // The resolver's port (0 when off or not started).
  uint16_t port() const;
  // Blocked queries per rule ("gambling", "deny list") since start — counts only, for the
  // usage reports (UsageCollector::CountBlocked takes the differences).
  std::map<std::string, uint64_t> BlockedCounts() const;
  DnsResolverStats Stats() const;
  // What the filter decides for a URL (the `urls` rules included), for focus and open
  // commands; allowed when no snapshot is loaded yet.
  filter::Decision DecideUrl(const std::string& url) const;
  // Updates applied so far, and how many came as deltas (tests, benchmarks).
  uint64_t updates_applied() const { return updates_applied_.load(); }
  uint64_t deltas_applied() const { return deltas_applied_.load(); }
  // The last update failure ("" if none).
  std::string last_error() const;

 private:
  void LoadPersisted();
  void ApplyOverrides();
  void StartFetch();
  using SnapshotPtr = std::shared_ptr<const filter::Snapshot>;
  // On the fetch thread, off the agent's loop (seconds on the whole UT1 set): turns the
  // downloaded file into the snapshot `update` announces (a delta applied on `base`),
  // checks it and saves it as the one the agent restarts with.
  Result<SnapshotPtr> Prepare(const v1::FilterUpdate& update, const std::string& path,
                              const SnapshotPtr& base) const;
  void OnFetched(const v1::FilterUpdate& update, Result<SnapshotPtr> next);
  void Install(const v1::FilterUpdate& update, SnapshotPtr next);
  void Retry(const std::string& why);
  // Strand: makes the system match what the policy wants, then starts a self-test.
  void SyncSystemPath();
  void StartSelfTest();
  void FinishSelfTest(const std::string& name, uint64_t seen_before, const SelfTestProbe& probe,
                      const Status& check);
  std::string SnapshotPath() const { return dir_ + "/snapshot.pfs"; }

  std::shared_ptr<TeacherState> teacher_;
  FilterPluginOptions options_;
  AgentContext* ctx_ = nullptr;
  std::string dir_;
  std::unique_ptr<DnsResolver> resolver_;
  std::unique_ptr<FilterSystemPath> system_;
  std::string listen_host_;
  std::string resolver_error_;  // why the resolver does not run ("" when it does)
  FilterGuard guard_;
  bool self_testing_ = false;
  bool fail_open_ = false;  // strand only
  bool retired_ = false;    // strand only
  // DoH upkeep: a self-test (which refreshes the DoH addresses first) runs again when the
  // resolver saw new `doh` names or a new snapshot came.
  std::unique_ptr<boost::asio::steady_timer> doh_timer_;
  size_t doh_names_at_test_ = 0;
  // The addresses of the snapshot's listed `doh` names (Snapshot::NamesIn), resolved on
  // doh_thread_ (thousands of names: seconds, never on the self-test's path) when a new
  // snapshot comes and every doh_refresh; each self-test loads them with the others.
  std::thread doh_thread_;
  std::atomic<bool> doh_resolving_{false};
  std::atomic<bool> doh_cancel_{false};
  std::mutex doh_mu_;
  std::vector<std::string> listed_doh_addresses_;  // doh_mu_
  std::atomic<uint64_t> listed_doh_generation_{0};
  uint64_t listed_doh_generation_at_test_ = 0;          // strand
  uint64_t listed_doh_version_ = 0;                     // strand: the snapshot resolved
  std::chrono::steady_clock::time_point listed_doh_at_;  // strand
  void StartListedDohRefresh();
  // Strand: since when the self-test has been failing while in the path.
  std::optional<std::chrono::steady_clock::time_point> broken_since_;
  uint64_t version_at_test_ = 0;
  void ArmDohTimer();
  std::vector<std::string> upstreams_;
  std::thread self_test_;
  std::unique_ptr<boost::asio::steady_timer> retry_timer_;
  std::chrono::milliseconds backoff_{0};
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);

  // Strand only.
  std::shared_ptr<const filter::Snapshot> held_;
  std::optional<v1::FilterUpdate> wanted_;  // the newest update not yet installed
  bool fetching_ = false;
  bool stopping_ = false;

  // The fetch in progress runs here.
  std::unique_ptr<PackageFetcher> fetcher_;
  std::thread worker_;

  std::atomic<uint64_t> version_{0};
  std::atomic<uint64_t> updates_applied_{0};
  std::atomic<uint64_t> deltas_applied_{0};
  mutable std::mutex mu_;  // guards snapshot_ (for DecideUrl) and last_error_
  std::shared_ptr<const filter::Snapshot> snapshot_;
  std::string last_error_;
};

}  // namespace preau::agent

namespace preau::agent {

// The plugin as every agent runs it (standard_features.cc): the resolver on `dns_listen`
// (none when empty), the snapshot under the state folder. With `config` (preau-agent on a
// real device) the system's DNS path is managed as agent.conf says, with the guard
// `guard_command`; without (simulated fleets, in-process tests) the system is never touched.
std::unique_ptr<FilterPlugin> MakeFilterPlugin(std::shared_ptr<TeacherState> teacher,
                                               std::shared_ptr<WebFilterLink> link,
                                               const std::string& dns_listen,
                                               const std::string& state_dir,
                                               const AgentConfig* config,
                                               std::vector<std::string> guard_command);

}  // namespace preau::agent

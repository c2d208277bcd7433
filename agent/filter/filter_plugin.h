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
// the agent's clock. On Linux it can point the system resolver at itself
// (SystemResolverOptions; off unless configured).
//
// With no listen address (simulated fleets) the plugin does nothing at all.
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
#include "agent/filter/dns_resolver.h"
#include "agent/platform/system_resolver.h"
#include "common/filter/snapshot.h"
#include "preau/v1/filter.pb.h"

namespace preau::agent {

struct FilterPluginOptions {
  // "127.0.0.53:53", "[::1]:53"; port 0 picks a free port (tests). Empty: plugin off.
  std::string listen;
  // Where the snapshot is kept; empty: a per-device folder under the temporary directory.
  std::string dir;
  // Upstream DNS servers; empty: the system's original ones (see SystemResolver).
  std::vector<std::string> upstreams;
  std::string server;  // host:port for Fetch; empty: the one in the identity
  SystemResolverOptions system_resolver;
  DnsResolverOptions resolver;  // listen address, port, upstreams and clock are set here
  std::chrono::milliseconds retry_min{2'000};
  std::chrono::milliseconds retry_max{10 * 60'000};
};

// Splits "127.0.0.1:53" / "[::1]:5353" / "127.0.0.53" (port 53); InvalidArgument otherwise.
Result<std::pair<std::string, uint16_t>> ParseListenAddress(const std::string& text);

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
  std::string SnapshotPath() const { return dir_ + "/snapshot.pfs"; }

  std::shared_ptr<TeacherState> teacher_;
  FilterPluginOptions options_;
  AgentContext* ctx_ = nullptr;
  std::string dir_;
  std::unique_ptr<DnsResolver> resolver_;
  std::unique_ptr<SystemResolver> system_;
  std::unique_ptr<v1::DeviceService::Stub> stub_;
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
// (none when empty), the snapshot under the state folder, upstreams from the system.
// Pointing the system resolver is opt-in, as it rewrites machine-wide settings:
// PREAU_SYSTEM_RESOLVER=resolv-conf (PREAU_RESOLV_CONF names the file, default
// /etc/resolv.conf) or =command with PREAU_SYSTEM_RESOLVER_COMMAND (e.g. "resolvectl dns
// lo {address}") and optionally PREAU_SYSTEM_RESOLVER_RESTORE.
std::unique_ptr<FilterPlugin> MakeFilterPlugin(std::shared_ptr<TeacherState> teacher,
                                               const std::string& dns_listen,
                                               const std::string& state_dir);

}  // namespace preau::agent

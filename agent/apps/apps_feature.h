// AppsFeature: the agent's side of the pedagogical store. It keeps the catalogue the
// server sent (CatalogUpdate), installs every required app of it at the assigned version,
// upgrades when the version changes, and removes the apps it installed once they leave the
// catalogue. An app the device already has from elsewhere at the same or a newer version
// (the platform says AlreadyExists) is reported installed, "left alone", and never removed. Optional apps are offered ("available"), not pushed.
//
// Downloads go through PackageFetcher on worker threads, at most `max_parallel` at once,
// into `dir`, where a partial file survives disconnects and restarts and is resumed; every
// package is verified (SHA-256) before Platform::InstallApp sees it. A failure is reported
// with its reason and retried with exponential backoff (a reconnection retries at once).
// The state of each app goes to the server as an AppStatusReport (reliably, the newest
// replacing an unsent older one); after an install or a removal `on_apps_changed` runs so
// the inventory, where `devices show` lists apps, is sent again.
//
// The catalogue and the list of apps it installed are kept in the agent's StateStore, so
// an agent restarted offline carries on with what it knew. Hooks run on the agent's strand.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <boost/asio/steady_timer.hpp>

#include "agent/apps/package_fetcher.h"
#include "agent/core/agent_feature.h"
#include "preau/v1/catalog.pb.h"

namespace preau::agent {

struct AppsOptions {
  std::string dir;          // downloads (partial files are the resume points)
  size_t max_parallel = 2;  // downloads at once
  FetchOptions fetch;
  std::chrono::milliseconds retry_min{5'000};
  std::chrono::milliseconds retry_max{30 * 60'000};
  std::function<void()> on_apps_changed;  // e.g. Agent::CheckInventory
};

// Whether a device of platform `kind` ("linux", "sim") installs packages for
// `app_platform` ("android", "linux", "web", "any").
bool PlatformAccepts(const std::string& kind, const std::string& app_platform);

// The downloads folder for a state folder; for an in-memory or unknown state, a folder
// per device under the system's temporary directory.
std::string AppsDirFor(const std::string& state_dir, const std::string& device_id);

class AppsFeature;
// The feature as every agent runs it (standard_features.cc): downloads under `state_dir`
// (see AppsDirFor), default limits, `on_apps_changed` after each install and removal.
std::unique_ptr<AppsFeature> MakeAppsFeature(const std::string& state_dir,
                                             std::function<void()> on_apps_changed);

class AppsFeature final : public AgentFeature {
 public:
  // What the feature did, for tests and benchmarks (any thread).
  struct Stats {
    std::atomic<uint64_t> bytes_fetched{0};
    std::atomic<uint64_t> resumed_downloads{0};  // started from bytes already on disk
    std::atomic<uint64_t> hash_failures{0};
    std::atomic<uint64_t> installs{0};
    std::atomic<uint64_t> removals{0};
    std::atomic<uint64_t> failures{0};
  };

  explicit AppsFeature(AppsOptions opts);
  ~AppsFeature() override;

  std::string Name() const override { return "apps"; }
  void Start(AgentContext& ctx) override;
  void FillHello(v1::Hello* hello) override;
  bool OnServerMessage(const v1::ServerMessage& msg) override;
  void OnConnected() override;
  void Stop() override;

  const Stats& stats() const { return stats_; }
  // Where the package with this SHA-256 is downloaded to.
  std::string PartialPath(const std::string& sha256) const;

 private:
  struct Job {
    v1::AssignedApp app;
    std::unique_ptr<PackageFetcher> fetcher;
    std::shared_ptr<std::atomic<uint64_t>> bytes_done;
    std::thread thread;
  };
  struct Failure {
    int count = 0;
    std::string reason;
    std::chrono::steady_clock::time_point retry_at;
  };

  void Reconcile();
  void StartJobs();
  void RunJob(v1::AssignedApp app, PackageFetcher* fetcher,
              std::shared_ptr<std::atomic<uint64_t>> bytes_done);
  void OnJobDone(const std::string& app_id, const Status& st);
  void RemoveApp(const std::string& app_id);
  void Fail(const std::string& app_id, const Status& st);
  void ArmRetry();
  void SaveManaged();
  void Report();
  void DropStalePartials();

  AppsOptions opts_;
  AgentContext* ctx_ = nullptr;
  std::unique_ptr<boost::asio::steady_timer> retry_timer_;
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
  Stats stats_;

  // Touched only on the strand.
  v1::CatalogUpdate catalog_;
  std::map<std::string, v1::AppStatus> managed_;  // apps this feature installed, by app id
  std::map<std::string, std::unique_ptr<Job>> jobs_;
  std::deque<v1::AssignedApp> queue_;
  std::map<std::string, Failure> failures_;
  std::map<std::string, v1::AppStatus> removed_;  // reported once as "removed"
  // Required apps found already installed from elsewhere at the same or a newer version:
  // left alone, never removed by this feature; keyed by app id, sha256 of the catalogue
  // entry checked.
  std::map<std::string, v1::AppStatus> external_;
  std::string last_report_;
  bool stopping_ = false;
};

}  // namespace preau::agent

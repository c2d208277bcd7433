// FilterPublisher: turns the imported UT1 lists and each device's profile into the
// snapshot that device runs, and gets it there.
//
// An import is compiled once into a full set (every category, every URL rule; hashes
// only) kept in the artifact store. A device's snapshot is cut from the current full set
// for its profile (see filter_profiles.h): only the categories the profile blocks, so a
// tablet holds what it enforces. Snapshots are built once per (profile, import) and have
// server-wide versions, so the version a device names in its hello identifies exactly one
// snapshot: when the server still has it, the device gets a delta from it (built once per
// pair and kept), otherwise the full snapshot. Updates go out as FilterUpdate and the
// bytes through DeviceService.Fetch, by SHA-256.
//
// The work (building snapshots and deltas takes seconds on the full UT1 set) runs on one
// worker thread, never on a gRPC thread: OnHello and imports only queue devices. The
// worker also rechecks connected devices whose policy bundle changed (a policy apply or a
// device move changes the profile) every `recheck_interval`. An import (reading and
// compiling the whole published set, tens of seconds) runs on an import thread of its own,
// one import at a time.
//
// Once an import is current, what no device can use any more is purged (rows, then
// artifact files): snapshots of imports older than the previous one, unless a device that
// said hello since the server started holds one (it stays a delta base), the deltas from
// or to a purged snapshot, and the full sets of all but the last kKeptImports imports
// (those stay for `preau filter rollback`). Import rows
// stay as history. A Fetch that already opened a purged file finishes reading it; one that
// starts after is refused (the device is sent the current snapshot anyway). What each
// device holds is recorded in the store, so a server restart keeps an offline device's base.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "common/filter/snapshot.h"
#include "common/filter/ut1_reader.h"
#include "common/status.h"
#include "preau/v1/filter.pb.h"
#include "server/filter/filter_profiles.h"
#include "server/filter/filter_records.h"
#include "server/policy/policy_records.h"
#include "server/server_core.h"

namespace preau::server {

struct FilterPublisherOptions {
  std::chrono::milliseconds recheck_interval{5'000};
  size_t max_reasons_per_category = 20;  // skipped lines quoted in an import's summary
};

// The right to run the server's one import; held from an import's first message to its
// end, released when destroyed.
class ImportClaim {
 public:
  ~ImportClaim();
  ImportClaim(const ImportClaim&) = delete;
  ImportClaim& operator=(const ImportClaim&) = delete;

 private:
  friend class FilterPublisher;
  explicit ImportClaim(std::atomic<bool>& running) : running_(running) {}
  std::atomic<bool>& running_;
};

// What a purge removed.
struct FilterPurge {
  size_t snapshots = 0;  // snapshot rows (their deltas go with them)
  size_t files = 0;      // artifact files deleted: snapshots, deltas, old full sets
};

class FilterPublisher {
 public:
  FilterPublisher(ServerCore& core, FilterRecords& records, PolicyRecords& policies,
                  FilterPublisherOptions options = {});
  ~FilterPublisher();  // stops the worker

  void Start();
  void Stop();

  // Claims the one import slot: FailedPrecondition "an import is already running" when
  // another import holds it.
  Result<std::unique_ptr<ImportClaim>> ClaimImport();
  bool ImportRunning() const { return import_running_.load(); }

  // Reads the UT1 folder `dir`, compiles it into a new full set, stores it and makes it
  // current (atomically: the import's row is written after its artifact is durable),
  // queues every connected device and purges what no device can use. Returns the new
  // version with its per-category summary. Blocking (seconds on the whole UT1 set).
  // Unless `force`, refuses (FailedPrecondition, nothing stored) an import that holds no
  // valid domain, or in which a category loses most of its domains.
  Result<v1::FilterVersion> ImportFolder(const std::string& dir, const std::string& source,
                                         const std::string& operator_name, bool force = false);
  // ImportFolder on the import thread; `done` runs there, after the claim is released.
  // `in_call`, when given, runs the import's work on the import thread (the operator's
  // call puts its audit row in the import's transaction that way).
  void ImportAsync(std::unique_ptr<ImportClaim> claim, std::string dir, std::string source,
                   std::string operator_name, bool force,
                   std::function<void(Result<v1::FilterVersion>)> done,
                   std::function<Status(const std::function<Status()>&)> in_call = nullptr);
  // Makes the lists of an earlier import (one of the last kKeptImports) current again, as
  // a new version. Blocking; the caller holds the import claim.
  Result<v1::FilterVersion> Rollback(uint64_t version, const std::string& operator_name);
  // Full sets kept for rollback: the current import's and the ones before it.
  static constexpr size_t kKeptImports = 3;

  // Removes the snapshots, deltas and full sets no device can use any more (see above).
  Result<FilterPurge> Purge();

  // The current full set and its import version; null when nothing was imported.
  Result<std::pair<std::shared_ptr<const filter::Snapshot>, uint64_t>> Current();

  // A device said hello holding snapshot `held_version` (0: none): queue it.
  void OnHello(const std::string& device_id, uint64_t held_version);

  // The snapshot version `device_id` last said it holds (0: none, or not heard from since
  // the server started).
  uint64_t HeldBy(const std::string& device_id);

  // What `device_id` should be sent now, given the snapshot version it holds; nullopt when
  // it is up to date (or nothing was imported). Builds what is missing. Blocking.
  Result<std::optional<v1::FilterUpdate>> UpdateFor(const std::string& device_id,
                                                    uint64_t held_version);

  // The profile with the categories the current import does not know removed (named in
  // `unknown`), ready for a snapshot or a test.
  static filter::FilterProfile KnownOnly(const filter::FilterProfile& p,
                                         const filter::Snapshot& full,
                                         std::vector<std::string>* unknown);

 private:
  struct DeviceMemo {
    uint64_t held = 0;            // the version its last hello named
    uint64_t saved = 0;           // the version recorded in the store for it
    uint64_t bundle_version = 0;  // the policy bundle its profile was read from
  };

  // Stores `rec` as the new current import and caches its full set; under build_mu_.
  Result<v1::FilterVersion> AddCurrent(FilterImportRecord rec, const std::string& source,
                                       const std::string& operator_name,
                                       std::shared_ptr<const filter::Snapshot> parsed);
  // After a new current version: devices are queued and what none can use is purged.
  void Published(uint64_t version);
  void Run();
  // Records the versions devices hold that changed since the last call, in one
  // transaction (after a re-import every device changes; a write each would be slow).
  void SaveHolds();
  void Deliver(const std::string& device_id);
  void Recheck();
  void QueueAllOnline();
  void Queue(const std::string& device_id);
  Result<FilterSnapshotRecord> EnsureSnapshot(const ResolvedFilterProfile& profile,
                                              uint64_t import_version,
                                              const filter::Snapshot& full);
  Result<std::optional<FilterDeltaRecord>> EnsureDelta(const FilterSnapshotRecord& base,
                                                      const FilterSnapshotRecord& target);
  Result<std::pair<std::string, uint64_t>> StoreArtifact(const std::string& bytes);

  ServerCore& core_;
  FilterRecords& records_;
  PolicyRecords& policies_;
  FilterPublisherOptions options_;

  std::mutex build_mu_;  // one build at a time (snapshot versions, artifact writes)
  std::mutex cache_mu_;
  std::shared_ptr<const filter::Snapshot> full_;
  uint64_t full_version_ = 0;

  std::atomic<bool> import_running_{false};
  std::mutex import_mu_;
  std::thread import_thread_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::set<std::string> queued_;
  std::map<std::string, DeviceMemo> memo_;
  std::set<std::string> unsaved_;  // devices whose held version the store does not have yet
  bool stopping_ = false;
  bool started_ = false;
  std::thread worker_;
};

}  // namespace preau::server

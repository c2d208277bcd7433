// FilterRecords: the web filter's tables in the server's store (migration 6) — every UT1
// import (its compiled full set in the artifact store, its per-category summary), the
// snapshot built for each (profile, import) pair, and the deltas made between snapshots.
// Each method is one transaction under the store's mutex, durable when it returns.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "preau/v1/filter.pb.h"
#include "server/store/store.h"

namespace preau::server {

struct FilterImportRecord {
  uint64_t version = 0;
  std::string source;
  std::string sha256;  // the full compiled set (all categories), in the artifact store
  uint64_t size = 0;
  v1::FilterVersion summary;
  std::string imported_by;
  int64_t imported_ms = 0;
};

struct FilterSnapshotRecord {
  uint64_t version = 0;  // server-wide: what a device's Hello.filter_version names
  uint64_t import_version = 0;
  std::string profile_key;
  std::string sha256;
  uint64_t size = 0;
  int64_t created_ms = 0;
};

struct FilterDeltaRecord {
  uint64_t base_version = 0;
  uint64_t version = 0;
  std::string sha256;
  uint64_t size = 0;
};

class FilterRecords {
 public:
  explicit FilterRecords(Store& store) : store_(store) {}

  // Stores a new import as the current one; returns its version (the next number).
  Result<uint64_t> AddImport(FilterImportRecord record);
  // The newest import, if any.
  Result<std::optional<FilterImportRecord>> CurrentImport();
  // Every import, newest first.
  Result<std::vector<FilterImportRecord>> Imports();

  Result<std::optional<FilterSnapshotRecord>> SnapshotFor(const std::string& profile_key,
                                                          uint64_t import_version);
  Result<std::optional<FilterSnapshotRecord>> SnapshotByVersion(uint64_t version);
  // Stores a snapshot. Its version is written inside the snapshot's bytes, so the caller
  // takes NextSnapshotVersion first and builds under its own lock.
  Status AddSnapshot(const FilterSnapshotRecord& record);
  Result<uint64_t> NextSnapshotVersion();
  Result<uint64_t> SnapshotCount();
  // The snapshot version each device (not retired) last said it holds.
  Result<std::map<std::string, uint64_t>> DeviceHolds();
  // Records what devices hold, in one transaction.
  Status SaveDeviceHolds(const std::vector<std::pair<std::string, uint64_t>>& holds,
                         int64_t now_ms);
  // Whether `sha256` is a device snapshot or a delta (what devices download).
  Result<bool> IsDeviceArtifact(const std::string& sha256);

  Result<std::optional<FilterDeltaRecord>> Delta(uint64_t base_version, uint64_t version);
  Status AddDelta(const FilterDeltaRecord& record);

  // Every snapshot, oldest first.
  Result<std::vector<FilterSnapshotRecord>> Snapshots();
  // Removes the snapshots `versions` and every delta from or to one of them (one
  // transaction); returns the artifacts (SHA-256) the removed rows named.
  Result<std::vector<std::string>> RemoveSnapshots(const std::vector<uint64_t>& versions);
  // The artifacts some row still needs: the current import's full set, every snapshot and
  // every delta. (Older imports keep their rows as history; their full sets are not needed.)
  Result<std::set<std::string>> ArtifactsInUse();

 private:
  Store& store_;
};

}  // namespace preau::server

// CatalogStore: the app store's tables in the server's store (migration 5) — every uploaded
// app version with its metadata and review state, the assignments of approved versions to
// groups, and what each device last reported per app. Each method is one transaction
// under the store's mutex, durable when it returns. Rules about who may do what live in
// the service; the rules about the data itself (only an approved version can be assigned,
// a rejection needs a reason) are enforced here, inside the transaction that writes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "preau/v1/catalog.pb.h"
#include "server/store/store.h"

namespace preau::server {

// "name@version": the id operators type.
std::string AppVersionId(const std::string& name, const std::string& version);

class CatalogStore {
 public:
  explicit CatalogStore(Store& store) : store_(store) {}

  // Records a new version as submitted. AlreadyExists if name@version was uploaded before.
  Result<v1::AppVersion> InsertVersion(const v1::AppMetadata& metadata, const std::string& sha256,
                                       uint64_t size, const std::string& uploaded_by,
                                       int64_t now_ms);
  // The version without assignments or device counts.
  Result<v1::AppVersion> GetVersion(const std::string& id);
  // submitted -> approved | rejected; approved -> rejected (withdrawal).
  Result<v1::AppVersion> Review(const std::string& id, bool approve, const std::string& reason,
                                const std::string& reviewer, int64_t now_ms);

  // Assigns approved version `id` to `group`, replacing the group's assignment of the app.
  Result<v1::AppAssignment> Assign(const std::string& id, const std::string& group, bool required,
                                   const std::string& by, int64_t now_ms);
  // NotFound if the group has no assignment of `name`.
  Result<v1::AppAssignment> Unassign(const std::string& name, const std::string& group);

  // Every version (of `name` if not empty), newest upload first, with their assignments
  // and how many devices reported them installed / failed.
  Result<std::vector<v1::AppVersion>> List(const std::string& name);

  // The approved assignments at any of `groups`, each with its version.
  struct Resolved {
    v1::AppAssignment assignment;
    v1::AppVersion version;
  };
  Result<std::vector<Resolved>> AssignmentsAt(const std::vector<std::string>& groups);
  // Groups with at least one assignment of version `id`.
  Result<std::vector<std::string>> GroupsAssigned(const std::string& id);

  // Replaces what `device_id` reported (idempotent: the same report twice changes nothing).
  Status RecordStatus(const std::string& device_id, const v1::AppStatusReport& report,
                      int64_t now_ms);
  struct DeviceStatusRow {
    std::string device_id;
    v1::AppStatus status;
    int64_t reported_ms = 0;
  };
  Result<std::vector<DeviceStatusRow>> StatusOf(const std::string& name);

 private:
  Store& store_;
};

}  // namespace preau::server

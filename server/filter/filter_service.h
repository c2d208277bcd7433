// The web filter on the server: the operators' FilterService (import the UT1 lists, list
// the versions, test a name against a group's profile) and the hook on device streams (a
// hello gets the device the snapshot for its profile, whole or as a delta).
// RegisterFilterDomain plugs it in (server/domains.cc).
//
// Who may do what: an admin imports (audited as "filter.import", refusals included); any
// operator lists; any operator tests, with --group within its scopes.
#pragma once

#include <memory>

#include "preau/v1/filter.grpc.pb.h"
#include "server/domains.h"
#include "server/filter/filter_publisher.h"
#include "server/filter/filter_records.h"
#include "server/policy/policy_records.h"
#include "server/server_core.h"

namespace preau::server {

// What an import accepts: at most this many bytes in all (the full UT1 set is about
// 150 MB) and this many files.
inline constexpr uint64_t kMaxFilterImportBytes = 2ull << 30;
inline constexpr size_t kMaxFilterImportFiles = 4096;

class FilterServiceImpl final : public v1::FilterService::CallbackService {
 public:
  FilterServiceImpl(ServerCore& core, FilterRecords& records, FilterPublisher& publisher,
                    PolicyRecords& policies)
      : core_(core), records_(records), publisher_(publisher), policies_(policies) {}

  grpc::ServerReadReactor<v1::ImportFilterRequest>* Import(
      grpc::CallbackServerContext* ctx, v1::ImportFilterResponse* resp) override;
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* ctx,
                                 const v1::ListFiltersRequest* req,
                                 v1::ListFiltersResponse* resp) override;
  grpc::ServerUnaryReactor* Test(grpc::CallbackServerContext* ctx,
                                 const v1::TestFilterRequest* req,
                                 v1::TestFilterResponse* resp) override;
  grpc::ServerUnaryReactor* Rollback(grpc::CallbackServerContext* ctx,
                                     const v1::RollbackFilterRequest* req,
                                     v1::ImportFilterResponse* resp) override;

 private:
  class ImportReactor;
  ServerCore& core_;
  FilterRecords& records_;
  FilterPublisher& publisher_;
  PolicyRecords& policies_;
};

class FilterDomain final : public DeviceFeature {
 public:
  explicit FilterDomain(ServerCore& core, FilterPublisherOptions options = {})
      : records_(*core.store),
        policies_(*core.store),
        publisher_(core, records_, policies_, options),
        service_(core, records_, publisher_, policies_) {}

  FilterServiceImpl* service() { return &service_; }
  FilterPublisher& publisher() { return publisher_; }

  void OnHello(const std::string& device_id, const v1::Hello& hello) override {
    publisher_.OnHello(device_id, hello.filter_version());
  }
  // A device snapshot or delta (hashes of public lists; a full set stays on the server).
  bool MayFetch(const DeviceRecord& device, const std::string& sha256) override {
    auto r = records_.IsDeviceArtifact(sha256);
    return r.ok() && *r;
  }

 private:
  FilterRecords records_;
  PolicyRecords policies_;  // read only: which policy each device runs
  FilterPublisher publisher_;
  FilterServiceImpl service_;
};

Status RegisterFilterDomain(DomainRegistry& registry);

}  // namespace preau::server

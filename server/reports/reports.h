// Reports: the usage-and-reports domain of the server — usage ingest on device streams
// (group commit), the retention job, and ReportService — registered in domains.cc.
#pragma once

#include "server/domains.h"
#include "server/reports/report_service.h"
#include "server/reports/retention_job.h"
#include "server/reports/usage_ingest.h"
#include "server/reports/usage_store.h"

namespace preau::server {

// Everything the domain keeps alive, and its hook on device streams (it passes usage
// batches to the ingest). Members are destroyed in reverse order, and the destructor
// stops the retention thread first, so no pass runs on a half-destroyed domain.
class ReportsDomain final : public DeviceFeature {
 public:
  explicit ReportsDomain(ServerCore& core)
      : usage(*core.store), ingest(core, usage), service(core, usage, ingest),
        retention(usage, ingest, *core.clock) {}
  ~ReportsDomain() override;

  bool Handles(v1::AgentMessage::BodyCase body) const override { return ingest.Handles(body); }
  Status OnMessage(const std::string& device_id, const v1::AgentMessage& msg) override {
    return ingest.OnMessage(device_id, msg);
  }
  void OnMessageAsync(const std::string& device_id, const v1::AgentMessage& msg,
                      std::function<void(const Status&)> done) override {
    ingest.OnMessageAsync(device_id, msg, std::move(done));
  }

  UsageStore usage;
  UsageIngest ingest;
  ReportServiceImpl service;
  RetentionJob retention;
};

Status RegisterReports(DomainRegistry& registry);

// The reports domain of a running server (tests, benchmarks); null if not registered.
ReportsDomain* FindReportsDomain(ServerCore& core);

}  // namespace preau::server

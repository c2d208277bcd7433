// ReportService: the operators' side of the reports domain (`preau report ...`,
// `preau devices export|import`, `preau report retention`). Admins only, within their
// scopes: a report covers the devices of the operator's scopes, an export needs a scope
// over the device's group, an import needs one over every group it names (the whole
// authority for rows without a group), and reading or changing the retention needs the
// whole authority. Exports, imports and retention changes are audited.
#pragma once

#include "preau/v1/usage.grpc.pb.h"
#include "server/reports/retention_job.h"
#include "server/reports/usage_store.h"
#include "server/server_core.h"

namespace preau::server {

class ReportServiceImpl final : public v1::ReportService::CallbackService {
 public:
  ReportServiceImpl(ServerCore& core, UsageStore& usage, UsageIngest& ingest)
      : core_(core), usage_(usage), ingest_(ingest) {}

  grpc::ServerUnaryReactor* Build(grpc::CallbackServerContext* ctx,
                                  const v1::BuildReportRequest* req,
                                  v1::ReportDocument* out) override;
  grpc::ServerUnaryReactor* ExportDevice(grpc::CallbackServerContext* ctx,
                                         const v1::ExportDeviceRequest* req,
                                         v1::DeviceExport* out) override;
  grpc::ServerUnaryReactor* ImportStock(grpc::CallbackServerContext* ctx,
                                        const v1::ImportStockRequest* req,
                                        v1::ImportStockResponse* out) override;
  grpc::ServerUnaryReactor* Retention(grpc::CallbackServerContext* ctx,
                                      const v1::RetentionRequest* req,
                                      v1::RetentionSettings* out) override;

 private:
  ServerCore& core_;
  UsageStore& usage_;
  UsageIngest& ingest_;
};

// Builds one report document (what Build returns), for `op`.
Result<v1::ReportDocument> BuildReport(ServerCore& core, UsageStore& usage,
                                       const OperatorRecord& op,
                                       const v1::BuildReportRequest& req);

}  // namespace preau::server

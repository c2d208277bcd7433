#include "server/reports/report_service.h"

#include "server/admin/admin_service.h"
#include "server/admin/authz.h"
#include "server/reports/device_export.h"
#include "server/reports/html_report.h"
#include "server/reports/report_data.h"
#include "server/reports/stock_import.h"

namespace preau::server {

namespace {
constexpr size_t kMaxImportBytes = 16 * 1024 * 1024;
}  // namespace

Result<v1::ReportDocument> BuildReport(ServerCore& core, UsageStore& usage,
                                       const OperatorRecord& op,
                                       const v1::BuildReportRequest& req) {
  PREAU_RETURN_IF_ERROR(RequirePermission(op, Permission::kCountReports, "build reports"));
  const bool counts_only = !RoleHas(op.role, Permission::kDeviceReports);
  if (counts_only && req.format() == v1::REPORT_FORMAT_HTML) {
    return InvalidArgument("a " + RoleName(op.role) + " gets counts only: use -o table, csv or json");
  }
  if (!req.group().empty()) {
    PREAU_RETURN_IF_ERROR(ValidateGroupPath(req.group()));
    PREAU_RETURN_IF_ERROR(RequireScope(op, req.group()));
    if (!core.store->GroupExists(req.group())) return NotFound("unknown group '" + req.group() + "'");
  }
  if (req.since_seconds() < 0 || req.since_seconds() > 10LL * 366 * 86400) {
    return InvalidArgument("--since must be between 1 day and 10 years");
  }
  PREAU_ASSIGN_OR_RETURN(auto data,
                         GatherReportData(core, usage, op, req.group(), req.since_seconds()));
  ReportTable table;
  switch (req.kind()) {
    case v1::REPORT_KIND_INVENTORY: table = InventoryTable(data); break;
    case v1::REPORT_KIND_USAGE: table = UsageTable(data); break;
    case v1::REPORT_KIND_COMPLIANCE: table = ComplianceTable(data); break;
    default: return InvalidArgument("report kind must be inventory, usage or compliance");
  }
  if (counts_only) table = CountsTable(data, req.kind());
  v1::ReportDocument doc;
  doc.set_rows(static_cast<uint32_t>(table.rows.size()));
  switch (req.format()) {
    case v1::REPORT_FORMAT_CSV:
      doc.set_content_type("text/csv; charset=utf-8");
      doc.set_body(table.ToCsv());
      break;
    case v1::REPORT_FORMAT_JSON:
      doc.set_content_type("application/json");
      doc.set_body(table.ToJson());
      break;
    case v1::REPORT_FORMAT_HTML:
      doc.set_content_type("text/html; charset=utf-8");
      doc.set_body(HtmlReport(data, table));
      break;
    default:
      doc.set_content_type("text/plain; charset=utf-8");
      doc.set_body(table.ToText());
      break;
  }
  return doc;
}

grpc::ServerUnaryReactor* ReportServiceImpl::Build(grpc::CallbackServerContext* ctx,
                                                   const v1::BuildReportRequest* req,
                                                   v1::ReportDocument* out) {
  return RunAdminCall(core_, ctx, "ReportService.Build", req->group(), [&](const OperatorRecord& op) -> Status {
    PREAU_ASSIGN_OR_RETURN(*out, BuildReport(core_, usage_, op, *req));
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* ReportServiceImpl::ExportDevice(grpc::CallbackServerContext* ctx,
                                                          const v1::ExportDeviceRequest* req,
                                                          v1::DeviceExport* out) {
  return RunAdminCall(core_, ctx, "ReportService.ExportDevice", req->id(), [&](const OperatorRecord& op) -> Status {
    PREAU_ASSIGN_OR_RETURN(auto d, DeviceInScope(*core_.store, op, req->id()));
    PREAU_ASSIGN_OR_RETURN(*out->mutable_json(), ExportDeviceJson(core_, usage_, d));
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* ReportServiceImpl::ImportStock(grpc::CallbackServerContext* ctx,
                                                         const v1::ImportStockRequest* req,
                                                         v1::ImportStockResponse* out) {
  return RunAdminCall(core_, ctx, "ReportService.ImportStock", req->file_name(), [&](const OperatorRecord& op) -> Status {
    if (req->csv().size() > kMaxImportBytes) return InvalidArgument("the file is larger than 16 MiB");
    PREAU_ASSIGN_OR_RETURN(auto rows, ParseStockCsv(req->csv(), req->file_name()));
    int64_t now = core_.Now();
    for (auto& r : rows) {
      PREAU_RETURN_IF_ERROR(RequireScope(op, r.group).Context("serial " + r.serial));
      if (!r.group.empty() && !core_.store->GroupExists(r.group)) {
        return NotFound("serial " + r.serial + ": unknown group '" + r.group +
                        "' (create it with `preau groups create`)");
      }
      r.imported_ms = now;
      r.imported_by = op.name;
    }
    uint32_t added = 0, updated = 0;
    PREAU_RETURN_IF_ERROR(usage_.UpsertStock(rows, &added, &updated));
    out->set_added(added);
    out->set_updated(updated);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* ReportServiceImpl::Retention(grpc::CallbackServerContext* ctx,
                                                       const v1::RetentionRequest* req,
                                                       v1::RetentionSettings* out) {
  std::string target = req->set() ? std::to_string(req->usage_months()) + " months, " +
                                        std::to_string(req->retired_days()) + " days after retirement"
                                  : "";
  return RunAdminCall(core_, ctx, "ReportService.Retention", target, [&](const OperatorRecord& op) -> Status {
    PREAU_RETURN_IF_ERROR(RequireScope(op, ""));
    if (req->set()) {
      RetentionPolicy p;
      p.usage_months = static_cast<int>(req->usage_months());
      p.retired_days = static_cast<int>(req->retired_days());
      PREAU_RETURN_IF_ERROR(usage_.SetRetention(p));
      ingest_.SetRetentionMonths(p.usage_months);
    }
    PREAU_ASSIGN_OR_RETURN(auto p, usage_.GetRetention());
    out->set_usage_months(static_cast<uint32_t>(p.usage_months));
    out->set_retired_days(static_cast<uint32_t>(p.retired_days));
    return Status::Ok();
  });
}

}  // namespace preau::server

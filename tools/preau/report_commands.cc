#include "tools/preau/report_commands.h"

#include "common/duration.h"
#include "common/files.h"
#include "preau/v1/usage.grpc.pb.h"

namespace preau::cli {

namespace {
Status Emit(const CliContext& ctx, const std::string& out, const std::string& body,
            const std::string& what) {
  if (out.empty()) {
    *ctx.out << body << std::flush;
    return Status::Ok();
  }
  PREAU_RETURN_IF_ERROR(WriteFileAtomic(out, body, 0600).Context("writing " + out));
  *ctx.err << what << " written to " << out << "\n";
  return Status::Ok();
}

Result<v1::ReportFormat> ParseReportFormat(const std::string& f) {
  if (f == "table" || f.empty()) return v1::REPORT_FORMAT_TABLE;
  if (f == "csv") return v1::REPORT_FORMAT_CSV;
  if (f == "json") return v1::REPORT_FORMAT_JSON;
  if (f == "html") return v1::REPORT_FORMAT_HTML;
  return InvalidArgument("report format '" + f + "': expected table, csv, json or html");
}

Result<v1::ReportKind> ParseReportKind(const std::string& k) {
  if (k == "inventory") return v1::REPORT_KIND_INVENTORY;
  if (k == "usage") return v1::REPORT_KIND_USAGE;
  if (k == "compliance") return v1::REPORT_KIND_COMPLIANCE;
  return InvalidArgument("report '" + k + "': expected inventory, usage or compliance");
}
}  // namespace

Status Report(const CliContext& ctx, const ReportOptions& o) {
  v1::BuildReportRequest req;
  PREAU_ASSIGN_OR_RETURN(auto kind, ParseReportKind(o.kind));
  PREAU_ASSIGN_OR_RETURN(auto format, ParseReportFormat(o.format));
  PREAU_ASSIGN_OR_RETURN(int64_t since, ParseDuration(o.since));
  req.set_kind(kind);
  req.set_format(format);
  req.set_group(o.group);
  req.set_since_seconds(since);
  PREAU_ASSIGN_OR_RETURN(auto client, AdminClient::Connect(ctx.connection));
  v1::ReportService::Stub stub(client->channel());
  v1::ReportDocument doc;
  PREAU_RETURN_IF_ERROR(client->Call([&](grpc::ClientContext* c) {
    return stub.Build(c, req, &doc);
  }).Context("report " + o.kind));
  return Emit(ctx, o.out, doc.body(),
              "Report " + o.kind + " (" + std::to_string(doc.rows()) + " rows)");
}

Status ReportRetention(const CliContext& ctx, const RetentionOptions& o) {
  PREAU_ASSIGN_OR_RETURN(auto client, AdminClient::Connect(ctx.connection));
  v1::ReportService::Stub stub(client->channel());
  v1::RetentionRequest req;
  v1::RetentionSettings current;
  if (o.usage_months != 0 || o.retired_days >= 0) {
    // Unchanged values are read first, so one flag changes one setting.
    PREAU_RETURN_IF_ERROR(client->Call([&](grpc::ClientContext* c) {
      return stub.Retention(c, req, &current);
    }));
    req.set_set(true);
    req.set_usage_months(o.usage_months != 0 ? o.usage_months : current.usage_months());
    req.set_retired_days(o.retired_days >= 0 ? static_cast<uint32_t>(o.retired_days)
                                             : current.retired_days());
  }
  v1::RetentionSettings out;
  PREAU_RETURN_IF_ERROR(client->Call([&](grpc::ClientContext* c) {
    return stub.Retention(c, req, &out);
  }).Context("retention"));
  switch (ctx.format) {
    case OutputFormat::kJson:
      *ctx.out << "{\"usage_months\": " << out.usage_months()
               << ", \"retired_days\": " << out.retired_days() << "}\n";
      break;
    case OutputFormat::kCsv:
      *ctx.out << "usage_months,retired_days\r\n" << out.usage_months() << ","
               << out.retired_days() << "\r\n";
      break;
    case OutputFormat::kTable:
      *ctx.out << "Usage kept          " << out.usage_months() << " months\n"
               << "After retirement    " << out.retired_days() << " days, then deleted\n";
      break;
  }
  return Status::Ok();
}

Status DevicesExport(const CliContext& ctx, const DeviceExportOptions& o) {
  if (o.id.empty()) return InvalidArgument("a device id is required");
  PREAU_ASSIGN_OR_RETURN(auto client, AdminClient::Connect(ctx.connection));
  v1::ReportService::Stub stub(client->channel());
  v1::ExportDeviceRequest req;
  req.set_id(o.id);
  v1::DeviceExport out;
  PREAU_RETURN_IF_ERROR(client->Call([&](grpc::ClientContext* c) {
    return stub.ExportDevice(c, req, &out);
  }).Context("export of " + o.id));
  return Emit(ctx, o.out, out.json(), "Export of " + o.id);
}

Status DevicesImport(const CliContext& ctx, const DeviceImportOptions& o) {
  PREAU_ASSIGN_OR_RETURN(auto csv, ReadFile(o.file));
  PREAU_ASSIGN_OR_RETURN(auto client, AdminClient::Connect(ctx.connection));
  v1::ReportService::Stub stub(client->channel());
  v1::ImportStockRequest req;
  req.set_csv(csv);
  req.set_file_name(o.file);
  v1::ImportStockResponse out;
  PREAU_RETURN_IF_ERROR(client->Call([&](grpc::ClientContext* c) {
    return stub.ImportStock(c, req, &out);
  }).Context("import of " + o.file));
  switch (ctx.format) {
    case OutputFormat::kJson:
      *ctx.out << "{\"added\": " << out.added() << ", \"updated\": " << out.updated() << "}\n";
      break;
    case OutputFormat::kCsv:
      *ctx.out << "added,updated\r\n" << out.added() << "," << out.updated() << "\r\n";
      break;
    case OutputFormat::kTable:
      *ctx.out << out.added() << " added, " << out.updated() << " updated from " << o.file
               << "\n";
      break;
  }
  return Status::Ok();
}

}  // namespace preau::cli

#include "server/reports/device_export.h"

#include <google/protobuf/util/json_util.h>

#include "common/duration.h"
#include "preau/v1/command.pb.h"
#include "preau/v1/policy.pb.h"
#include "common/json.h"
#include "server/reports/retention_job.h"

namespace preau::server {

namespace {
Json ProtoJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(m, &out, opts).ok()) return Json();
  return Json::Raw(out);
}

Json Time(int64_t unix_ms) {
  return unix_ms == 0 ? Json() : Json::String(FormatLocalTime(unix_ms));
}

// Rows of another domain's table, read by device id. A table that this build lacks
// yields an empty list rather than a failed export.
template <typename RowFn>
Status ReadRows(Store& store, const std::string& sql, const std::string& key, RowFn&& fn) {
  return store.Locked([&](SqlDb& db) -> Status {
    auto s = db.Prepare(sql);
    if (!s.ok()) {
      if (s.status().message().find("no such table") != std::string::npos) return Status::Ok();
      return s.status();
    }
    s->Bind(1, key);
    for (;;) {
      PREAU_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) return Status::Ok();
      fn(*s);
    }
  });
}
}  // namespace

Result<std::string> ExportDeviceJson(ServerCore& core, UsageStore& usage,
                                     const DeviceRecord& d) {
  Json root = Json::Object();
  root.Set("export_format", Json::String("preau.device-export.v1"));
  root.Set("exported_at", Time(core.Now()));

  Json dev = Json::Object();
  dev.Set("id", Json::String(d.id));
  dev.Set("name", Json::String(d.name));
  dev.Set("group", Json::String(d.group));
  dev.Set("enrolled_at", Time(d.enrolled_ms));
  dev.Set("last_seen_at", Time(d.last_seen_ms));
  dev.Set("retired_at", Time(d.retired_ms));
  dev.Set("certificate_serial", Json::String(d.cert_serial));
  dev.Set("key_fingerprint", Json::String(d.key_fingerprint));
  dev.Set("agent_version", Json::String(d.agent_version));
  dev.Set("policy_version", Json::Int(static_cast<int64_t>(d.policy_version)));
  dev.Set("policy_state", Json::String(d.policy_state));
  dev.Set("online", Json::Bool(core.connections.Online(d.id)));
  root.Set("device", std::move(dev));

  v1::Inventory inv;
  inv.ParseFromString(d.inventory);
  root.Set("inventory", ProtoJson(inv));

  PREAU_ASSIGN_OR_RETURN(auto policy, usage.GetRetention());
  Json use = Json::Object();
  Json retention = Json::Object();
  retention.Set("usage_months", Json::Int(policy.usage_months));
  retention.Set("retired_days", Json::Int(policy.retired_days));
  retention.Set("kept_from_day", Json::String(RetentionCutoffDay(core.Now(), policy)));
  use.Set("retention", std::move(retention));
  PREAU_ASSIGN_OR_RETURN(auto days, usage.Days("", d.id));
  Json day_list = Json::Array();
  for (const auto& day : days) day_list.Add(ProtoJson(day.detail));
  use.Set("days", std::move(day_list));
  PREAU_ASSIGN_OR_RETURN(auto batches, usage.BatchIds(d.id));
  Json batch_list = Json::Array();
  for (const auto& [id, at] : batches) {
    Json b = Json::Object();
    b.Set("id", Json::String(id));
    b.Set("received_at", Time(at));
    batch_list.Add(std::move(b));
  }
  use.Set("batches", std::move(batch_list));
  PREAU_ASSIGN_OR_RETURN(auto dropped, usage.Dropped());
  auto it = dropped.find(d.id);
  use.Set("reports_dropped_by_agent", Json::Int(it == dropped.end() ? 0 : it->second));
  root.Set("usage", std::move(use));

  Json stock;
  if (!inv.serial().empty()) {
    PREAU_ASSIGN_OR_RETURN(auto all, usage.ListStock());
    for (const auto& s : all) {
      if (s.serial != inv.serial()) continue;
      stock = Json::Object();
      stock.Set("serial", Json::String(s.serial));
      stock.Set("name", Json::String(s.name));
      stock.Set("model", Json::String(s.model));
      stock.Set("state", Json::String(s.state));
      stock.Set("purchased", Json::String(s.purchased));
      stock.Set("notes", Json::String(s.notes));
      stock.Set("imported_at", Time(s.imported_ms));
      stock.Set("imported_by", Json::String(s.imported_by));
    }
  }
  root.Set("stock_taking", std::move(stock));

  Json pol = Json::Object();
  Json issued;
  PREAU_RETURN_IF_ERROR(ReadRows(
      *core.store, "SELECT version, chain, issued_ms FROM policy_bundles WHERE device_id=?",
      d.id, [&](const SqlStmt& s) {
        issued = Json::Object();
        issued.Set("version", Json::Int(s.Int(0)));
        issued.Set("resolved_from_revisions", Json::String(s.Text(1)));
        issued.Set("issued_at", Time(s.Int(2)));
      }));
  pol.Set("last_issued", std::move(issued));
  Json reports = Json::Array();
  PREAU_RETURN_IF_ERROR(ReadRows(
      *core.store,
      "SELECT version, accepted, reason, report, reported_ms FROM policy_compliance "
      "WHERE device_id=? ORDER BY version",
      d.id, [&](const SqlStmt& s) {
        Json r = Json::Object();
        r.Set("version", Json::Int(s.Int(0)));
        r.Set("accepted", Json::Bool(s.Int(1) != 0));
        r.Set("reason", Json::String(s.Text(2)));
        v1::ComplianceReport report;
        r.Set("report", report.ParseFromString(s.Blob(3)) ? ProtoJson(report) : Json());
        r.Set("reported_at", Time(s.Int(4)));
        reports.Add(std::move(r));
      }));
  pol.Set("compliance_reports", std::move(reports));
  root.Set("policy", std::move(pol));

  Json commands = Json::Array();
  PREAU_RETURN_IF_ERROR(ReadRows(
      *core.store,
      "SELECT seq, command_id, body, expires_ms, created_ms, ack_result, ack_detail, acked_ms "
      "FROM class_commands WHERE device_id=? ORDER BY seq",
      d.id, [&](const SqlStmt& s) {
        Json c = Json::Object();
        c.Set("seq", Json::Int(s.Int(0)));
        c.Set("command_id", Json::String(s.Text(1)));
        v1::Command cmd;
        c.Set("command", cmd.ParseFromString(s.Blob(2)) ? ProtoJson(cmd) : Json());
        c.Set("expires_at", Time(s.Int(3)));
        c.Set("created_at", Time(s.Int(4)));
        c.Set("ack_result", Json::Int(s.Int(5)));
        c.Set("ack_detail", Json::String(s.Text(6)));
        c.Set("acked_at", Time(s.Int(7)));
        commands.Add(std::move(c));
      }));
  root.Set("class_commands", std::move(commands));

  Json audit = Json::Array();
  PREAU_RETURN_IF_ERROR(ReadRows(
      *core.store,
      "SELECT seq, at_ms, actor, action, target, result, detail FROM audit "
      "WHERE instr(target, ?1) > 0 OR instr(detail, ?1) > 0 ORDER BY seq",
      d.id, [&](const SqlStmt& s) {
        Json a = Json::Object();
        a.Set("seq", Json::Int(s.Int(0)));
        a.Set("at", Time(s.Int(1)));
        a.Set("actor", Json::String(s.Text(2)));
        a.Set("action", Json::String(s.Text(3)));
        a.Set("target", Json::String(s.Text(4)));
        a.Set("result", Json::String(s.Text(5)));
        a.Set("detail", Json::String(s.Text(6)));
        audit.Add(std::move(a));
      }));
  root.Set("audit", std::move(audit));
  return root.Dump() + "\n";
}

}  // namespace preau::server

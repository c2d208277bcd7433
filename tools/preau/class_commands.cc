#include "tools/preau/class_commands.h"

#include <map>

#include "common/class_summary.h"
#include "common/duration.h"
#include "preau/v1/command.grpc.pb.h"
#include "tools/preau/admin_client.h"
#include "tools/preau/output.h"

namespace preau::cli {

namespace {

constexpr int64_t kMaxWaitS = 60;

Result<v1::CommandKind> KindOf(const ClassCommandOptions& o) {
  const std::string& verb = o.verb;
  if (verb == "wifi") {
    if (o.wifi_on == o.wifi_off) return InvalidArgument("class wifi: give --on --for DURATION or --off");
    return *ClassCommandKind(o.wifi_on ? "wifi on" : "wifi off");
  }
  if (auto kind = ClassCommandKind(verb); kind && verb.rfind("wifi", 0) != 0) return *kind;
  return InvalidArgument("class command '" + verb +
                         "': expected lock, unlock, focus, open, allow, message or wifi");
}

std::string OutcomeName(v1::DeviceOutcome o) {
  switch (o) {
    case v1::DEVICE_DONE: return "done";
    case v1::DEVICE_FAILED: return "failed";
    case v1::DEVICE_OFFLINE: return "offline";
    case v1::DEVICE_NO_ACK: return "no answer";
    case v1::DEVICE_EXPIRED: return "expired";
    case v1::DEVICE_REFUSED: return "refused";
    default: return "unknown";
  }
}

}  // namespace

Status ClassRun(const CliContext& ctx, const ClassCommandOptions& o) {
  PREAU_ASSIGN_OR_RETURN(auto kind, KindOf(o));
  v1::ClassCommandRequest req;
  req.set_group(o.group);
  req.set_kind(kind);
  req.set_message(o.message);
  req.set_app(o.app);
  req.set_url(o.url);
  req.set_site(o.site);
  if (!o.for_duration.empty()) {
    auto d = ParseDuration(o.for_duration);
    if (!d.ok()) return d.status().Context("--for");
    req.set_for_seconds(*d);
  }
  auto wait = ParseDuration(o.wait);
  if (!wait.ok()) return wait.status().Context("--wait");
  if (*wait > kMaxWaitS) return InvalidArgument("--wait is limited to 60s");
  req.set_wait_ms(static_cast<uint32_t>(*wait * 1000));

  // The call lasts up to --wait; give it that on top of the usual deadline.
  ConnectionOptions conn = ctx.connection;
  conn.deadline += std::chrono::seconds(*wait);
  PREAU_ASSIGN_OR_RETURN(auto client, AdminClient::Connect(conn));
  v1::ClassService::Stub stub(client->channel());
  v1::ClassCommandResponse resp;
  PREAU_RETURN_IF_ERROR(client->Call([&](grpc::ClientContext* c) {
    return stub.Run(c, req, &resp);
  }).Context("class " + o.verb + " " + o.group));

  if (ctx.format != OutputFormat::kTable) {
    Table t({{"device_id", "ID"}, {"device_name", "Name"}, {"outcome", "Outcome"},
             {"detail", "Detail"}});
    for (const auto& d : resp.results()) {
      t.AddRow({Cell::Text(d.device_id()), Cell::Text(d.device_name()),
                Cell::Text(OutcomeName(d.outcome())), Cell::OptionalText(d.detail())});
    }
    *ctx.out << t.Render(ctx.format) << std::flush;
    return Status::Ok();
  }
  // The summary's verb: "wifi on" / "wifi off" say which way the Wi-Fi went.
  const std::string verb = o.verb != "wifi" ? o.verb : o.wifi_on ? "wifi on" : "wifi off";
  std::string text;
  for (const auto& d : resp.results()) {
    if (d.outcome() == v1::DEVICE_DONE) continue;
    text += Printable(d.device_name()) + " (" + d.device_id() + "): " +
            Printable(ClassOutcomeWhy(verb, resp, d)) + "\n";
  }
  if (resp.results_size() == 0) {
    text += "no devices in " + o.group + "\n";
  } else {
    text += ClassSummary(verb, resp) + "\n";
  }
  *ctx.out << text << std::flush;
  return Status::Ok();
}

}  // namespace preau::cli

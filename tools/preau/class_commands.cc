#include "tools/preau/class_commands.h"

#include <map>

#include "common/duration.h"
#include "preau/v1/command.grpc.pb.h"
#include "tools/preau/admin_client.h"
#include "tools/preau/output.h"

namespace preau::cli {

namespace {

constexpr int64_t kMaxWaitS = 60;

Result<v1::CommandKind> KindOf(const std::string& verb) {
  if (verb == "lock") return v1::COMMAND_LOCK;
  if (verb == "unlock") return v1::COMMAND_UNLOCK;
  if (verb == "focus") return v1::COMMAND_FOCUS;
  if (verb == "open") return v1::COMMAND_OPEN;
  if (verb == "allow") return v1::COMMAND_ALLOW;
  return InvalidArgument("class command '" + verb + "': expected lock, unlock, focus, open or allow");
}

std::string PastTense(const std::string& verb) {
  if (verb == "focus") return "focused";
  if (verb == "open") return "opened";
  return verb + "ed";  // locked, unlocked, allowed
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

std::string Pending(const std::string& verb, const v1::ClassCommandResponse& r, bool plural) {
  return "will " + verb + " when " + (plural ? "they reconnect" : "it reconnects") +
         ", until " + FormatLocalHourMinute(r.expires_unix_ms());
}

// Why one device did not act, for a person.
std::string Why(const std::string& verb, const v1::ClassCommandResponse& r,
                const v1::DeviceResult& d) {
  switch (d.outcome()) {
    case v1::DEVICE_OFFLINE: return "offline (" + Pending(verb, r, false) + ")";
    case v1::DEVICE_NO_ACK: return "connected but did not answer in time";
    case v1::DEVICE_EXPIRED: return "the command had expired by the device's clock";
    case v1::DEVICE_FAILED: return "failed: " + (d.detail().empty() ? "no reason given" : d.detail());
    case v1::DEVICE_REFUSED: return "refused: " + d.detail();
    default: return OutcomeName(d.outcome());
  }
}

}  // namespace

std::string ClassSummary(const std::string& verb, const v1::ClassCommandResponse& response) {
  std::map<v1::DeviceOutcome, int> n;
  for (const auto& d : response.results()) ++n[d.outcome()];
  std::string s = std::to_string(n[v1::DEVICE_DONE]) + "/" +
                  std::to_string(response.results_size()) + " " + PastTense(verb);
  if (int off = n[v1::DEVICE_OFFLINE]) {
    s += ", " + std::to_string(off) + " offline (" + Pending(verb, response, off > 1) + ")";
  }
  if (int k = n[v1::DEVICE_NO_ACK]) s += ", " + std::to_string(k) + " did not answer";
  if (int k = n[v1::DEVICE_FAILED]) s += ", " + std::to_string(k) + " failed";
  if (int k = n[v1::DEVICE_REFUSED]) s += ", " + std::to_string(k) + " refused";
  if (int k = n[v1::DEVICE_EXPIRED]) s += ", " + std::to_string(k) + " expired";
  return s;
}

Status ClassRun(const CliContext& ctx, const ClassCommandOptions& o) {
  PREAU_ASSIGN_OR_RETURN(auto kind, KindOf(o.verb));
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
  std::string text;
  for (const auto& d : resp.results()) {
    if (d.outcome() == v1::DEVICE_DONE) continue;
    text += Printable(d.device_name()) + " (" + d.device_id() + "): " +
            Printable(Why(o.verb, resp, d)) + "\n";
  }
  if (resp.results_size() == 0) {
    text += "no devices in " + o.group + "\n";
  } else {
    text += ClassSummary(o.verb, resp) + "\n";
  }
  *ctx.out << text << std::flush;
  return Status::Ok();
}

}  // namespace preau::cli

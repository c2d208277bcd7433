#include "tools/preau/policy_commands.h"

#include "common/files.h"
#include "common/policy/inheritance.h"
#include "common/policy/policy_parser.h"
#include "preau/v1/policy.grpc.pb.h"

namespace preau::cli {

namespace {

std::string Plural(uint64_t n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

// Prints the errors, one per line, and returns the failure that sets the exit code.
Status ReportErrors(const CliContext& ctx, const std::string& file,
                    const std::vector<policy::PolicyError>& errors) {
  for (const auto& e : errors) *ctx.err << Printable(e.ToString()) << "\n";
  ctx.err->flush();
  return InvalidArgument("policy check: " + Plural(errors.size(), "error") + " in " + file);
}

}  // namespace

Status PolicyCheck(const CliContext& ctx, const PolicyCheckOptions& o) {
  using policy::Completeness;
  if (o.fragment && !o.inherit.empty()) {
    return InvalidArgument("--fragment checks FILE alone; --inherit checks it with the levels "
                           "above: use one or the other");
  }
  std::vector<std::string> files = o.inherit;
  files.push_back(o.file);
  std::vector<policy::PolicyLevel> chain;
  std::vector<policy::PolicyError> errors;
  for (size_t i = 0; i < files.size(); ++i) {
    // A file alone must be complete; the levels of a chain are complete only together.
    bool alone = files.size() == 1 && !o.fragment;
    policy::ParseOptions opts;
    opts.completeness = alone ? Completeness::kEffective : Completeness::kFragment;
    opts.for_apply = true;  // every level checked is meant to be applied to a group
    policy::ParseResult r = policy::ParsePolicyFile(files[i], opts);
    if (!r.ok()) {
      errors.insert(errors.end(), r.errors.begin(), r.errors.end());
      continue;
    }
    chain.push_back({"level " + std::to_string(i + 1), files[i], r.policy->spec, r.policy->lines});
  }
  if (errors.empty() && files.size() > 1) {
    policy::ResolvedPolicy resolved = policy::ResolvePolicy(chain, Completeness::kEffective);
    errors = resolved.errors;
  }
  if (!errors.empty()) {
    Status st = ReportErrors(ctx, o.file, errors);
    if (files.size() == 1 && !o.fragment) {
      return InvalidArgument(st.message() + " (checked as a whole policy; for one level of a "
                             "chain add --fragment, or --inherit the levels above)");
    }
    return st;
  }
  std::string name = chain.back().spec.name();
  if (ctx.format == OutputFormat::kTable) {
    Print(ctx, o.file + ": ok" + (name.empty() ? "" : " (policy '" + name + "')") +
                   (files.size() > 1 ? ", combined with " + Plural(files.size() - 1, "level") +
                                           " above"
                                     : "") +
                   "\n");
    return Status::Ok();
  }
  Table t({{"file", "File"}, {"name", "Name"}, {"ok", "Ok"}, {"levels", "Levels"}});
  t.AddRow({Cell::Text(o.file), Cell::OptionalText(name), Cell::Bool(true),
            Cell::Uint(files.size())});
  Print(ctx, ctx.format == OutputFormat::kJson ? t.RowObject(0).Dump() + "\n"
                                               : t.Render(ctx.format));
  return Status::Ok();
}

Status PolicyApply(const CliContext& ctx, const PolicyApplyOptions& o) {
  if (o.rollout < 1 || o.rollout > 100) {
    return InvalidArgument("--rollout must be a percentage from 1 to 100");
  }
  PREAU_ASSIGN_OR_RETURN(std::string source, ReadFile(o.file));
  PREAU_ASSIGN_OR_RETURN(auto client, AdminClient::Connect(ctx.connection));
  v1::PolicyService::Stub stub(client->channel());
  v1::ApplyPolicyRequest req;
  req.set_group(o.group);
  req.set_source(source);
  req.set_file(o.file);
  req.set_rollout_percent(o.rollout);
  v1::ApplyPolicyResponse resp;
  PREAU_RETURN_IF_ERROR(client->Call([&](grpc::ClientContext* c) {
    return stub.Apply(c, req, &resp);
  }).Context("applying " + o.file + " to " + o.group));
  if (ctx.format == OutputFormat::kTable) {
    std::string what = resp.promoted() ? "Widened" : "Applied";
    Print(ctx, what + " policy '" + resp.name() + "' v" + std::to_string(resp.version()) +
                   " on " + resp.group() + " (revision " + std::to_string(resp.revision()) +
                   "): " + std::to_string(resp.targeted()) + " of " +
                   Plural(resp.group_devices(), "device") + " (rollout " +
                   std::to_string(resp.rollout_percent()) + " %); " +
                   std::to_string(resp.sent()) + " sent now, " + std::to_string(resp.queued()) +
                   " on their next connection\n");
    return Status::Ok();
  }
  Table t({{"group", "Group"},
           {"name", "Name"},
           {"version", "Version"},
           {"revision", "Revision"},
           {"promoted", "Widened"},
           {"rollout_percent", "Rollout"},
           {"group_devices", "Devices"},
           {"targeted", "Targeted"},
           {"sent", "Sent"},
           {"queued", "Queued"}});
  t.AddRow({Cell::Text(resp.group()), Cell::Text(resp.name()), Cell::Uint(resp.version()),
            Cell::Uint(resp.revision()), Cell::Bool(resp.promoted()),
            Cell::Uint(resp.rollout_percent()), Cell::Uint(resp.group_devices()),
            Cell::Uint(resp.targeted()), Cell::Uint(resp.sent()), Cell::Uint(resp.queued())});
  Print(ctx, ctx.format == OutputFormat::kJson ? t.RowObject(0).Dump() + "\n"
                                               : t.Render(ctx.format));
  return Status::Ok();
}

Status PolicyStatus(const CliContext& ctx, const PolicyStatusOptions& o) {
  PREAU_ASSIGN_OR_RETURN(auto client, AdminClient::Connect(ctx.connection));
  v1::PolicyService::Stub stub(client->channel());
  v1::PolicyStatusRequest req;
  req.set_name(o.name);
  req.set_group(o.group);
  v1::PolicyStatusResponse resp;
  PREAU_RETURN_IF_ERROR(client->Call([&](grpc::ClientContext* c) {
    return stub.GetStatus(c, req, &resp);
  }).Context("reading policy status"));
  if (resp.versions().empty() && !o.name.empty()) {
    return NotFound("no policy named '" + o.name + "' has been applied" +
                    (o.group.empty() ? "" : " within " + o.group));
  }
  Table t({{"group", "Group"},
           {"name", "Name"},
           {"version", "Version"},
           {"revision", "Revision", Shown::kDataOnly},
           {"rollout_percent", "Rollout"},
           {"applied_at", "Applied at"},
           {"applied_by", "By", Shown::kDataOnly},
           {"targeted", "Targeted"},
           {"applied", "Applied"},
           {"failed", "Failed"},
           {"not_supported", "Not supported"},
           {"pending", "Pending"},
           {"failures", "Failures", Shown::kDataOnly},
           {"unsupported", "Unsupported rules", Shown::kDataOnly}});
  std::string failure_lines, unsupported_lines;
  for (const auto& v : resp.versions()) {
    Json failures = Json::Array();
    std::vector<std::string> texts;
    for (const auto& f : v.failures()) {
      std::string text = f.device_id() + " (" + f.device_name() + "): " + f.reason();
      failures.Add(Json::String(text));
      failure_lines += "  " + Printable(v.name() + " v" + std::to_string(v.version()) + " on " +
                                        v.group() + ": " + text) +
                       "\n";
    }
    Json unsupported = Json::Array();
    for (const auto& f : v.unsupported()) {
      std::string text = f.device_id() + " (" + f.device_name() + "): " + f.reason();
      unsupported.Add(Json::String(text));
      unsupported_lines += "  " + Printable(v.name() + " v" + std::to_string(v.version()) +
                                            " on " + v.group() + ": " + text) +
                           "\n";
    }
    t.AddRow({Cell::Text(v.group()), Cell::Text(v.name()), Cell::Uint(v.version()),
              Cell::Uint(v.revision()),
              Cell::Custom(std::to_string(v.rollout_percent()) + "%",
                           Json::Uint(v.rollout_percent())),
              Cell::Time(v.applied_unix_ms()), Cell::Text(v.applied_by()),
              Cell::Uint(v.targeted()), Cell::Uint(v.applied()), Cell::Uint(v.failed()),
              Cell::Uint(v.not_supported()), Cell::Uint(v.pending()),
              Cell::Custom("", std::move(failures)), Cell::Custom("", std::move(unsupported))});
  }
  std::string out = t.Render(ctx.format);
  if (ctx.format == OutputFormat::kTable && !failure_lines.empty()) {
    out += "\nFailed:\n" + failure_lines;
  }
  if (ctx.format == OutputFormat::kTable && !unsupported_lines.empty()) {
    out += "\nNot supported on the device:\n" + unsupported_lines;
  }
  Print(ctx, out);
  return Status::Ok();
}

}  // namespace preau::cli

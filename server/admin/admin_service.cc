#include "server/admin/admin_service.h"

#include "common/grpc_status.h"
#include "common/pki.h"
#include "server/admin/authz.h"
#include "server/admin/hours.h"
#include "server/admin/paging.h"
#include "server/fleet/device_service.h"
#include "server/fleet/enrollment_token.h"
#include "server/pki/peer.h"

namespace preau::server {

namespace {
constexpr int64_t kDefaultTokenTtlS = 24 * 3600;
constexpr uint32_t kMaxTokenUses = 10000;
constexpr int kOperatorCertDays = 365;

v1::Operator OperatorToProto(const OperatorRecord& op) {
  v1::Operator o;
  o.set_name(op.name);
  o.set_role(op.role);
  for (const auto& s : op.scopes) o.add_scopes(s);
  o.set_created_unix_ms(op.created_ms);
  o.set_hours(op.hours);
  if (!op.hours.empty()) o.set_time_zone(kOperatorHoursZone);
  o.set_created_by(op.created_by);
  o.set_revoked_unix_ms(op.revoked_ms);
  o.set_certificate_expires_unix_ms(op.cert_expires_ms);
  if (const RoleSpec* spec = FindRole(op.role)) {
    for (auto p : spec->permissions) o.add_permissions(PermissionName(p));
  }
  return o;
}

struct IssuedOperatorCert {
  pki::IssuedCertificate cert;
  int64_t expires_ms = 0;
};

Result<IssuedOperatorCert> IssueOperatorCert(ServerCore& core, const std::string& name,
                                             const std::string& csr_pem) {
  auto csr = pki::VerifyCsr(csr_pem);
  if (!csr.ok()) return InvalidArgument("CSR refused: " + csr.status().message());
  pki::IssueRequest issue;
  issue.public_key_pem = csr->public_key_pem;
  issue.common_name = name;
  issue.organizational_unit = "operator";
  issue.valid_days = kOperatorCertDays;
  IssuedOperatorCert out;
  PREAU_ASSIGN_OR_RETURN(out.cert, pki::IssueCertificate(core.keys.ca_cert_pem,
                                                         core.keys.ca_key_pem, issue));
  PREAU_ASSIGN_OR_RETURN(auto info, pki::ParseCertificate(out.cert.certificate_pem));
  out.expires_ms = info.not_after_unix * 1000;
  return out;
}

// A well-formed group path within the caller's scopes.
Status GroupInScope(const OperatorRecord& op, const std::string& path) {
  PREAU_RETURN_IF_ERROR(ValidateGroupPath(path));
  return RequireScope(op, path);
}

// An operators' call about one device: `fn` runs once the caller may act on the device
// (outside its scope, the answer is the one for an unknown device).
grpc::ServerUnaryReactor* RunDeviceCall(
    ServerCore& core, grpc::CallbackServerContext* ctx, std::string_view rpc,
    const std::string& id, const std::string& target,
    const std::function<Status(const OperatorRecord&, DeviceRecord&)>& fn) {
  return RunAdminCall(core, ctx, rpc, target, [&](const OperatorRecord& op) -> Status {
    PREAU_ASSIGN_OR_RETURN(auto d, DeviceInScope(*core.store, op, id));
    return fn(op, d);
  });
}

// The same for a call about another operator, found by name.
grpc::ServerUnaryReactor* RunOperatorCall(
    ServerCore& core, grpc::CallbackServerContext* ctx, std::string_view rpc,
    const std::string& name,
    const std::function<Status(const OperatorRecord&, OperatorRecord&)>& fn) {
  return RunAdminCall(core, ctx, rpc, name, [&](const OperatorRecord& op) -> Status {
    PREAU_ASSIGN_OR_RETURN(auto other, OperatorInScope(*core.store, op, name));
    return fn(op, other);
  });
}

// A call that reaches the device's agent needs it enrolled and connected.
Status RequireConnected(ServerCore& core, const DeviceRecord& d, const std::string& offline) {
  if (d.retired_ms != 0) return FailedPrecondition("device " + d.id + " is retired");
  if (!core.connections.Online(d.id)) return FailedPrecondition("device " + d.id + offline);
  return Status::Ok();
}

// What a reconnecting device gets, sent again: its policy, filter and catalogue (after a
// move, they depend on its new group).
void Resync(ServerCore& core, const std::string& device_id) {
  v1::Hello resync;
  for (auto* f : core.features) f->OnHello(device_id, resync);
}

Status ValidateOperatorName(const std::string& name) {
  if (name.empty() || name.size() > 64) return InvalidArgument("operator name must be 1 to 64 characters");
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '@';
    if (!ok) return InvalidArgument("operator name '" + name + "': use letters, digits, '-', '_', '.', '@'");
  }
  return Status::Ok();
}
}  // namespace

v1::Device DeviceToProto(const DeviceRecord& d, bool online) {
  v1::Device out;
  out.set_id(d.id);
  out.set_name(d.name);
  out.set_group(d.group);
  out.set_online(online);
  out.set_last_seen_unix_ms(d.last_seen_ms);
  out.set_enrolled_unix_ms(d.enrolled_ms);
  out.set_retired(d.retired_ms != 0);
  out.mutable_inventory()->ParseFromString(d.inventory);
  out.set_policy_version(d.policy_version);
  out.set_policy_state(d.policy_state);
  out.set_certificate_serial(d.cert_serial);
  out.set_lock_state(d.lock_state);
  out.set_focus_state(d.focus_state);
  out.set_dismissed_message(d.dismissed_message);
  out.set_dismissed_unix_ms(d.dismissed_ms);
  return out;
}

grpc::ServerUnaryReactor* AdminServiceImpl::WhoAmI(grpc::CallbackServerContext* ctx,
                                                   const v1::WhoAmIRequest*, v1::Operator* out) {
  return RunAdminCall(core_, ctx, "AdminService.WhoAmI", "", [&](const OperatorRecord& op) {
    *out = OperatorToProto(op);
    // The certificate this call came with is the one whose end matters to the caller.
    if (auto cert = PeerCertificate(*ctx); cert.ok()) {
      out->set_certificate_expires_unix_ms(cert->not_after_unix * 1000);
    }
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::CreateGroup(grpc::CallbackServerContext* ctx,
                                                        const v1::CreateGroupRequest* req,
                                                        v1::Group* out) {
  return RunAdminCall(core_, ctx, "AdminService.CreateGroup", req->path(), [&](const OperatorRecord& op) {
    PREAU_RETURN_IF_ERROR(GroupInScope(op, req->path()));
    PREAU_RETURN_IF_ERROR(core_.store->CreateGroup(req->path(), core_.Now()));
    out->set_path(req->path());
    out->set_created_unix_ms(core_.Now());
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::RenameGroup(grpc::CallbackServerContext* ctx,
                                                        const v1::RenameGroupRequest* req,
                                                        v1::Group* out) {
  return RunAdminCall(core_, ctx, "AdminService.RenameGroup", req->path() + " -> " + req->new_path(),
                      [&](const OperatorRecord& op) {
    PREAU_RETURN_IF_ERROR(GroupInScope(op, req->path()));
    PREAU_RETURN_IF_ERROR(GroupInScope(op, req->new_path()));
    PREAU_RETURN_IF_ERROR(core_.store->RenameGroup(req->path(), req->new_path(), core_.Now()));
    out->set_path(req->new_path());
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::DeleteGroup(grpc::CallbackServerContext* ctx,
                                                        const v1::DeleteGroupRequest* req,
                                                        v1::DeleteGroupResponse*) {
  return RunAdminCall(core_, ctx, "AdminService.DeleteGroup", req->path(), [&](const OperatorRecord& op) {
    PREAU_RETURN_IF_ERROR(GroupInScope(op, req->path()));
    return core_.store->DeleteGroup(req->path());
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListGroups(grpc::CallbackServerContext* ctx,
                                                       const v1::ListGroupsRequest* req,
                                                       v1::ListGroupsResponse* out) {
  return RunAdminCall(core_, ctx, "AdminService.ListGroups", "", [&](const OperatorRecord& op) {
    using Row = std::pair<std::string, uint32_t>;
    PREAU_ASSIGN_OR_RETURN(auto page, OpenPage("groups", "", req->page_size(), req->page_token()));
    PREAU_ASSIGN_OR_RETURN(std::string last, FillPage(
        page, [&](const std::string& after, size_t n) { return core_.store->ListGroups(after, n); },
        [](const Row& row) { return row.first; },
        [&](const Row& row) -> std::optional<v1::Group> {
          if (!InScope(op, row.first)) return std::nullopt;
          v1::Group g;
          g.set_path(row.first);
          g.set_device_count(row.second);
          return g;
        },
        out->mutable_groups()));
    if (!last.empty()) out->set_next_page_token(PageToken("groups", "", last));
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::CreateToken(grpc::CallbackServerContext* ctx,
                                                        const v1::CreateTokenRequest* req,
                                                        v1::CreateTokenResponse* out) {
  return RunAdminCall(core_, ctx, "AdminService.CreateToken", req->group(), [&](const OperatorRecord& op) {
    PREAU_RETURN_IF_ERROR(RequireScope(op, req->group()));
    if (!core_.store->GroupExists(req->group())) {
      return NotFound("unknown group '" + req->group() + "' (create it with `preau groups create`)");
    }
    uint32_t uses = req->uses() == 0 ? 1 : req->uses();
    if (uses > kMaxTokenUses) return InvalidArgument("--uses is limited to 10000 per token");
    int64_t ttl = req->ttl_seconds() == 0 ? kDefaultTokenTtlS : req->ttl_seconds();
    if (ttl < 0) return InvalidArgument("token lifetime must be positive");
    TokenSpec t;
    std::string token = NewEnrollmentToken();
    t.token_hash = HashEnrollmentToken(token);
    t.group = req->group();
    t.uses = uses;
    t.expires_ms = core_.Now() + ttl * 1000;
    t.created_by = op.name;
    PREAU_RETURN_IF_ERROR(core_.store->CreateToken(t, core_.Now()));
    out->set_token(token);
    out->set_expires_unix_ms(t.expires_ms);
    out->set_uses(uses);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListDevices(grpc::CallbackServerContext* ctx,
                                                        const v1::ListDevicesRequest* req,
                                                        v1::ListDevicesResponse* out) {
  return RunAdminCall(core_, ctx, "AdminService.ListDevices", req->group(), [&](const OperatorRecord& op) {
    if (!req->group().empty()) {
      PREAU_RETURN_IF_ERROR(GroupInScope(op, req->group()));
    }
    // A token resumes only the listing it was made for: same group and flags.
    std::string filter = req->group() + "\n" + (req->online_only() ? "online" : "") + "\n" +
                         (req->include_retired() ? "retired" : "");
    PREAU_ASSIGN_OR_RETURN(auto page,
                           OpenPage("devices", filter, req->page_size(), req->page_token()));
    PREAU_ASSIGN_OR_RETURN(std::string last, FillPage(
        page,
        [&](const std::string& after, size_t n) {
          return core_.store->ListDevices(req->group(), req->include_retired(), after, n);
        },
        [](const DeviceRecord& d) { return d.id; },
        [&](const DeviceRecord& d) -> std::optional<v1::Device> {
          if (!InScope(op, d.group)) return std::nullopt;
          bool online = core_.connections.Online(d.id);
          if (req->online_only() && !online) return std::nullopt;
          return DeviceToProto(d, online);
        },
        out->mutable_devices()));
    if (!last.empty()) out->set_next_page_token(PageToken("devices", filter, last));
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetDevice(grpc::CallbackServerContext* ctx,
                                                      const v1::GetDeviceRequest* req,
                                                      v1::Device* out) {
  return RunDeviceCall(core_, ctx, "AdminService.GetDevice", req->id(), req->id(),
                       [&](const OperatorRecord&, DeviceRecord& d) {
    *out = DeviceToProto(d, core_.connections.Online(d.id));
    out->set_foreground_app(core_.connections.ForegroundApp(d.id));
    PREAU_ASSIGN_OR_RETURN(auto clones, core_.store->CountAudit(kCloneAuditAction, d.id));
    out->set_clone_refusals(static_cast<uint32_t>(clones.count));
    out->set_last_clone_unix_ms(clones.last_ms);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::MoveDevice(grpc::CallbackServerContext* ctx,
                                                       const v1::MoveDeviceRequest* req,
                                                       v1::Device* out) {
  return RunDeviceCall(core_, ctx, "AdminService.MoveDevice", req->id(),
                       req->id() + " -> " + req->group(),
                       [&](const OperatorRecord& op, DeviceRecord& d) {
    PREAU_RETURN_IF_ERROR(RequireScope(op, req->group()));
    if (!core_.store->GroupExists(req->group())) return NotFound("unknown group '" + req->group() + "'");
    PREAU_RETURN_IF_ERROR(core_.store->MoveDevice(req->id(), req->group()));
    core_.device_events.Notify(d.id);  // open consoles: off the old class's grid, onto the new
    PREAU_ASSIGN_OR_RETURN(d, core_.store->GetDevice(req->id()));
    bool online = core_.connections.Online(d.id);
    *out = DeviceToProto(d, online);
    if (online) Resync(core_, d.id);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::RetireDevice(grpc::CallbackServerContext* ctx,
                                                         const v1::RetireDeviceRequest* req,
                                                         v1::Device* out) {
  return RunDeviceCall(core_, ctx, "AdminService.RetireDevice", req->id(), req->id(),
                       [&](const OperatorRecord&, DeviceRecord& d) {
    PREAU_RETURN_IF_ERROR(core_.store->RetireDevice(req->id(), core_.Now()));
    core_.device_events.Notify(d.id);  // open consoles: off its class's grid, online or not
    // The store refuses its certificate from now on; close the stream it has open.
    core_.connections.Close(d.id, grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                               "device " + d.id + " was retired"));
    PREAU_ASSIGN_OR_RETURN(d, core_.store->GetDevice(req->id()));
    *out = DeviceToProto(d, false);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ResendPolicy(grpc::CallbackServerContext* ctx,
                                                         const v1::ResendPolicyRequest* req,
                                                         v1::Device* out) {
  return RunDeviceCall(core_, ctx, "AdminService.ResendPolicy", req->id(), req->id(),
                       [&](const OperatorRecord&, DeviceRecord& d) {
    PREAU_RETURN_IF_ERROR(RequireConnected(
        core_, d, " is offline: it gets its policy when it reconnects"));
    Resync(core_, d.id);
    *out = DeviceToProto(d, true);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::RestartAgent(grpc::CallbackServerContext* ctx,
                                                         const v1::RestartAgentRequest* req,
                                                         v1::Device* out) {
  return RunDeviceCall(core_, ctx, "AdminService.RestartAgent", req->id(), req->id(),
                       [&](const OperatorRecord& op, DeviceRecord& d) {
    PREAU_RETURN_IF_ERROR(RequireConnected(core_, d, " is offline"));
    // UNAVAILABLE: the agent treats it as a dropped connection and starts over.
    core_.connections.Close(d.id, grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                               "restart asked by operator " + op.name));
    *out = DeviceToProto(d, false);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::CreateOperator(grpc::CallbackServerContext* ctx,
                                                           const v1::CreateOperatorRequest* req,
                                                           v1::CreateOperatorResponse* out) {
  std::string target = req->name() + " (" + RoleName(req->role()) + ")";
  return RunAdminCall(core_, ctx, "AdminService.CreateOperator", target, [&](const OperatorRecord& op) {
    PREAU_RETURN_IF_ERROR(ValidateOperatorName(req->name()));
    const RoleSpec* spec = FindRole(req->role());
    if (!spec) return InvalidArgument("a role is required: one of " + RoleNames());
    if (spec->needs_scope && req->scopes().empty()) {
      return InvalidArgument("a " + RoleName(req->role()) +
                             " needs at least one --scope (the groups they work on)");
    }
    if (spec->needs_hours && req->hours().empty()) {
      return InvalidArgument("a " + RoleName(req->role()) +
                             " needs --hours (e.g. 'mon,tue,thu,fri 16:30-18:00')");
    }
    if (!spec->needs_hours && !req->hours().empty()) {
      return InvalidArgument("--hours applies to the periscolaire role only");
    }
    std::string hours;
    if (spec->needs_hours) {
      PREAU_ASSIGN_OR_RETURN(auto windows, ParseHours(req->hours()));
      hours = FormatHours(windows);
    }
    std::vector<std::string> scopes(req->scopes().begin(), req->scopes().end());
    for (const auto& s : scopes) {
      PREAU_RETURN_IF_ERROR(GroupInScope(op, s));
    }
    // Separation of duties: nobody makes someone with more reach than themselves.
    PREAU_RETURN_IF_ERROR(RequireNoWiderThan(op, req->role(), scopes));
    for (const auto& s : scopes) {
      if (!core_.store->GroupExists(s)) return NotFound("unknown group '" + s + "' in --scope");
    }
    PREAU_ASSIGN_OR_RETURN(auto issued, IssueOperatorCert(core_, req->name(), req->csr_pem()));
    OperatorRecord rec;
    rec.name = req->name();
    rec.role = req->role();
    rec.scopes = scopes;
    rec.cert_serial = issued.cert.serial_hex;
    rec.created_ms = core_.Now();
    rec.hours = hours;
    rec.created_by = op.name;
    rec.cert_expires_ms = issued.expires_ms;
    PREAU_RETURN_IF_ERROR(core_.store->CreateOperator(rec));
    *out->mutable_operator_() = OperatorToProto(rec);
    out->set_certificate_pem(issued.cert.certificate_pem);
    out->set_ca_pem(core_.keys.ca_cert_pem);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListOperators(grpc::CallbackServerContext* ctx,
                                                          const v1::ListOperatorsRequest* req,
                                                          v1::ListOperatorsResponse* out) {
  return RunAdminCall(core_, ctx, "AdminService.ListOperators", "", [&](const OperatorRecord& op) {
    PREAU_ASSIGN_OR_RETURN(auto page,
                           OpenPage("operators", "", req->page_size(), req->page_token()));
    PREAU_ASSIGN_OR_RETURN(std::string last, FillPage(
        page,
        [&](const std::string& after, size_t n) { return core_.store->ListOperators(after, n); },
        [](const OperatorRecord& o) { return o.name; },
        [&](const OperatorRecord& o) -> std::optional<v1::Operator> {
          if (!Covers(op, o)) return std::nullopt;
          return OperatorToProto(o);
        },
        out->mutable_operators()));
    if (!last.empty()) out->set_next_page_token(PageToken("operators", "", last));
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetOperator(grpc::CallbackServerContext* ctx,
                                                        const v1::GetOperatorRequest* req,
                                                        v1::Operator* out) {
  return RunOperatorCall(core_, ctx, "AdminService.GetOperator", req->name(),
                         [&](const OperatorRecord&, OperatorRecord& other) {
    *out = OperatorToProto(other);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::RevokeOperator(grpc::CallbackServerContext* ctx,
                                                           const v1::RevokeOperatorRequest* req,
                                                           v1::Operator* out) {
  return RunOperatorCall(core_, ctx, "AdminService.RevokeOperator", req->name(),
                         [&](const OperatorRecord& op, OperatorRecord& other) {
    PREAU_RETURN_IF_ERROR(core_.store->RevokeOperator(other.name, core_.Now()));
    // Every call it has open ends now; its next one is refused by authentication.
    core_.operator_calls.AbortAll(
        other.name, PermissionDenied("the credentials of operator '" + other.name +
                                     "' were revoked by " + op.name));
    PREAU_ASSIGN_OR_RETURN(other, core_.store->GetOperator(other.name));
    *out = OperatorToProto(other);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::RenewOperator(grpc::CallbackServerContext* ctx,
                                                          const v1::RenewOperatorRequest* req,
                                                          v1::CreateOperatorResponse* out) {
  return RunAdminCall(core_, ctx, "AdminService.RenewOperator", req->name(), [&](const OperatorRecord& op) {
    OperatorRecord other = op;
    if (req->name() != op.name) {
      PREAU_RETURN_IF_ERROR(RequirePermission(op, Permission::kManageOperators,
                                              "renew another operator's credentials"));
      PREAU_ASSIGN_OR_RETURN(other, OperatorInScope(*core_.store, op, req->name()));
    }
    if (other.revoked_ms != 0) {
      return FailedPrecondition("operator '" + other.name + "' is revoked: create a new one");
    }
    PREAU_ASSIGN_OR_RETURN(auto issued, IssueOperatorCert(core_, other.name, req->csr_pem()));
    PREAU_RETURN_IF_ERROR(core_.store->RenewOperator(other.name, issued.cert.serial_hex,
                                                     issued.expires_ms));
    // Calls still open under the old certificate end with it.
    core_.operator_calls.AbortAll(
        other.name, PermissionDenied("the certificate of operator '" + other.name +
                                     "' was replaced by a renewed one"));
    PREAU_ASSIGN_OR_RETURN(other, core_.store->GetOperator(other.name));
    *out->mutable_operator_() = OperatorToProto(other);
    out->set_certificate_pem(issued.cert.certificate_pem);
    out->set_ca_pem(core_.keys.ca_cert_pem);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListAudit(grpc::CallbackServerContext* ctx,
                                                      const v1::ListAuditRequest* req,
                                                      v1::ListAuditResponse* out) {
  return RunAdminCall(core_, ctx, "AdminService.ListAudit", "", [&](const OperatorRecord& op) {
    // Keyed on the sequence number alone: `--since 7d` moves with the clock, and a
    // resumed listing goes on after the last row it printed whatever its start.
    PREAU_ASSIGN_OR_RETURN(auto page, OpenPage("audit", "", req->page_size(), req->page_token()));
    int64_t after_seq = 0;
    if (!page.after.empty()) {
      char* end = nullptr;
      after_seq = std::strtoll(page.after.c_str(), &end, 10);
      if (*end != '\0') return InvalidArgument("page token names no audit entry");
    }
    PREAU_ASSIGN_OR_RETURN(std::string last, FillPage(
        page,
        [&](const std::string& after, size_t n) {
          return core_.store->ListAudit(req->since_unix_ms(), static_cast<uint32_t>(n),
                                        after.empty() ? 0 : std::stoll(after));
        },
        [](const v1::AuditEntry& e) { return std::to_string(e.seq()); },
        [&](v1::AuditEntry& e) -> std::optional<v1::AuditEntry> {
          // The audit of the caller's scope: rows about its groups (the whole log for the
          // whole authority).
          if (!InScope(op, e.group()) || (!InScope(op, "") && e.group().empty())) {
            return std::nullopt;
          }
          return std::move(e);
        },
        out->mutable_entries()));
    if (!last.empty()) out->set_next_page_token(PageToken("audit", "", last));
    return Status::Ok();
  });
}

}  // namespace preau::server

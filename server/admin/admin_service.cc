#include "server/admin/admin_service.h"

#include "common/grpc_status.h"
#include "common/pki.h"
#include "server/admin/authz.h"
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
  return o;
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
  return out;
}

grpc::ServerUnaryReactor* RunAdminCall(
    ServerCore& core, grpc::CallbackServerContext* ctx, const std::string& action,
    const std::string& target, const std::function<Status(const OperatorRecord&)>& fn) {
  auto op = AuthenticateOperator(*ctx, *core.store);
  Status st = op.ok() ? fn(*op) : op.status();
  if (!action.empty()) core.Audit(op.ok() ? op->name : "peer " + ctx->peer(), action, target, st);
  auto* r = ctx->DefaultReactor();
  r->Finish(ToGrpc(st));
  return r;
}

grpc::ServerUnaryReactor* AdminServiceImpl::WhoAmI(grpc::CallbackServerContext* ctx,
                                                   const v1::WhoAmIRequest*, v1::Operator* out) {
  return RunAdminCall(core_, ctx, "", "", [&](const OperatorRecord& op) {
    *out = OperatorToProto(op);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::CreateGroup(grpc::CallbackServerContext* ctx,
                                                        const v1::CreateGroupRequest* req,
                                                        v1::Group* out) {
  return RunAdminCall(core_, ctx, "group.create", req->path(), [&](const OperatorRecord& op) {
    PREAU_RETURN_IF_ERROR(RequireRole(op, {v1::ROLE_ADMIN}, "create groups"));
    PREAU_RETURN_IF_ERROR(ValidateGroupPath(req->path()));
    PREAU_RETURN_IF_ERROR(RequireScope(op, req->path()));
    PREAU_RETURN_IF_ERROR(core_.store->CreateGroup(req->path(), core_.Now()));
    out->set_path(req->path());
    out->set_created_unix_ms(core_.Now());
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::RenameGroup(grpc::CallbackServerContext* ctx,
                                                        const v1::RenameGroupRequest* req,
                                                        v1::Group* out) {
  return RunAdminCall(core_, ctx, "group.rename", req->path() + " -> " + req->new_path(),
                      [&](const OperatorRecord& op) {
    PREAU_RETURN_IF_ERROR(RequireRole(op, {v1::ROLE_ADMIN}, "rename groups"));
    PREAU_RETURN_IF_ERROR(ValidateGroupPath(req->path()));
    PREAU_RETURN_IF_ERROR(ValidateGroupPath(req->new_path()));
    PREAU_RETURN_IF_ERROR(RequireScope(op, req->path()));
    PREAU_RETURN_IF_ERROR(RequireScope(op, req->new_path()));
    PREAU_RETURN_IF_ERROR(core_.store->RenameGroup(req->path(), req->new_path(), core_.Now()));
    out->set_path(req->new_path());
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::DeleteGroup(grpc::CallbackServerContext* ctx,
                                                        const v1::DeleteGroupRequest* req,
                                                        v1::DeleteGroupResponse*) {
  return RunAdminCall(core_, ctx, "group.delete", req->path(), [&](const OperatorRecord& op) {
    PREAU_RETURN_IF_ERROR(RequireRole(op, {v1::ROLE_ADMIN}, "delete groups"));
    PREAU_RETURN_IF_ERROR(ValidateGroupPath(req->path()));
    PREAU_RETURN_IF_ERROR(RequireScope(op, req->path()));
    return core_.store->DeleteGroup(req->path());
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListGroups(grpc::CallbackServerContext* ctx,
                                                       const v1::ListGroupsRequest*,
                                                       v1::ListGroupsResponse* out) {
  return RunAdminCall(core_, ctx, "", "", [&](const OperatorRecord& op) {
    PREAU_ASSIGN_OR_RETURN(auto groups, core_.store->ListGroups());
    for (const auto& [path, count] : groups) {
      if (!RequireScope(op, path).ok()) continue;
      auto* g = out->add_groups();
      g->set_path(path);
      g->set_device_count(count);
    }
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::CreateToken(grpc::CallbackServerContext* ctx,
                                                        const v1::CreateTokenRequest* req,
                                                        v1::CreateTokenResponse* out) {
  return RunAdminCall(core_, ctx, "token.create", req->group(), [&](const OperatorRecord& op) {
    PREAU_RETURN_IF_ERROR(RequireRole(op, {v1::ROLE_ADMIN}, "create enrollment tokens"));
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
  return RunAdminCall(core_, ctx, "", "", [&](const OperatorRecord& op) {
    PREAU_RETURN_IF_ERROR(RequireRole(op, {v1::ROLE_ADMIN, v1::ROLE_TEACHER}, "list devices"));
    if (!req->group().empty()) {
      PREAU_RETURN_IF_ERROR(ValidateGroupPath(req->group()));
      PREAU_RETURN_IF_ERROR(RequireScope(op, req->group()));
    }
    PREAU_ASSIGN_OR_RETURN(auto devices,
                           core_.store->ListDevices(req->group(), req->include_retired()));
    for (const auto& d : devices) {
      if (!RequireScope(op, d.group).ok()) continue;
      bool online = core_.connections.Online(d.id);
      if (req->online_only() && !online) continue;
      *out->add_devices() = DeviceToProto(d, online);
    }
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetDevice(grpc::CallbackServerContext* ctx,
                                                      const v1::GetDeviceRequest* req,
                                                      v1::Device* out) {
  return RunAdminCall(core_, ctx, "", "", [&](const OperatorRecord& op) {
    PREAU_RETURN_IF_ERROR(RequireRole(op, {v1::ROLE_ADMIN, v1::ROLE_TEACHER}, "see devices"));
    PREAU_ASSIGN_OR_RETURN(auto d, core_.store->GetDevice(req->id()));
    PREAU_RETURN_IF_ERROR(RequireScope(op, d.group));
    *out = DeviceToProto(d, core_.connections.Online(d.id));
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::MoveDevice(grpc::CallbackServerContext* ctx,
                                                       const v1::MoveDeviceRequest* req,
                                                       v1::Device* out) {
  return RunAdminCall(core_, ctx, "device.move", req->id() + " -> " + req->group(),
                      [&](const OperatorRecord& op) {
    PREAU_RETURN_IF_ERROR(RequireRole(op, {v1::ROLE_ADMIN}, "move devices"));
    PREAU_ASSIGN_OR_RETURN(auto d, core_.store->GetDevice(req->id()));
    PREAU_RETURN_IF_ERROR(RequireScope(op, d.group));
    PREAU_RETURN_IF_ERROR(RequireScope(op, req->group()));
    if (!core_.store->GroupExists(req->group())) return NotFound("unknown group '" + req->group() + "'");
    PREAU_RETURN_IF_ERROR(core_.store->MoveDevice(req->id(), req->group()));
    PREAU_ASSIGN_OR_RETURN(d, core_.store->GetDevice(req->id()));
    bool online = core_.connections.Online(d.id);
    *out = DeviceToProto(d, online);
    // The device's policy and filter depend on its group: let the features resend.
    if (online) {
      v1::Hello resync;
      for (auto* f : core_.features) f->OnHello(d.id, resync);
    }
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::RetireDevice(grpc::CallbackServerContext* ctx,
                                                         const v1::RetireDeviceRequest* req,
                                                         v1::Device* out) {
  return RunAdminCall(core_, ctx, "device.retire", req->id(), [&](const OperatorRecord& op) {
    PREAU_RETURN_IF_ERROR(RequireRole(op, {v1::ROLE_ADMIN}, "retire devices"));
    PREAU_ASSIGN_OR_RETURN(auto d, core_.store->GetDevice(req->id()));
    PREAU_RETURN_IF_ERROR(RequireScope(op, d.group));
    PREAU_RETURN_IF_ERROR(core_.store->RetireDevice(req->id(), core_.Now()));
    // The store refuses its certificate from now on; close the stream it has open.
    core_.connections.Close(d.id, grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                               "device " + d.id + " was retired"));
    PREAU_ASSIGN_OR_RETURN(d, core_.store->GetDevice(req->id()));
    *out = DeviceToProto(d, false);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::CreateOperator(grpc::CallbackServerContext* ctx,
                                                           const v1::CreateOperatorRequest* req,
                                                           v1::CreateOperatorResponse* out) {
  return RunAdminCall(core_, ctx, "operator.create", req->name(), [&](const OperatorRecord& op) {
    PREAU_RETURN_IF_ERROR(RequireRole(op, {v1::ROLE_ADMIN}, "create operators"));
    PREAU_RETURN_IF_ERROR(ValidateOperatorName(req->name()));
    if (req->role() == v1::ROLE_UNSPECIFIED) return InvalidArgument("a role is required");
    if (req->role() == v1::ROLE_TEACHER && req->scopes().empty()) {
      return InvalidArgument("a teacher needs at least one --scope (the classes they teach)");
    }
    // An operator cannot create someone with more reach than itself.
    if (req->scopes().empty()) PREAU_RETURN_IF_ERROR(RequireScope(op, ""));
    for (const auto& s : req->scopes()) {
      PREAU_RETURN_IF_ERROR(ValidateGroupPath(s));
      if (!core_.store->GroupExists(s)) return NotFound("unknown group '" + s + "' in --scope");
      PREAU_RETURN_IF_ERROR(RequireScope(op, s));
    }
    auto csr = pki::VerifyCsr(req->csr_pem());
    if (!csr.ok()) return InvalidArgument("CSR refused: " + csr.status().message());
    pki::IssueRequest issue;
    issue.public_key_pem = csr->public_key_pem;
    issue.common_name = req->name();
    issue.organizational_unit = "operator";
    issue.valid_days = kOperatorCertDays;
    PREAU_ASSIGN_OR_RETURN(auto cert, pki::IssueCertificate(core_.keys.ca_cert_pem,
                                                            core_.keys.ca_key_pem, issue));
    OperatorRecord rec;
    rec.name = req->name();
    rec.role = req->role();
    rec.scopes.assign(req->scopes().begin(), req->scopes().end());
    rec.cert_serial = cert.serial_hex;
    rec.created_ms = core_.Now();
    PREAU_RETURN_IF_ERROR(core_.store->CreateOperator(rec));
    *out->mutable_operator_() = OperatorToProto(rec);
    out->set_certificate_pem(cert.certificate_pem);
    out->set_ca_pem(core_.keys.ca_cert_pem);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListOperators(grpc::CallbackServerContext* ctx,
                                                          const v1::ListOperatorsRequest*,
                                                          v1::ListOperatorsResponse* out) {
  return RunAdminCall(core_, ctx, "", "", [&](const OperatorRecord& op) {
    PREAU_RETURN_IF_ERROR(RequireRole(op, {v1::ROLE_ADMIN}, "list operators"));
    PREAU_ASSIGN_OR_RETURN(auto ops, core_.store->ListOperators());
    for (const auto& o : ops) *out->add_operators() = OperatorToProto(o);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListAudit(grpc::CallbackServerContext* ctx,
                                                      const v1::ListAuditRequest* req,
                                                      v1::ListAuditResponse* out) {
  return RunAdminCall(core_, ctx, "", "", [&](const OperatorRecord& op) {
    PREAU_RETURN_IF_ERROR(RequireRole(op, {v1::ROLE_ADMIN}, "read the audit log"));
    PREAU_RETURN_IF_ERROR(RequireScope(op, ""));
    PREAU_ASSIGN_OR_RETURN(auto entries, core_.store->ListAudit(req->since_unix_ms(), req->limit()));
    for (auto& e : entries) *out->add_entries() = std::move(e);
    return Status::Ok();
  });
}

}  // namespace preau::server

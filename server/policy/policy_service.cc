#include "server/policy/policy_service.h"

#include "server/admin/admin_service.h"
#include "server/admin/authz.h"

namespace preau::server {

grpc::ServerUnaryReactor* PolicyServiceImpl::Apply(grpc::CallbackServerContext* ctx,
                                                   const v1::ApplyPolicyRequest* req,
                                                   v1::ApplyPolicyResponse* resp) {
  std::string target = req->group() + " (" + req->file() + ")";
  return RunAdminCall(core_, ctx, "PolicyService.Apply", target, [&](const OperatorRecord& op) {
    PREAU_RETURN_IF_ERROR(ValidateGroupPath(req->group()));
    PREAU_RETURN_IF_ERROR(RequireScope(op, req->group()));
    PREAU_ASSIGN_OR_RETURN(*resp, publisher_.Apply(op.name, *req));
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* PolicyServiceImpl::GetStatus(grpc::CallbackServerContext* ctx,
                                                       const v1::PolicyStatusRequest* req,
                                                       v1::PolicyStatusResponse* resp) {
  return RunAdminCall(core_, ctx, "PolicyService.GetStatus", req->group(), [&](const OperatorRecord& op) {
    if (!req->group().empty()) {
      PREAU_RETURN_IF_ERROR(ValidateGroupPath(req->group()));
      PREAU_RETURN_IF_ERROR(RequireScope(op, req->group()));
    }
    PREAU_ASSIGN_OR_RETURN(*resp, ledger_.Summarize(op, *req));
    return Status::Ok();
  });
}

Status RegisterPolicyDomain(DomainRegistry& registry) {
  auto* domain = registry.Keep(std::make_shared<PolicyDomain>(registry.core()));
  registry.AddService(domain->service());
  registry.AddFeature(domain);
  return Status::Ok();
}

}  // namespace preau::server

#include "server/admin/operator_call.h"

#include <cstdio>

#include "common/grpc_status.h"
#include "server/admin/authz.h"
#include "server/pki/peer.h"

namespace preau::server {

OperatorCall::OperatorCall(ServerCore& core, const grpc::ServerContextBase& ctx,
                           std::string_view rpc, std::string target)
    : OperatorCall(core, AuthenticateOperator(ctx, *core.store, core.Now()), "peer " + ctx.peer(),
                   rpc, std::move(target)) {}

OperatorCall::OperatorCall(ServerCore& core, Result<OperatorRecord> op, const std::string& peer,
                           std::string_view rpc, std::string target)
    : core_(core), rule_(FindRpcRule(rpc)) {
  entry_.set_at_unix_ms(core.Now());
  entry_.set_actor(peer);
  entry_.set_action(rule_ ? rule_->action : std::string(rpc));
  entry_.set_target(std::move(target));
  if (!op.ok()) {
    admitted_ = op.status();
    return;
  }
  op_ = std::move(*op);
  entry_.set_actor(op_.name);
  if (!rule_) {
    // Refused by default: an RPC must have its row in the permission table.
    admitted_ = PermissionDenied(std::string(rpc) + " has no row in the permission table "
                                 "(server/admin/permissions.cc): refused");
    return;
  }
  admitted_ = Authorize(op_, *rule_, core.Now());
}

OperatorCall::~OperatorCall() {
  if (open_id_) core_.operator_calls.Remove(*open_id_);
}

Status OperatorCall::Run(const std::function<Status(const OperatorRecord&)>& fn) {
  if (!admitted_.ok()) return admitted_;
  PendingAudit pending(entry_);
  pending_ = &pending;
  Status st = fn(op_);
  pending_ = nullptr;
  written_ |= pending.written();
  // What the work learnt (the group it acted on) goes in the row written later.
  entry_.set_group(pending.entry().group());
  if (!pending.hidden_refusal().empty()) hidden_refusal_ = pending.hidden_refusal();
  return st;
}

void OperatorCall::Finish(const Status& st) {
  if (finished_) return;
  finished_ = true;
  if (open_id_) {
    core_.operator_calls.Remove(*open_id_);
    open_id_.reset();
  }
  // Refusals are always kept; a read that failed for a reason of its own is not.
  bool refused = st.code() == Code::kPermissionDenied || st.code() == Code::kUnauthenticated ||
                 !hidden_refusal_.empty();
  bool changes = rule_ == nullptr || rule_->changes_state;
  if (written_ && st.ok()) return;
  if (!refused && !changes) return;
  v1::AuditEntry e = entry_;
  if (written_) {
    // The change committed with an "ok" row, then something after it failed.
    e.set_detail("after the change: " + st.message());
  }
  e.set_result(st.ok() ? "ok" : st.message());
  if (!hidden_refusal_.empty()) {
    e.set_detail(e.detail().empty() ? hidden_refusal_ : e.detail() + "; " + hidden_refusal_);
  }
  Status w = core_.store->AppendAudit(e);
  // An action that cannot be audited is still reported loudly: the log is the evidence.
  if (!w.ok()) std::fprintf(stderr, "preau-server: audit write failed: %s\n", w.message().c_str());
}

void OperatorCall::AbortOnRevocation(OpenCalls::Abort abort) {
  if (!admitted_.ok() || finished_ || open_id_) return;
  open_id_ = core_.operator_calls.Add(op_.name, std::move(abort));
}

grpc::ServerUnaryReactor* RunAdminCall(
    ServerCore& core, grpc::CallbackServerContext* ctx, std::string_view rpc,
    const std::string& target, const std::function<Status(const OperatorRecord&)>& fn) {
  OperatorCall call(core, *ctx, rpc, target);
  Status st = call.Run(fn);
  call.Finish(st);
  auto* r = ctx->DefaultReactor();
  r->Finish(ToGrpc(st));
  return r;
}

}  // namespace preau::server

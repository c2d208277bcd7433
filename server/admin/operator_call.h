// OperatorCall: one operators' RPC, from its caller to its audit row. It authenticates the
// caller from its certificate and authorizes it against the RPC's row of the permission
// table (an RPC without a row is refused); the work then runs with the call's audit row
// pending (PendingAudit), so that the first transaction that changes something commits
// the row with it; Finish writes the row of a refusal, or of a success no transaction
// carried. Unary calls use it through RunAdminCall; streaming reactors hold one.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <grpcpp/server_context.h>

#include "common/status.h"
#include "server/admin/permissions.h"
#include "server/server_core.h"

namespace preau::server {

class OperatorCall {
 public:
  OperatorCall(ServerCore& core, const grpc::ServerContextBase& ctx, std::string_view rpc,
               std::string target);
  // The same call made by another front end (the browser console), which authenticated
  // its caller itself: `op` is that operator, or why it was refused; `peer` names where
  // the call came from in the audit row of a refusal without an operator.
  OperatorCall(ServerCore& core, Result<OperatorRecord> op, const std::string& peer,
               std::string_view rpc, std::string target);
  ~OperatorCall();
  OperatorCall(const OperatorCall&) = delete;
  OperatorCall& operator=(const OperatorCall&) = delete;

  // Whether the caller is known and allowed this RPC (the refusal otherwise).
  const Status& admitted() const { return admitted_; }
  const OperatorRecord& op() const { return op_; }
  const std::string& actor() const { return entry_.actor(); }

  // While Run's work runs, the row is pending in a transaction hook: these reach it too.
  void set_action(const std::string& action) { Entries([&](v1::AuditEntry& e) { e.set_action(action); }); }
  void set_target(const std::string& target) { Entries([&](v1::AuditEntry& e) { e.set_target(target); }); }
  void set_detail(const std::string& detail) { Entries([&](v1::AuditEntry& e) { e.set_detail(detail); }); }

  // Runs `fn` on this thread with the call's audit row pending; refused at once if the
  // call was not admitted.
  Status Run(const std::function<Status(const OperatorRecord&)>& fn);
  // Writes the audit row unless a transaction already carried it: always for a refusal
  // (with its reason), for a success when the RPC changes state. Once.
  void Finish(const Status& st);

  // Ends the call with `abort`'s status if its operator is revoked meanwhile (until
  // Finish or destruction). For calls that outlive their handler.
  void AbortOnRevocation(OpenCalls::Abort abort);

 private:
  template <typename Fn>
  void Entries(Fn&& fn) {
    fn(entry_);
    if (pending_) fn(pending_->entry());
  }

  ServerCore& core_;
  const RpcRule* rule_;
  PendingAudit* pending_ = nullptr;  // during Run
  v1::AuditEntry entry_;
  OperatorRecord op_;
  Status admitted_;
  bool written_ = false;
  bool finished_ = false;
  std::string hidden_refusal_;
  std::optional<uint64_t> open_id_;
};

// Runs one unary operators' call: admits the caller for `rpc` (see RpcRules), runs `fn`,
// audits the outcome and finishes the call. Shared by every operators' service.
grpc::ServerUnaryReactor* RunAdminCall(
    ServerCore& core, grpc::CallbackServerContext* ctx, std::string_view rpc,
    const std::string& target, const std::function<Status(const OperatorRecord&)>& fn);

}  // namespace preau::server

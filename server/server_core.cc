#include "server/server_core.h"

#include <cstdio>

namespace preau::server {

void ServerCore::Audit(const std::string& actor, const std::string& action,
                       const std::string& target, const Status& result,
                       const std::string& detail) {
  v1::AuditEntry e;
  e.set_at_unix_ms(Now());
  e.set_actor(actor);
  e.set_action(action);
  e.set_target(target);
  e.set_result(result.ok() ? "ok" : result.message());
  e.set_detail(detail);
  Status st = store->AppendAudit(e);
  // An action that cannot be audited is still reported loudly: the log is the evidence.
  if (!st.ok()) std::fprintf(stderr, "preau-server: audit write failed: %s\n", st.message().c_str());
}

}  // namespace preau::server

// The admin calls every fleet benchmark makes before it starts its simulators: a group for
// the class and one for the rest, and an enrolment token for each. A benchmark cannot go
// on without them: a refusal ends it (exit 1), naming the call and the server's reason.
#pragma once

#include <errno.h>  // program_invocation_short_name

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <grpcpp/grpcpp.h>

#include "preau/v1/admin.grpc.pb.h"

namespace preau::bench {

inline void MustCreateGroup(v1::AdminService::Stub& admin, const std::string& path) {
  grpc::ClientContext ctx;
  v1::CreateGroupRequest req;
  req.set_path(path);
  v1::Group g;
  if (auto st = admin.CreateGroup(&ctx, req, &g); !st.ok()) {
    std::fprintf(stderr, "%s: creating group %s: %s\n", program_invocation_short_name,
                 path.c_str(), st.error_message().c_str());
    std::exit(1);
  }
}

// A token for `uses` enrolments into `group`, valid for a day (a cold start of tens of
// thousands of devices outlasts the default lifetime).
inline std::string MustCreateToken(v1::AdminService::Stub& admin, const std::string& group,
                                   uint32_t uses) {
  grpc::ClientContext ctx;
  v1::CreateTokenRequest req;
  req.set_group(group);
  req.set_uses(uses);
  req.set_ttl_seconds(24 * 3600);
  v1::CreateTokenResponse resp;
  if (auto st = admin.CreateToken(&ctx, req, &resp); !st.ok()) {
    std::fprintf(stderr, "%s: creating a token for %s: %s\n", program_invocation_short_name,
                 group.c_str(), st.error_message().c_str());
    std::exit(1);
  }
  return resp.token();
}

}  // namespace preau::bench

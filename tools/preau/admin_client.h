// AdminClient: the CLI's authenticated connection to a Préau server.
//
// It finds the operator's credentials (--credentials FILE, else $PREAU_CREDENTIALS, else
// ~/.config/preau/credentials) and the server address (--server or $PREAU_SERVER override
// the file's), opens an mTLS channel (the credentials' CA as the only root, the operator's
// key and certificate as client identity), and turns failed calls into messages a person
// can act on ("cannot reach the server at 127.0.0.1:7443: ..."). The admin stub is here;
// other command areas (policy, class, apps, filter, report) build their own stubs on
// channel() and run their calls through Call() to get the same deadlines and messages:
//
//   auto client = AdminClient::Connect(ctx.connection);
//   v1::PolicyService::Stub stub((*client)->channel());
//   v1::ApplyPolicyResponse resp;
//   PREAU_RETURN_IF_ERROR((*client)->Call([&](grpc::ClientContext* c) {
//     return stub.Apply(c, req, &resp);
//   }));
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include "common/credentials.h"
#include "common/status.h"
#include "preau/v1/admin.grpc.pb.h"

namespace preau::cli {

struct ConnectionOptions {
  std::string credentials_path;  // --credentials; empty: $PREAU_CREDENTIALS, else the default
  std::string server;            // --server; empty: $PREAU_SERVER, else the credentials'
  std::chrono::milliseconds deadline{std::chrono::seconds(30)};  // per call
};

// The credentials file the options designate (flag, environment, then
// ~/.config/preau/credentials).
std::string ResolveCredentialsPath(const ConnectionOptions& opts);

class AdminClient {
 public:
  // Loads and checks the credentials and prepares the channel; nothing is sent yet, so
  // an unreachable server shows up on the first call.
  static Result<std::unique_ptr<AdminClient>> Connect(const ConnectionOptions& opts);

  const Credentials& credentials() const { return credentials_; }
  const std::string& credentials_path() const { return credentials_path_; }
  // The address actually used (after --server / $PREAU_SERVER).
  const std::string& server() const { return server_; }

  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  v1::AdminService::Stub& admin() { return *admin_; }

  // A context whose deadline is the per-call deadline from now.
  std::unique_ptr<grpc::ClientContext> NewContext() const;

  // Runs one call with a fresh context and explains a failure (see Explain).
  Status Call(const std::function<grpc::Status(grpc::ClientContext*)>& rpc) const;

  // A failed call's status as a Préau Status whose message says what to look at:
  // "cannot reach the server at HOST:PORT: ...", "permission denied: ...", ...
  Status Explain(const grpc::Status& status) const;

 private:
  AdminClient() = default;

  Credentials credentials_;
  std::string credentials_path_;
  std::string server_;
  std::chrono::milliseconds deadline_{};
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

}  // namespace preau::cli

// DeviceService: the agents' side of the server — enrolment (signs the agent's CSR), the
// long-lived Connect stream (registers the device as online, stores what it reports and
// acks it, hands messages to the domain features), and Fetch (streams an artifact from
// disk in chunks, so many devices downloading one large app never hold it in memory).
#pragma once

#include "preau/v1/device.grpc.pb.h"
#include "server/fleet/failure_limiter.h"
#include "server/server_core.h"

namespace preau::server {

// The audit action of a refused second connection of one identity (a cloned disk image).
inline constexpr const char* kCloneAuditAction = "device.clone";

class DeviceServiceImpl final : public v1::DeviceService::CallbackService {
 public:
  explicit DeviceServiceImpl(ServerCore& core) : core_(core) {}

  grpc::ServerUnaryReactor* Enroll(grpc::CallbackServerContext* ctx,
                                   const v1::EnrollRequest* req,
                                   v1::EnrollResponse* resp) override;
  grpc::ServerBidiReactor<v1::AgentMessage, v1::ServerMessage>* Connect(
      grpc::CallbackServerContext* ctx) override;
  grpc::ServerWriteReactor<v1::FetchChunk>* Fetch(grpc::CallbackServerContext* ctx,
                                                  const v1::FetchRequest* req) override;
  grpc::ServerUnaryReactor* Renew(grpc::CallbackServerContext* ctx,
                                  const v1::RenewRequest* req,
                                  v1::RenewResponse* resp) override;

 private:
  Status DoEnroll(const grpc::CallbackServerContext& ctx, const v1::EnrollRequest& req,
                  v1::EnrollResponse* resp);
  Status DoRenew(const grpc::CallbackServerContext& ctx, const v1::RenewRequest& req,
                 v1::RenewResponse* resp, std::string* device_id);
  ServerCore& core_;
  // Failed enrolments per address: 10 a minute, then refused until the minute is over.
  FailureLimiter enroll_failures_{10, 60'000};
};

// Where the artifact with this SHA-256 lives in the server's content-addressed store.
std::string ArtifactPath(const std::string& data_dir, const std::string& sha256);

}  // namespace preau::server

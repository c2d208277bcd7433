#include "agent/core/enroller.h"

#include <chrono>
#include <random>
#include <thread>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "agent/core/server_list.h"
#include "common/grpc_credentials.h"
#include "common/grpc_status.h"
#include "common/retry_after.h"
#include "common/pki.h"
#include "preau/v1/device.grpc.pb.h"

namespace preau::agent {

Result<Identity> Enroll(const EnrollRequestOptions& opts) {
  if (opts.token.empty()) return InvalidArgument("this device is not enrolled yet: --enroll TOKEN is required");
  if (opts.ca_pem.empty()) return InvalidArgument("enrolment needs the server's CA certificate (--ca FILE)");
  PREAU_ASSIGN_OR_RETURN(auto servers, ServerList::Parse(opts.server));
  PREAU_ASSIGN_OR_RETURN(auto key, pki::GenerateKey());
  PREAU_ASSIGN_OR_RETURN(auto csr, pki::CreateCsr(key.private_key_pem, "preau-device"));

  v1::EnrollRequest req;
  req.set_token(opts.token);
  req.set_csr_pem(csr);
  req.set_requested_name(opts.name);
  *req.mutable_inventory() = opts.inventory;
  v1::EnrollResponse resp;
  grpc::Status gs;
  // A server enrolling a whole school at once lets devices in at its pace and tells the
  // others when to come back: wait for that slot (a little later at random), for at most
  // kMaxAdmissionWait in all.
  constexpr auto kMaxAdmissionWait = std::chrono::minutes(10);
  const auto give_up = std::chrono::steady_clock::now() + kMaxAdmissionWait;
  std::minstd_rand rng(std::random_device{}());
  // Each server of the list in turn while none can be reached; a server that answers
  // (even with a refusal) decides. When none was reached, the whole list is tried again a
  // few times, a little later each time: a server busy with a school's worth of TLS
  // handshakes may close a connection ("Socket closed") it would take a moment later.
  constexpr size_t kRounds = 3;
  auto pause = std::chrono::milliseconds(500);
  for (size_t tried = 1;; ++tried) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto stub = v1::DeviceService::NewStub(
        grpc::CreateCustomChannel(servers.ChannelTarget(), preau::MtlsCredentials(opts.ca_pem), args));
    for (;;) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(opts.timeout_ms));
      gs = stub->Enroll(&ctx, req, &resp);
      int64_t hint = gs.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED
                         ? RetryAfterMs(ctx.GetServerTrailingMetadata())
                         : 0;
      if (hint == 0) break;
      std::uniform_int_distribution<int64_t> late(0, std::min<int64_t>(hint / 4 + 200, 5'000));
      auto wait = std::chrono::milliseconds(hint + late(rng));
      if (std::chrono::steady_clock::now() + wait > give_up) break;
      std::this_thread::sleep_for(wait);
    }
    // Only a server not reached: one that timed out may have enrolled the device already.
    if (gs.error_code() != grpc::StatusCode::UNAVAILABLE || tried >= servers.size() * kRounds) break;
    servers.Advance();
    if (tried % servers.size() == 0) {
      std::uniform_int_distribution<int64_t> jitter(0, pause.count());
      std::this_thread::sleep_for(pause + std::chrono::milliseconds(jitter(rng)));
      pause *= 2;
    }
  }
  if (!gs.ok()) return FromGrpc(gs).Context("enrolment with " + servers.current() + " refused");

  // Check what came back before keeping it: the certificate must be for our key and
  // signed by the CA we were given.
  PREAU_RETURN_IF_ERROR(pki::CheckKeyMatchesCertificate(key.private_key_pem, resp.certificate_pem())
                            .Context("server returned a certificate for another key"));
  PREAU_RETURN_IF_ERROR(pki::VerifyCertificate(resp.certificate_pem(), opts.ca_pem,
                                               std::time(nullptr))
                            .Context("server returned a certificate the CA does not sign"));
  Identity id;
  id.device_id = resp.device_id();
  id.private_key_pem = key.private_key_pem;
  id.certificate_pem = resp.certificate_pem();
  id.ca_pem = opts.ca_pem;
  id.policy_key_pem = resp.policy_signing_key_pem();
  id.server = opts.server;  // the whole list: later starts use every server of it
  id.group = resp.group();
  return id;
}

}  // namespace preau::agent

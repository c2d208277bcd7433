#include "agent/core/enroller.h"

#include <chrono>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "common/grpc_credentials.h"
#include "common/grpc_status.h"
#include "common/pki.h"
#include "preau/v1/device.grpc.pb.h"

namespace preau::agent {

Result<Identity> Enroll(const EnrollRequestOptions& opts) {
  if (opts.token.empty()) return InvalidArgument("this device is not enrolled yet: --enroll TOKEN is required");
  if (opts.ca_pem.empty()) return InvalidArgument("enrolment needs the server's CA certificate (--ca FILE)");
  PREAU_ASSIGN_OR_RETURN(auto key, pki::GenerateKey());
  PREAU_ASSIGN_OR_RETURN(auto csr, pki::CreateCsr(key.private_key_pem, "preau-device"));

  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(opts.server, preau::MtlsCredentials(opts.ca_pem), args);
  auto stub = v1::DeviceService::NewStub(channel);

  v1::EnrollRequest req;
  req.set_token(opts.token);
  req.set_csr_pem(csr);
  req.set_requested_name(opts.name);
  *req.mutable_inventory() = opts.inventory;
  v1::EnrollResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(opts.timeout_ms));
  grpc::Status gs = stub->Enroll(&ctx, req, &resp);
  if (!gs.ok()) return FromGrpc(gs).Context("enrolment with " + opts.server + " refused");

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
  id.server = opts.server;
  id.group = resp.group();
  return id;
}

}  // namespace preau::agent

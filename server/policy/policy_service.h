// The policy domain on the server: the operators' PolicyService (apply, status) and the
// device-stream hooks (a hello gets the device its current bundle; compliance reports are
// stored). RegisterPolicyDomain plugs it in (server/domains.cc).
#pragma once

#include "preau/v1/policy.grpc.pb.h"
#include "server/domains.h"
#include "server/policy/compliance.h"
#include "server/policy/policy_publisher.h"
#include "server/policy/policy_records.h"
#include "server/server_core.h"

namespace preau::server {

class PolicyServiceImpl final : public v1::PolicyService::CallbackService {
 public:
  PolicyServiceImpl(ServerCore& core, PolicyPublisher& publisher, ComplianceLedger& ledger)
      : core_(core), publisher_(publisher), ledger_(ledger) {}

  // Admin within its scopes; audited as "policy.apply", refusals included.
  grpc::ServerUnaryReactor* Apply(grpc::CallbackServerContext* ctx,
                                  const v1::ApplyPolicyRequest* req,
                                  v1::ApplyPolicyResponse* resp) override;
  // Admin; versions outside the caller's scopes are left out.
  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* ctx,
                                      const v1::PolicyStatusRequest* req,
                                      v1::PolicyStatusResponse* resp) override;

 private:
  ServerCore& core_;
  PolicyPublisher& publisher_;
  ComplianceLedger& ledger_;
};

// Everything the domain keeps alive, and its hooks on device streams.
class PolicyDomain final : public DeviceFeature {
 public:
  explicit PolicyDomain(ServerCore& core)
      : records_(*core.store),
        publisher_(core, records_),
        ledger_(core, records_),
        service_(core, publisher_, ledger_) {}

  PolicyServiceImpl* service() { return &service_; }
  PolicyPublisher& publisher() { return publisher_; }

  void OnHello(const std::string& device_id, const v1::Hello& hello) override {
    publisher_.OnHello(device_id, hello.policy_version());
  }
  bool Handles(v1::AgentMessage::BodyCase body) const override {
    return body == v1::AgentMessage::kCompliance;
  }
  Status OnMessage(const std::string& device_id, const v1::AgentMessage& msg) override {
    return ledger_.Record(device_id, msg.compliance());
  }

 private:
  PolicyRecords records_;
  PolicyPublisher publisher_;
  ComplianceLedger ledger_;
  PolicyServiceImpl service_;
};

Status RegisterPolicyDomain(DomainRegistry& registry);

}  // namespace preau::server

#include "server/pki/server_keys.h"

#include <arpa/inet.h>

#include <algorithm>

#include "common/files.h"
#include "common/pki.h"

namespace preau::server {

namespace {
bool IsIpAddress(const std::string& h) {
  unsigned char buf[16];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}
}  // namespace

namespace {
// A new key and a server certificate for it, from the CA, naming localhost, 127.0.0.1,
// ::1 and `hosts`.
Status IssueServerCertificate(ServerKeys& k, const std::vector<std::string>& hosts) {
  PREAU_ASSIGN_OR_RETURN(auto srv, pki::GenerateKey());
  k.server_key_pem = srv.private_key_pem;
  pki::IssueRequest req;
  req.public_key_pem = srv.public_key_pem;
  req.common_name = "preau-server";
  req.organizational_unit = "server";
  req.usage = pki::CertUsage::kServer;
  req.valid_days = kServerCertDays;
  req.dns_names = {"localhost"};
  req.ip_addresses = {"127.0.0.1", "::1"};
  for (const auto& h : hosts) {
    auto& list = IsIpAddress(h) ? req.ip_addresses : req.dns_names;
    if (std::find(list.begin(), list.end(), h) == list.end()) list.push_back(h);
  }
  PREAU_ASSIGN_OR_RETURN(auto issued, pki::IssueCertificate(k.ca_cert_pem, k.ca_key_pem, req));
  k.server_cert_pem = issued.certificate_pem;
  return Status::Ok();
}

// The key first: a crash between the two leaves a pair that LoadServerKeys refuses by
// name, and running rotate-cert again mends it.
Status WriteServerCertificate(const std::string& dir, const ServerKeys& k) {
  PREAU_RETURN_IF_ERROR(WriteFileAtomic(dir + "/server.key", k.server_key_pem, 0600));
  return WriteFileAtomic(dir + "/server.pem", k.server_cert_pem, 0644);
}
}  // namespace

Result<ServerKeys> CreateServerKeys(const std::string& dir, const std::string& authority_name,
                                    const std::vector<std::string>& hosts) {
  ServerKeys k;
  PREAU_ASSIGN_OR_RETURN(auto ca, pki::GenerateKey());
  k.ca_key_pem = ca.private_key_pem;
  PREAU_ASSIGN_OR_RETURN(k.ca_cert_pem, pki::CreateCaCertificate(
                                            ca.private_key_pem,
                                            "Préau device CA — " + authority_name, 3650));
  PREAU_RETURN_IF_ERROR(IssueServerCertificate(k, hosts));
  PREAU_ASSIGN_OR_RETURN(auto pol, pki::GenerateKey());
  k.policy_key_pem = pol.private_key_pem;
  k.policy_public_pem = pol.public_key_pem;
  PREAU_ASSIGN_OR_RETURN(k.policy_key_id, pki::KeyFingerprint(k.policy_public_pem));

  PREAU_RETURN_IF_ERROR(WriteFileAtomic(dir + "/ca.pem", k.ca_cert_pem, 0644));
  PREAU_RETURN_IF_ERROR(WriteFileAtomic(dir + "/ca.key", k.ca_key_pem, 0600));
  PREAU_RETURN_IF_ERROR(WriteServerCertificate(dir, k));
  PREAU_RETURN_IF_ERROR(WriteFileAtomic(dir + "/policy.key", k.policy_key_pem, 0600));
  PREAU_RETURN_IF_ERROR(WriteFileAtomic(dir + "/policy.pub", k.policy_public_pem, 0644));
  return k;
}

Result<pki::CertInfo> RotateServerCertificate(const std::string& dir,
                                              const std::vector<std::string>& hosts) {
  ServerKeys k;
  PREAU_ASSIGN_OR_RETURN(k.ca_cert_pem, ReadFile(dir + "/ca.pem"));
  PREAU_ASSIGN_OR_RETURN(k.ca_key_pem, ReadFile(dir + "/ca.key"));
  PREAU_RETURN_IF_ERROR(pki::CheckKeyMatchesCertificate(k.ca_key_pem, k.ca_cert_pem)
                            .Context(dir + "/ca.key does not match ca.pem"));
  // The names of the certificate it replaces are kept, so agents still find the server
  // under the name they were given.
  std::vector<std::string> names = hosts;
  if (auto old = ReadFile(dir + "/server.pem"); old.ok()) {
    if (auto info = pki::ParseCertificate(*old); info.ok()) {
      names.insert(names.end(), info->dns_names.begin(), info->dns_names.end());
      names.insert(names.end(), info->ip_addresses.begin(), info->ip_addresses.end());
    }
  }
  PREAU_RETURN_IF_ERROR(IssueServerCertificate(k, names));
  PREAU_RETURN_IF_ERROR(WriteServerCertificate(dir, k));
  return pki::ParseCertificate(k.server_cert_pem);
}

Result<ServerKeys> LoadServerKeys(const std::string& dir) {
  ServerKeys k;
  PREAU_ASSIGN_OR_RETURN(k.ca_cert_pem, ReadFile(dir + "/ca.pem"));
  PREAU_ASSIGN_OR_RETURN(k.ca_key_pem, ReadFile(dir + "/ca.key"));
  PREAU_ASSIGN_OR_RETURN(k.server_cert_pem, ReadFile(dir + "/server.pem"));
  PREAU_ASSIGN_OR_RETURN(k.server_key_pem, ReadFile(dir + "/server.key"));
  PREAU_ASSIGN_OR_RETURN(k.policy_key_pem, ReadFile(dir + "/policy.key"));
  PREAU_ASSIGN_OR_RETURN(k.policy_public_pem, ReadFile(dir + "/policy.pub"));
  PREAU_ASSIGN_OR_RETURN(k.policy_key_id, pki::KeyFingerprint(k.policy_public_pem));
  PREAU_RETURN_IF_ERROR(pki::CheckKeyMatchesCertificate(k.ca_key_pem, k.ca_cert_pem)
                            .Context(dir + "/ca.key does not match ca.pem"));
  PREAU_RETURN_IF_ERROR(pki::CheckKeyMatchesCertificate(k.server_key_pem, k.server_cert_pem)
                            .Context(dir + "/server.key does not match server.pem"));
  // A policy key that is not the half of policy.pub would sign bundles every agent refuses
  // (they pinned policy.pub at enrolment): refuse to start instead.
  PREAU_ASSIGN_OR_RETURN(std::string policy_public, pki::PublicKeyOf(k.policy_key_pem));
  PREAU_ASSIGN_OR_RETURN(std::string derived_id, pki::KeyFingerprint(policy_public));
  if (derived_id != k.policy_key_id) {
    return FailedPrecondition(dir + "/policy.key does not match policy.pub (key " +
                              derived_id.substr(0, 16) + "…, pinned by agents " +
                              k.policy_key_id.substr(0, 16) +
                              "…): restore the matching pair from the backup");
  }
  // The server certificate must come from this CA, or no agent accepts the server.
  PREAU_ASSIGN_OR_RETURN(auto server_cert, pki::ParseCertificate(k.server_cert_pem));
  PREAU_RETURN_IF_ERROR(
      pki::VerifyCertificate(k.server_cert_pem, k.ca_cert_pem, server_cert.not_before_unix + 1)
          .Context(dir + "/server.pem was not issued by ca.pem"));
  return k;
}

}  // namespace preau::server

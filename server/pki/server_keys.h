// ServerKeys: the server's key material in its data folder — the device CA (signs device
// and operator certificates), the server's TLS certificate, and the policy-signing key
// (signs policy bundles and filter snapshots; agents pin its public key). Private keys
// are files with mode 0600; nothing here logs them.
#pragma once

#include <string>
#include <vector>

#include "common/pki.h"
#include "common/status.h"

namespace preau::server {

struct ServerKeys {
  std::string ca_cert_pem;
  std::string ca_key_pem;
  std::string server_cert_pem;
  std::string server_key_pem;
  std::string policy_key_pem;     // private
  std::string policy_public_pem;
  std::string policy_key_id;      // SHA-256 of the public key
};

// Creates every key and certificate in `dir` (which must exist and be empty of them).
// The server certificate names localhost, 127.0.0.1, ::1 and every extra host.
Result<ServerKeys> CreateServerKeys(const std::string& dir, const std::string& authority_name,
                                    const std::vector<std::string>& hosts);
Result<ServerKeys> LoadServerKeys(const std::string& dir);

// Server certificates last this long; rotate them before (RotateServerCertificate).
inline constexpr int kServerCertDays = 825;

// Replaces the server's TLS key and certificate in `dir` with new ones from the same CA,
// naming what the old certificate named plus `hosts`. Agents trust the CA, not the
// certificate, so they connect to the restarted server as before. Returns the new
// certificate's details.
Result<pki::CertInfo> RotateServerCertificate(const std::string& dir,
                                              const std::vector<std::string>& hosts);

}  // namespace preau::server

// Pki: the few X.509 and signature operations Préau needs, over OpenSSL 3.
//
// The server holds a device CA (signs device and operator certificates from CSRs, so
// private keys never leave the machine that made them) and a policy-signing key (signs
// policy bundles and filter snapshots; agents pin its public key at enrolment). Keys are
// ECDSA P-256. Everything here takes and returns PEM strings, so callers never touch
// OpenSSL types; errors come back as Status with a message naming what was wrong.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace preau::pki {

struct KeyPair {
  std::string private_key_pem;  // PKCS#8
  std::string public_key_pem;   // SubjectPublicKeyInfo
};

// A new ECDSA P-256 key pair.
Result<KeyPair> GenerateKey();

// The public key (SPKI PEM) of a private key.
Result<std::string> PublicKeyOf(const std::string& private_key_pem);

// Hex SHA-256 of the DER SubjectPublicKeyInfo of a public or private key PEM: a stable
// key id (used to pin the policy key and to recognise a revoked device's key).
Result<std::string> KeyFingerprint(const std::string& key_pem);

// A PKCS#10 request for `common_name`, signed with `private_key_pem`.
Result<std::string> CreateCsr(const std::string& private_key_pem, const std::string& common_name);

struct CsrInfo {
  std::string common_name;
  std::string public_key_pem;
};
// Parses a CSR and checks its self-signature (proof that the requester holds the key).
Result<CsrInfo> VerifyCsr(const std::string& csr_pem);

// A self-signed CA certificate.
Result<std::string> CreateCaCertificate(const std::string& ca_key_pem,
                                        const std::string& common_name, int valid_days);

enum class CertUsage { kClient, kServer };

struct IssueRequest {
  std::string public_key_pem;      // the subject's key (from its CSR)
  std::string common_name;         // CN: device id, operator name or server name
  std::string organizational_unit; // OU: "device", "operator", "server"
  std::vector<std::string> dns_names;  // subjectAltName DNS (server certificates)
  std::vector<std::string> ip_addresses;  // subjectAltName IP (server certificates)
  CertUsage usage = CertUsage::kClient;
  int valid_days = 365;
};

struct IssuedCertificate {
  std::string certificate_pem;
  std::string serial_hex;  // random 128-bit serial
};

// Signs a certificate for `req` with the CA.
Result<IssuedCertificate> IssueCertificate(const std::string& ca_cert_pem,
                                           const std::string& ca_key_pem,
                                           const IssueRequest& req);

struct CertInfo {
  std::string common_name;
  std::string organizational_unit;
  std::string serial_hex;
  std::string public_key_pem;
  int64_t not_before_unix = 0;
  int64_t not_after_unix = 0;
  std::vector<std::string> dns_names;     // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries, as text
};
Result<CertInfo> ParseCertificate(const std::string& cert_pem);

// Checks that `cert_pem` was signed by `ca_cert_pem` and is valid at `now_unix`.
Status VerifyCertificate(const std::string& cert_pem, const std::string& ca_cert_pem,
                         int64_t now_unix);

// Checks that a certificate and a private key belong together.
Status CheckKeyMatchesCertificate(const std::string& private_key_pem,
                                  const std::string& cert_pem);

// ECDSA P-256 / SHA-256 signature over `data` (DER-encoded signature).
Result<std::string> Sign(const std::string& private_key_pem, const std::string& data);
// Ok only if `signature` is a valid signature of `data` by `public_key_pem`.
Status Verify(const std::string& public_key_pem, const std::string& data,
              const std::string& signature);

// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(const std::string& data);

// SHA-256 of data that arrives in pieces (uploads, downloads, files read in chunks).
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void Update(std::string_view data);
  // Lowercase hex of everything given to Update; call once.
  std::string FinishHex();

 private:
  struct Ctx;
  Ctx* ctx_;
};

// `n` cryptographically random bytes as lowercase hex (2n characters).
std::string RandomHex(size_t n);

}  // namespace preau::pki

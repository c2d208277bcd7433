#include "server/fleet/enrollment_token.h"

#include "common/pki.h"

namespace preau::server {

namespace {
constexpr const char* kPrefix = "preau1-";
constexpr size_t kSecretHex = 40;
constexpr size_t kChecksumHex = 6;

std::string Checksum(const std::string& body) { return pki::Sha256Hex(body).substr(0, kChecksumHex); }
}  // namespace

std::string NewEnrollmentToken() {
  std::string body = kPrefix + pki::RandomHex(kSecretHex / 2);
  return body + "-" + Checksum(body);
}

Status CheckEnrollmentTokenFormat(const std::string& token) {
  const std::string prefix = kPrefix;
  const size_t want = prefix.size() + kSecretHex + 1 + kChecksumHex;
  if (token.rfind(prefix, 0) != 0) {
    return InvalidArgument("enrollment token is malformed: it should start with '" + prefix + "'");
  }
  if (token.size() != want) {
    return InvalidArgument("enrollment token is malformed: " + std::to_string(token.size()) +
                           " characters instead of " + std::to_string(want) + " (truncated?)");
  }
  for (size_t i = prefix.size(); i < want; ++i) {
    char c = token[i];
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    if (i == prefix.size() + kSecretHex ? c != '-' : !hex) {
      return InvalidArgument("enrollment token is malformed at character " + std::to_string(i + 1));
    }
  }
  std::string body = token.substr(0, prefix.size() + kSecretHex);
  if (Checksum(body) != token.substr(want - kChecksumHex)) {
    return InvalidArgument("enrollment token is malformed: its checksum does not match (mistyped?)");
  }
  return Status::Ok();
}

std::string HashEnrollmentToken(const std::string& token) { return pki::Sha256Hex(token); }

}  // namespace preau::server

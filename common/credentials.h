// Credentials: an operator's credential file (the server address, the CA to trust, the
// operator's certificate and private key), written by `preau-server init` for the first
// administrator and by `preau operators create` for the others, read by the `preau` CLI.
// The file holds a private key: it is written with mode 0600 and never logged.
#pragma once

#include <string>

#include "common/status.h"

namespace preau {

struct Credentials {
  std::string server;  // host:port
  std::string name;    // operator name (informational; the certificate is authoritative)
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
};

std::string SerializeCredentials(const Credentials& c);
// `origin` names the file in error messages.
Result<Credentials> ParseCredentials(const std::string& text, const std::string& origin);
Result<Credentials> LoadCredentials(const std::string& path);
Status SaveCredentials(const std::string& path, const Credentials& c);

}  // namespace preau

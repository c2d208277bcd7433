// MtlsCredentials: the TLS credentials of every channel to a Préau server — the authority's
// device CA as the only trusted root, and our certificate and key when we have them (a
// device not enrolled yet has none, and neither has a test of a client without one). One
// place, so that no channel can be opened trusting the system's public roots by mistake.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/security/credentials.h>

namespace preau {

inline std::shared_ptr<grpc::ChannelCredentials> MtlsCredentials(const std::string& ca_pem,
                                                                 const std::string& cert_pem = {},
                                                                 const std::string& key_pem = {}) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ca_pem;
  ssl.pem_cert_chain = cert_pem;
  ssl.pem_private_key = key_pem;
  return grpc::SslCredentials(ssl);
}

}  // namespace preau

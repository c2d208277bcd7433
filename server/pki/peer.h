// Peer: who is on the other end of an mTLS call, read from the verified client certificate.
// gRPC has already checked the chain against the device CA; this turns the certificate
// into an identity (OU says device or operator, CN says which one) and checks it against
// the store, so a retired device or a revoked operator is refused even though its
// certificate still verifies.
#pragma once

#include <string>

#include <grpcpp/server_context.h>

#include "common/pki.h"
#include "common/status.h"
#include "server/store/store.h"

namespace preau::server {

// The verified client certificate of the call; Unauthenticated if there is none.
Result<pki::CertInfo> PeerCertificate(const grpc::ServerContextBase& ctx);

// The verified client certificate's common name, without parsing it or asking the store
// (gRPC keeps it from the handshake): "" if none. Only a name to tell callers apart
// before they are authenticated, e.g. for Admission.
std::string PeerName(const grpc::ServerContextBase& ctx);

// The device behind the call: an active device whose current certificate it is.
Result<DeviceRecord> AuthenticateDevice(const grpc::ServerContextBase& ctx, Store& store);

// The operator behind the call, whose certificate is its current one, not revoked, and
// not expired at `now_ms` (the server's clock; TLS checked the system's). Each refusal
// says which it is.
Result<OperatorRecord> AuthenticateOperator(const grpc::ServerContextBase& ctx, Store& store,
                                            int64_t now_ms);

}  // namespace preau::server

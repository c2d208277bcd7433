// Conversions between Préau's Status and grpc::Status, so that a refusal keeps its code
// (PERMISSION_DENIED stays PERMISSION_DENIED) and its message across the wire.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>

#include <grpcpp/support/status.h>

#include "common/status.h"

namespace preau {

// What a server sends for an error that is not the caller's doing (kInternal, kDataLoss):
// such messages name SQL statements, files and folders of the server, which are for its
// log, not for every client. The log line and the reply share a reference.
inline std::string HideInternalError(const std::string& message) {
  static std::atomic<uint64_t> counter{0};
  uint64_t ref = ++counter;
  std::fprintf(stderr, "preau-server: internal error E%llu: %s\n",
               static_cast<unsigned long long>(ref), message.c_str());
  return "internal error on the server (its log has the details under E" +
         std::to_string(ref) + ")";
}

inline grpc::Status ToGrpc(const Status& s) {
  using G = grpc::StatusCode;
  G code = G::UNKNOWN;
  switch (s.code()) {
    case Code::kOk: return grpc::Status::OK;
    case Code::kInvalidArgument: code = G::INVALID_ARGUMENT; break;
    case Code::kNotFound: code = G::NOT_FOUND; break;
    case Code::kAlreadyExists: code = G::ALREADY_EXISTS; break;
    case Code::kPermissionDenied: code = G::PERMISSION_DENIED; break;
    case Code::kUnauthenticated: code = G::UNAUTHENTICATED; break;
    case Code::kFailedPrecondition: code = G::FAILED_PRECONDITION; break;
    case Code::kResourceExhausted: code = G::RESOURCE_EXHAUSTED; break;
    case Code::kUnavailable: code = G::UNAVAILABLE; break;
    case Code::kDeadlineExceeded: code = G::DEADLINE_EXCEEDED; break;
    case Code::kDataLoss: code = G::DATA_LOSS; break;
    case Code::kInternal: code = G::INTERNAL; break;
  }
  if (code == G::INTERNAL || code == G::DATA_LOSS) {
    return grpc::Status(code, HideInternalError(s.message()));
  }
  return grpc::Status(code, s.message());
}

inline Status FromGrpc(const grpc::Status& s) {
  using G = grpc::StatusCode;
  if (s.ok()) return Status::Ok();
  Code code = Code::kInternal;
  switch (s.error_code()) {
    case G::INVALID_ARGUMENT: code = Code::kInvalidArgument; break;
    case G::NOT_FOUND: code = Code::kNotFound; break;
    case G::ALREADY_EXISTS: code = Code::kAlreadyExists; break;
    case G::PERMISSION_DENIED: code = Code::kPermissionDenied; break;
    case G::UNAUTHENTICATED: code = Code::kUnauthenticated; break;
    case G::FAILED_PRECONDITION: code = Code::kFailedPrecondition; break;
    case G::RESOURCE_EXHAUSTED: code = Code::kResourceExhausted; break;
    case G::UNAVAILABLE: code = Code::kUnavailable; break;
    case G::DEADLINE_EXCEEDED: code = Code::kDeadlineExceeded; break;
    case G::DATA_LOSS: code = Code::kDataLoss; break;
    default: break;
  }
  return Status(code, s.error_message());
}

}  // namespace preau

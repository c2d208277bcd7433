#include "server/pki/peer.h"

#include "common/duration.h"

namespace preau::server {

Result<pki::CertInfo> PeerCertificate(const grpc::ServerContextBase& ctx) {
  auto auth = ctx.auth_context();
  if (!auth || !auth->IsPeerAuthenticated()) {
    return Unauthenticated("a client certificate signed by this server's CA is required");
  }
  auto certs = auth->FindPropertyValues("x509_pem_cert");
  if (certs.empty()) return Unauthenticated("no client certificate presented");
  return pki::ParseCertificate(std::string(certs.front().data(), certs.front().size()));
}

std::string PeerName(const grpc::ServerContextBase& ctx) {
  auto auth = ctx.auth_context();
  if (!auth || !auth->IsPeerAuthenticated()) return "";
  auto names = auth->FindPropertyValues("x509_common_name");
  return names.empty() ? "" : std::string(names.front().data(), names.front().size());
}

Result<DeviceRecord> AuthenticateDevice(const grpc::ServerContextBase& ctx, Store& store) {
  PREAU_ASSIGN_OR_RETURN(auto cert, PeerCertificate(ctx));
  if (cert.organizational_unit != "device") {
    return PermissionDenied("certificate of '" + cert.common_name + "' is not a device certificate");
  }
  auto dev = store.GetDevice(cert.common_name);
  if (!dev.ok()) return Unauthenticated("unknown device '" + cert.common_name + "'");
  if (dev->retired_ms != 0) {
    return PermissionDenied("device " + dev->id + " was retired on " +
                            FormatLocalTime(dev->retired_ms) + "; it can no longer connect");
  }
  if (dev->cert_serial != cert.serial_hex) {
    // A renewed certificate takes over the first time the device uses it.
    if (store.PromotePendingCertificate(dev->id, cert.serial_hex).ok()) {
      dev->cert_serial = cert.serial_hex;
      return dev;
    }
    return PermissionDenied("certificate " + cert.serial_hex + " is no longer valid for device " + dev->id);
  }
  return dev;
}

Result<OperatorRecord> AuthenticateOperator(const grpc::ServerContextBase& ctx, Store& store,
                                            int64_t now_ms) {
  PREAU_ASSIGN_OR_RETURN(auto cert, PeerCertificate(ctx));
  if (cert.organizational_unit != "operator") {
    return PermissionDenied("certificate of '" + cert.common_name + "' is not an operator certificate");
  }
  auto op = store.GetOperator(cert.common_name);
  if (!op.ok()) return Unauthenticated("unknown operator '" + cert.common_name + "'");
  if (op->revoked_ms != 0) {
    return PermissionDenied("the credentials of operator '" + op->name + "' were revoked on " +
                            FormatLocalTime(op->revoked_ms));
  }
  if (op->cert_serial != cert.serial_hex) {
    return PermissionDenied("this certificate of operator '" + op->name +
                            "' was replaced by a renewed one: use the new credentials file");
  }
  if (cert.not_after_unix * 1000 <= now_ms) {
    return Unauthenticated("the certificate of operator '" + op->name + "' expired on " +
                           FormatLocalTime(cert.not_after_unix * 1000) +
                           ": ask an administrator for new credentials (`preau operators "
                           "renew " + op->name + " --out FILE`)");
  }
  return op;
}

}  // namespace preau::server

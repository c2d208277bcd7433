// ClockCheck: tells a wrong local clock from a server that cannot be reached. TLS checks
// certificates against the local clock, so a machine whose clock is years off sees every
// handshake fail, which gRPC reports as "failed to connect" like a network fault. When a
// connection fails, the agent and the CLI compare the clock with the validity of the
// certificates they hold (their own, issued by the server, and the CA's): a clock outside
// them is the likely cause, and their log, status or error say so.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace preau {

// Why the clock at `now_ms` cannot be right for the certificates, or nullopt when it lies
// within both: "this machine's clock says 2035-01-01 00:00 UTC, after this device's
// certificate ended (2028-03-04 10:00 UTC): ...". `whose` names the certificate ("this
// device's certificate").
std::optional<std::string> ClockProblem(int64_t now_ms, const std::string& certificate_pem,
                                        const std::string& ca_pem, const std::string& whose);

// The same from dates read once: a certificate's parse costs about a millisecond with
// OpenSSL 3, and an agent failing to reach its server checks on every attempt.
struct CertificateDates {
  int64_t not_before_unix = 0;
  int64_t not_after_unix = 0;
};
// Nullopt when `pem` is not a certificate (then it tells nothing of the clock).
std::optional<CertificateDates> ReadCertificateDates(const std::string& pem);
std::optional<std::string> ClockProblem(int64_t now_ms,
                                        const std::optional<CertificateDates>& certificate,
                                        const std::optional<CertificateDates>& ca,
                                        const std::string& whose);

}  // namespace preau

#include "common/clock_check.h"

#include <ctime>

#include "common/pki.h"

namespace preau {

namespace {

std::string UtcText(int64_t unix_s) {
  std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

}  // namespace

std::optional<CertificateDates> ReadCertificateDates(const std::string& pem) {
  auto cert = pki::ParseCertificate(pem);
  if (!cert.ok()) return std::nullopt;
  return CertificateDates{cert->not_before_unix, cert->not_after_unix};
}

std::optional<std::string> ClockProblem(int64_t now_ms,
                                        const std::optional<CertificateDates>& certificate,
                                        const std::optional<CertificateDates>& ca,
                                        const std::string& whose) {
  const int64_t now = now_ms / 1000;
  const std::string clock = "this machine's clock says " + UtcText(now);
  for (const auto& [dates, what] :
       {std::pair<const std::optional<CertificateDates>*, std::string>{&certificate, whose},
        std::pair<const std::optional<CertificateDates>*, std::string>{
            &ca, "the server's CA certificate"}}) {
    if (!*dates) continue;
    if (now < (*dates)->not_before_unix) {
      return clock + ", before " + what + " began (" + UtcText((*dates)->not_before_unix) +
             "): the clock is behind and TLS refuses the certificates; set the clock right";
    }
    if (now > (*dates)->not_after_unix) {
      return clock + ", after " + what + " ended (" + UtcText((*dates)->not_after_unix) +
             "): if the clock is wrong, set it right (TLS refuses the certificates); if it "
             "is right, the certificate has expired";
    }
  }
  return std::nullopt;
}

std::optional<std::string> ClockProblem(int64_t now_ms, const std::string& certificate_pem,
                                        const std::string& ca_pem, const std::string& whose) {
  return ClockProblem(now_ms, ReadCertificateDates(certificate_pem), ReadCertificateDates(ca_pem),
                      whose);
}

}  // namespace preau

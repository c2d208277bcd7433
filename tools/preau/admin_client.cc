#include "tools/preau/admin_client.h"

#include <cstdlib>

#include <grpc/support/log.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "common/duration.h"
#include "common/clock.h"
#include "common/clock_check.h"
#include "common/grpc_credentials.h"
#include "common/grpc_status.h"
#include "common/pki.h"

namespace preau::cli {

namespace {

constexpr char kDefaultCredentials[] = ".config/preau/credentials";
// A fleet listing with full inventories (hundreds of apps per device) outgrows gRPC's
// default 4 MB limit at a few thousand devices.
constexpr int kMaxMessageBytes = 256 * 1024 * 1024;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// gRPC logs TLS handshake failures on stderr on top of the status it returns; the CLI
// explains the status itself, so the log is noise unless someone asks for it.
void QuietGrpcLogs() {
  if (!Env("GRPC_VERBOSITY").empty() || !Env("PREAU_DEBUG").empty()) return;
  gpr_set_log_function([](gpr_log_func_args*) {});
}

std::string Seconds(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace

std::string ResolveCredentialsPath(const ConnectionOptions& opts) {
  if (!opts.credentials_path.empty()) return opts.credentials_path;
  std::string env = Env("PREAU_CREDENTIALS");
  if (!env.empty()) return env;
  std::string home = Env("HOME");
  return (home.empty() ? std::string(".") : home) + "/" + kDefaultCredentials;
}

Result<std::unique_ptr<AdminClient>> AdminClient::Connect(const ConnectionOptions& opts) {
  std::unique_ptr<AdminClient> c(new AdminClient());
  c->credentials_path_ = ResolveCredentialsPath(opts);
  auto creds = LoadCredentials(c->credentials_path_);
  if (!creds.ok()) {
    std::string hint;
    if (opts.credentials_path.empty() && Env("PREAU_CREDENTIALS").empty()) {
      hint = " (give a credentials file with --credentials FILE or $PREAU_CREDENTIALS)";
    }
    return Status(creds.status().code(), creds.status().message() + hint);
  }
  c->credentials_ = std::move(creds).value();
  Status match = pki::CheckKeyMatchesCertificate(c->credentials_.key_pem, c->credentials_.cert_pem);
  if (!match.ok()) {
    return InvalidArgument(c->credentials_path_ + ": the key does not belong to the certificate: " +
                           match.message());
  }

  // An expired certificate fails the TLS handshake with no word of why: say it here.
  if (auto cert = pki::ParseCertificate(c->credentials_.cert_pem); cert.ok()) {
    int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count();
    if (cert->not_after_unix <= now_s) {
      // A clock set years ahead looks the same as an expired certificate: name the clock
      // first, so that nobody renews credentials that are fine.
      auto clock = ClockProblem(now_s * 1000, c->credentials_.cert_pem, c->credentials_.ca_pem,
                                "the certificate in " + c->credentials_path_);
      return Unauthenticated(c->credentials_path_ + ": " + (clock ? *clock + ". If the clock is right, " : "") +
                             "the certificate of operator '" + cert->common_name +
                             "' expired on " + FormatLocalTime(cert->not_after_unix * 1000) +
                             ": ask an administrator for new credentials (`preau operators "
                             "renew " + cert->common_name + " --out FILE`)");
    }
  }
  c->server_ = opts.server;
  if (c->server_.empty()) c->server_ = Env("PREAU_SERVER");
  if (c->server_.empty()) c->server_ = c->credentials_.server;
  if (c->server_.empty()) {
    return InvalidArgument(c->credentials_path_ +
                           " names no server: give one with --server HOST:PORT or $PREAU_SERVER");
  }
  c->deadline_ = opts.deadline;

  QuietGrpcLogs();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  c->channel_ = grpc::CreateCustomChannel(
      c->server_,
      preau::MtlsCredentials(c->credentials_.ca_pem, c->credentials_.cert_pem,
                             c->credentials_.key_pem),
      args);
  c->admin_ = v1::AdminService::NewStub(c->channel_);
  return c;
}

std::unique_ptr<grpc::ClientContext> AdminClient::NewContext() const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + deadline_);
  return ctx;
}

Status AdminClient::Call(const std::function<grpc::Status(grpc::ClientContext*)>& rpc) const {
  auto ctx = NewContext();
  return Explain(rpc(ctx.get()));
}

Status AdminClient::Explain(const grpc::Status& status) const {
  Status st = FromGrpc(status);
  if (st.ok()) return st;
  const std::string& msg = status.error_message();
  using G = grpc::StatusCode;
  switch (status.error_code()) {
    case G::UNAVAILABLE: {
      // A handshake refused because of this machine's clock is no network fault.
      if (auto why = ClockProblem(Clock::System().NowUnixMs(), credentials_.cert_pem,
                                  credentials_.ca_pem, "the certificate in " + credentials_path_)) {
        return Status(st.code(), "cannot connect to the server at " + server_ + ": " + *why +
                                     " (" + msg + ")");
      }
      std::string hint;
      if (msg.find("certificate verify failed") != std::string::npos) {
        hint = " (is " + credentials_path_ + " made for this server? its CA does not match)";
      } else if (msg.find("Socket closed") != std::string::npos ||
                 msg.find("Connection reset") != std::string::npos) {
        hint = " (the server closed the connection before any exchange: it may be serving "
               "as many connections as it allows; try again in a moment)";
      }
      return Status(st.code(), "cannot reach the server at " + server_ + ": " + msg + hint);
    }
    case G::DEADLINE_EXCEEDED:
      return Status(st.code(), "the server at " + server_ + " did not answer within " +
                                   Seconds(deadline_));
    case G::PERMISSION_DENIED:
      return Status(st.code(), "permission denied: " + msg);
    case G::UNAUTHENTICATED:
      return Status(st.code(), "the server refused the credentials in " + credentials_path_ +
                                   ": " + msg);
    case G::UNIMPLEMENTED:
      return Status(st.code(), "the server at " + server_ +
                                   " does not offer this command (is it older than this CLI?)");
    case G::INVALID_ARGUMENT:
    case G::NOT_FOUND:
    case G::ALREADY_EXISTS:
    case G::FAILED_PRECONDITION:
    case G::RESOURCE_EXHAUSTED:
      return st;  // the server's own message names what was wrong
    default:
      return Status(st.code(), "server error: " + msg);
  }
}

}  // namespace preau::cli

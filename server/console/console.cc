#include "server/console/console.h"

#include "common/pki.h"
#include "preau/v1/console.grpc.pb.h"
#include "server/admin/authz.h"
#include "server/admin/operator_call.h"
#include "server/console/console_app.h"
#include "server/console/console_http.h"
#include "server/console/passwords.h"
#include "server/console/sessions.h"

namespace preau::server {

namespace {

// The longest a console session may last: a school day, not a standing credential.
constexpr int64_t kMaxSessionMs = 24 * 3600 * 1000LL;

// The host a browser reaches the console at: the listen address when it names one, else
// the first name of the server certificate other than localhost (what `init --host` gave).
std::string PublicHost(const ServerCore& core) {
  std::string host = core.console_listen.substr(0, core.console_listen.rfind(':'));
  if (!host.empty() && host != "0.0.0.0" && host != "[::]" && host != "::") return host;
  auto cert = pki::ParseCertificate(core.keys.server_cert_pem);
  if (cert.ok()) {
    for (const auto& n : cert->dns_names) {
      if (n != "localhost") return n;
    }
  }
  return "localhost";
}

class ConsoleServiceImpl final : public v1::ConsoleService::CallbackService {
 public:
  ConsoleServiceImpl(ServerCore& core, ConsoleSessions& sessions, ConsolePasswords& passwords)
      : core_(core), sessions_(sessions), passwords_(passwords) {}

  grpc::ServerUnaryReactor* SetPassword(grpc::CallbackServerContext* ctx,
                                        const v1::ConsolePasswordRequest* req,
                                        v1::ConsolePasswordResponse*) override {
    return RunAdminCall(core_, ctx, "ConsoleService.SetPassword", req->operator_name(),
                        [&](const OperatorRecord& caller) -> Status {
      PREAU_ASSIGN_OR_RETURN(auto target, OperatorInScope(*core_.store, caller,
                                                          req->operator_name()));
      if (target.revoked_ms != 0) {
        return FailedPrecondition("operator '" + target.name + "' is revoked");
      }
      return passwords_.Set(target.name, req->password());
    });
  }

  grpc::ServerUnaryReactor* CreateLink(grpc::CallbackServerContext* ctx,
                                       const v1::ConsoleLinkRequest* req,
                                       v1::ConsoleLinkResponse* out) override {
    return RunAdminCall(core_, ctx, "ConsoleService.CreateLink", req->operator_name(),
                        [&](const OperatorRecord& caller) -> Status {
      if (core_.console_port == 0) {
        return FailedPrecondition("the console is off on this server: start it with "
                                  "`preau-server run --console-listen ADDR:PORT`");
      }
      // Only for an operator within the caller's scopes (others answer as unknown).
      PREAU_ASSIGN_OR_RETURN(auto target, OperatorInScope(*core_.store, caller,
                                                          req->operator_name()));
      if (target.revoked_ms != 0) {
        return FailedPrecondition("operator '" + target.name + "' is revoked");
      }
      int64_t now = core_.Now();
      int64_t until = req->session_until_unix_ms();
      if (until == 0) until = EndOfLocalDay(now);
      if (until <= now) return InvalidArgument("--until: the session would end in the past");
      if (until - now > kMaxSessionMs) return InvalidArgument("--until: at most 24 hours ahead");
      PREAU_ASSIGN_OR_RETURN(auto link, sessions_.CreateLink(target.name, until, now));
      out->set_url("https://" + PublicHost(core_) + ":" + std::to_string(core_.console_port) +
                   "/connexion#" + link.token);
      out->set_expires_unix_ms(link.expires_ms);
      out->set_session_until_unix_ms(until);
      // The link is a secret: the audit row names who it is for, never the token.
      return Status::Ok();
    });
  }

 private:
  ServerCore& core_;
  ConsoleSessions& sessions_;
  ConsolePasswords& passwords_;
};

// Everything the domain keeps alive, in destruction order: the socket goes before the
// app it calls, the app before the sessions.
struct Console {
  Console(ServerCore& core, ClassCommands& classes)
      : sessions(*core.store), passwords(*core.store), app(core, classes, sessions, passwords),
        service(core, sessions, passwords) {}
  ~Console() {
    app.EndStreams();  // they hold the HTTP server's executors: released while it runs
    http.reset();
  }
  ConsoleSessions sessions;
  ConsolePasswords passwords;
  ConsoleApp app;
  ConsoleServiceImpl service;
  std::unique_ptr<ConsoleHttpServer> http;
};

}  // namespace

Status RegisterConsole(DomainRegistry& registry, ClassCommands& classes) {
  ServerCore& core = registry.core();
  auto* c = registry.Keep(std::make_shared<Console>(core, classes));
  registry.AddService(&c->service);
  if (!core.console_listen.empty()) {
    PREAU_ASSIGN_OR_RETURN(c->http, ConsoleHttpServer::Start(core.console_listen, core.keys, c->app));
    core.console_port = c->http->port();
  }
  return Status::Ok();
}

}  // namespace preau::server

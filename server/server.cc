#include "server/server.h"

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "common/credentials.h"
#include "common/files.h"
#include "common/pki.h"
#include "server/admin/admin_service.h"
#include "server/domains.h"
#include "server/fleet/device_service.h"
#include "server/fleet/replicas.h"
#include "server/pki/server_keys.h"
#include "server/store/postgres_db.h"

namespace preau::server {

namespace {
constexpr int kMaxMessageBytes = 4 * 1024 * 1024;
// In a data folder whose store is on PostgreSQL: the store's URL (see InitOptions::store).
constexpr const char* kStoreUrlFile = "store.url";

Status InitInto(const InitOptions& opts) {
  const std::string& dir = opts.data_dir;
  std::error_code ec;
  std::filesystem::create_directories(dir + "/artifacts", ec);
  if (ec) return Internal("creating " + dir + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  std::string location = dir + "/store.db";
  if (!opts.store.empty()) {
    if (!PostgresDb::IsUrl(opts.store)) {
      return InvalidArgument("--store '" + PostgresDb::Redacted(opts.store) +
                             "' is not a postgresql://USER@HOST:PORT/DATABASE URL");
    }
    location = opts.store;
    // Only the owner reads it: the URL may carry the database password.
    PREAU_RETURN_IF_ERROR(WriteFileAtomic(dir + "/" + kStoreUrlFile, location + "\n", 0600));
  }
  PREAU_ASSIGN_OR_RETURN(auto store, Store::Open(location, /*create=*/true));
  PREAU_ASSIGN_OR_RETURN(auto keys, CreateServerKeys(dir, opts.authority_name, opts.hosts));
  int64_t now = Clock::System().NowUnixMs();
  PREAU_RETURN_IF_ERROR(store->SetMeta("authority_name", opts.authority_name));

  PREAU_ASSIGN_OR_RETURN(auto admin_key, pki::GenerateKey());
  pki::IssueRequest req;
  req.public_key_pem = admin_key.public_key_pem;
  req.common_name = "admin";
  req.organizational_unit = "operator";
  PREAU_ASSIGN_OR_RETURN(auto cert, pki::IssueCertificate(keys.ca_cert_pem, keys.ca_key_pem, req));
  OperatorRecord op;
  op.name = "admin";
  op.role = v1::ROLE_ADMIN;
  op.cert_serial = cert.serial_hex;
  op.created_ms = now;
  op.created_by = "preau-server init";
  PREAU_ASSIGN_OR_RETURN(auto info, pki::ParseCertificate(cert.certificate_pem));
  op.cert_expires_ms = info.not_after_unix * 1000;
  PREAU_RETURN_IF_ERROR(store->CreateOperator(op));
  Credentials creds;
  creds.server = opts.admin_server_address.empty() ? "localhost:7443" : opts.admin_server_address;
  creds.name = "admin";
  creds.ca_pem = keys.ca_cert_pem;
  creds.cert_pem = cert.certificate_pem;
  creds.key_pem = admin_key.private_key_pem;
  PREAU_RETURN_IF_ERROR(SaveCredentials(dir + "/admin.credentials", creds));
  v1::AuditEntry e;
  e.set_at_unix_ms(now);
  e.set_actor("preau-server init");
  e.set_action("server.init");
  e.set_target(dir);
  e.set_result("ok");
  return store->AppendAudit(e);
}
}  // namespace

Result<std::string> StoreLocation(const std::string& data_dir) {
  const std::string url_file = data_dir + "/" + kStoreUrlFile;
  if (std::filesystem::exists(url_file)) {
    PREAU_ASSIGN_OR_RETURN(std::string url, ReadFile(url_file));
    while (!url.empty() && (url.back() == '\n' || url.back() == ' ')) url.pop_back();
    return url;
  }
  if (!std::filesystem::exists(data_dir + "/store.db")) {
    return NotFound("no Préau data folder at " + data_dir + " (create one with `preau-server init`)");
  }
  return data_dir + "/store.db";
}

Status InitDataDir(const InitOptions& opts) {
  if (opts.data_dir.empty()) return InvalidArgument("--data is required");
  if (std::filesystem::exists(opts.data_dir)) {
    return AlreadyExists("data folder " + opts.data_dir +
                         " already exists; refusing to overwrite it (choose a new --data)");
  }
  Status st = InitInto(opts);
  if (!st.ok()) {
    std::error_code ec;
    std::filesystem::remove_all(opts.data_dir, ec);
  }
  return st;
}

Result<std::unique_ptr<Server>> Server::Start(const RunOptions& opts) {
  std::unique_ptr<Server> s(new Server());
  s->core_ = std::make_unique<ServerCore>();
  ServerCore& core = *s->core_;
  core.data_dir = opts.data_dir;
  core.console_listen = opts.console_listen;
  if (opts.clock) core.clock = opts.clock;
  PREAU_ASSIGN_OR_RETURN(std::string location, StoreLocation(opts.data_dir));
  PREAU_ASSIGN_OR_RETURN(core.store, Store::Open(location, /*create=*/false));
  PREAU_ASSIGN_OR_RETURN(core.keys, LoadServerKeys(opts.data_dir));
  core.connect_admission =
      std::make_unique<Admission>(opts.admit_connects_per_s, opts.admit_connects_per_s);
  core.enroll_admission =
      std::make_unique<Admission>(opts.admit_enrolments_per_s, opts.admit_enrolments_per_s);

  auto device = std::make_unique<DeviceServiceImpl>(core);
  auto admin = std::make_unique<AdminServiceImpl>(core);

  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = core.keys.ca_cert_pem;
  ssl.pem_key_cert_pairs.push_back({core.keys.server_key_pem, core.keys.server_cert_pem});

  // The server accepts connections itself (see AcceptLoop) and hands them to gRPC, which
  // does the TLS handshake: gRPC 1.51's own listener stops for good after one EMFILE.
  PREAU_ASSIGN_OR_RETURN(s->accept_, AcceptLoop::Listen(opts.listen));
  s->port_ = s->accept_->port();
  s->admit_connects_per_s_ = opts.admit_connects_per_s;
  grpc::ServerBuilder builder;
  s->acceptor_ = builder.experimental().AddExternalConnectionAcceptor(
      grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD,
      grpc::SslServerCredentials(ssl));
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, opts.handshake_timeout_ms);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, opts.idle_timeout_ms);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  // Agents ping every minute to keep NATs open and notice dead links; allow it.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 20000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 120000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  builder.RegisterService(device.get());
  builder.RegisterService(admin.get());
  DomainRegistry domains(core, builder);
  PREAU_RETURN_IF_ERROR(RegisterDomains(domains));
  s->components_ = domains.TakeKept();
  if (PostgresDb::IsUrl(location)) {
    ReplicaOptions replica;
    replica.store_url = location;
    PREAU_ASSIGN_OR_RETURN(
        auto replicas,
        Replicas::Start(replica, core.connections, *core.clock,
                        [&core](const std::string& device_id, const v1::CommandAck& ack) {
                          if (core.remote_ack) core.remote_ack(device_id, ack);
                        }));
    std::fprintf(stderr, "preau-server: replica %s on %s\n", replicas->name().c_str(),
                 PostgresDb::Redacted(location).c_str());
    // Its thread stops before the domains go (it calls into the class domain), but the
    // object outlives them: their threads may still ask Connections about a device.
    struct StopFirst {
      Replicas* replicas;
      ~StopFirst() { replicas->Stop(); }
    };
    std::shared_ptr<StopFirst> stop_first(new StopFirst{replicas.get()});
    s->components_.insert(s->components_.begin(), std::shared_ptr<Replicas>(std::move(replicas)));
    s->components_.push_back(std::move(stop_first));
  }
  s->services_.push_back(std::move(device));
  s->services_.push_back(std::move(admin));
  s->grpc_ = builder.BuildAndStart();
  if (!s->grpc_ || s->port_ == 0) return Unavailable("could not listen on " + opts.listen);
  s->accept_->Start(s->acceptor_.get(), opts.max_connections);
  return s;
}

void Server::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  accept_->Stop();
  // Each device is told when to come back, at the pace this server admits connections:
  // the same server restarted (an upgrade) then takes its fleet back in turn.
  core_->connections.CloseAll(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down"),
                              admit_connects_per_s_);
  // Those words reach a device only if its stream finishes before gRPC cancels what is
  // left: with 18,000 streams that takes longer than gRPC's grace. Wait for them (each
  // stream leaves Connections as it finishes), within kStreamsGoneWithin.
  constexpr auto kStreamsGoneWithin = std::chrono::seconds(10);
  auto until = std::chrono::steady_clock::now() + kStreamsGoneWithin;
  while (core_->connections.Count() > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

void Server::Wait() { grpc_->Wait(); }

Server::~Server() {
  if (grpc_) {
    Shutdown();
    grpc_->Wait();
  }
  // Last registered, first freed: a component goes before those it was given.
  while (!components_.empty()) components_.pop_back();
}

}  // namespace preau::server

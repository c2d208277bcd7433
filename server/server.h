// Server: one running Préau server — its data folder, its gRPC services on one mTLS port,
// and the domain features plugged into device streams. Tests run it in-process on
// 127.0.0.1:0; `preau-server run` runs it until SIGTERM.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/server.h>

#include "common/status.h"
#include "server/net/accept_loop.h"
#include "server/server_core.h"

namespace preau::server {

struct InitOptions {
  std::string data_dir;
  std::string authority_name = "Préau";
  std::vector<std::string> hosts;   // extra names / addresses for the server certificate
  std::string admin_server_address; // written into admin.credentials
  // postgresql://USER[:PASSWORD]@HOST:PORT/DB to keep the store there (remembered in
  // DIR/store.url for `run`); empty: the SQLite file DIR/store.db.
  std::string store;
};

// Creates a new data folder: store, keys, the first administrator and its credentials
// (DIR/admin.credentials). Refuses a folder that already exists; on failure removes what
// it created, so a half-made folder is never left behind.
Status InitDataDir(const InitOptions& opts);
// Where a data folder keeps its store: the URL in DIR/store.url, or DIR/store.db.
Result<std::string> StoreLocation(const std::string& data_dir);

struct RunOptions {
  std::string data_dir;
  std::string listen = "127.0.0.1:0";
  const Clock* clock = nullptr;  // tests inject a ManualClock
  // Connections served at once (lowered to fit the file limit); more are closed at accept.
  size_t max_connections = 50000;
  // A connection that has not finished its TLS handshake and HTTP/2 preface by then is
  // closed: what an idle or slow unauthenticated client can hold.
  int handshake_timeout_ms = 10000;
  // A connection with no call in flight for this long is closed (devices keep a stream
  // open, so this only ends clients that connected and stopped talking).
  int idle_timeout_ms = 60000;
  // Devices let in per second (a burst of as many at once), Connect streams and
  // enrolments; beyond, they are told to retry later (server/fleet/admission.h). 0: no
  // limit.
  double admit_connects_per_s = 300;
  double admit_enrolments_per_s = 100;
  // The teachers' console over HTTPS ("ADDR:PORT"; "" = off). See server/console.
  std::string console_listen;
};

class Server {
 public:
  ~Server();
  // Opens the data folder, starts every service and listens. The port chosen is port().
  static Result<std::unique_ptr<Server>> Start(const RunOptions& opts);
  int port() const { return port_; }
  // The console's HTTPS port (0 when it is off).
  int console_port() const { return core_->console_port; }
  ServerCore& core() { return *core_; }
  AcceptLoop::Stats connection_stats() const { return accept_->stats(); }
  // Stops accepting, closes device streams, finishes what is in flight.
  void Shutdown();
  void Wait();

 private:
  Server() = default;
  std::unique_ptr<ServerCore> core_;
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::vector<std::shared_ptr<void>> components_;  // domain components kept alive
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor_;
  std::unique_ptr<AcceptLoop> accept_;  // stopped before grpc_ shuts down
  std::unique_ptr<grpc::Server> grpc_;
  int port_ = 0;
  double admit_connects_per_s_ = 0;  // also the pace its devices are told to come back at
  bool shut_down_ = false;
};

}  // namespace preau::server

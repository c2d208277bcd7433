// ConsoleHttpServer: the HTTPS socket of the teachers' console — the only code that
// knows Boost.Beast (it costs ~20 s to compile, so it stays in one file). It serves TLS
// with the server's own certificate chain, reads HTTP/1.1 requests with size and time
// limits, hands each one to ConsoleApp as plain data and writes the answer back with the
// console's security headers; an event-stream answer stays open while the page is. At
// most 2,000 connections at once (more are closed at accept); a connection that has not
// finished its TLS handshake within 10 s, or sent no request for 60 s, is closed.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "server/console/console_app.h"
#include "server/pki/server_keys.h"

namespace preau::server {

class ConsoleHttpServer {
 public:
  // Listens on `listen` ("ADDR:PORT", port 0 picks one) and serves `app` on its own
  // threads until destroyed.
  static Result<std::unique_ptr<ConsoleHttpServer>> Start(const std::string& listen,
                                                          const ServerKeys& keys,
                                                          ConsoleApp& app);
  ~ConsoleHttpServer();
  int port() const;

 private:
  struct Impl;
  explicit ConsoleHttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace preau::server

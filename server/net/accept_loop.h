// AcceptLoop: the server's own accept(2) loop in front of gRPC, so that no client can stop
// the server by using up its file descriptors.
//
// gRPC 1.51's listener gives up for good after one failed accept4 (EMFILE): the listen
// queue then never drains and the server must be restarted. This loop owns the listening
// socket instead and hands each accepted connection to gRPC (which still does the TLS
// handshake, with its handshake timeout, and everything after). It
//  - never stops on an accept error: on EMFILE/ENFILE it frees one spare descriptor it
//    keeps for that purpose, takes the waiting connection off the queue, closes it and
//    takes the spare back, so the queue keeps draining and the peer learns at once;
//  - caps the connections it has handed over (below the file limit, leaving room for the
//    database, artifacts and gRPC's own descriptors): a connection beyond the cap is
//    closed at once rather than left waiting, so a client fails fast instead of hanging;
//  - keeps serving: connections that never finish their handshake are closed by gRPC's
//    handshake timeout, idle ones by its idle timeout, which frees room under the cap.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include <grpcpp/server_builder.h>

#include "common/status.h"

namespace preau::server {

class AcceptLoop {
 public:
  struct Stats {
    size_t open = 0;             // connections handed to gRPC and still open
    size_t cap = 0;              // the most handed over at once
    uint64_t accepted = 0;       // handed to gRPC since start
    uint64_t refused_full = 0;   // closed at once because `cap` were open
    uint64_t refused_emfile = 0; // closed at once because the process had no descriptor
  };

  // Binds and listens on `address` ("127.0.0.1:0", "0.0.0.0:7443", "[::]:7443").
  static Result<std::unique_ptr<AcceptLoop>> Listen(const std::string& address);
  ~AcceptLoop();

  int port() const { return port_; }
  // Starts accepting on a thread of its own and hands connections to `acceptor`, at most
  // `max_connections` at once (and never more than the file limit allows).
  void Start(grpc::experimental::ExternalConnectionAcceptor* acceptor, size_t max_connections);
  // Stops accepting and closes the listening socket; connections already handed over stay
  // gRPC's.
  void Stop();
  Stats stats() const;

 private:
  AcceptLoop() = default;
  void Run();
  void AcceptReady();
  // Forgets the connections gRPC has closed since the last look (a scan of every open
  // one, so not more often than `at_most_every`).
  void Reap(std::chrono::steady_clock::duration at_most_every);

  int listen_fd_ = -1;
  int wake_fd_ = -1;   // eventfd that stops Run()
  int spare_fd_ = -1;  // given up for a moment to drain the queue on EMFILE
  int port_ = 0;
  grpc::experimental::ExternalConnectionAcceptor* acceptor_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stopping_{false};

  mutable std::mutex mu_;
  // Descriptor -> inode of the socket handed over; a descriptor whose inode changed (or
  // that is closed) was closed by gRPC.
  std::unordered_map<int, uint64_t> open_;
  Stats stats_;
  bool emfile_logged_ = false;
  std::chrono::steady_clock::time_point last_reap_;  // the accept thread's only
};

}  // namespace preau::server

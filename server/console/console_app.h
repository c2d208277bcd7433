// ConsoleApp: the teachers' console behind its HTTPS socket — the page's files, sign-in
// by one-time link, and the JSON and Server-Sent Events the page uses: the operator's
// classes, one class's grid of devices (pushed again whenever a device of it changes:
// DeviceEvents, never polled), and the class commands. It holds no rule of its own:
// every read and every command is an OperatorCall on the RPC the CLI would call
// (AdminService.ListGroups, AdminService.ListDevices, ClassService.Run), so the same
// permission table, scopes, hours and audit apply; a command runs through the same
// ClassCommands as ClassService. Each request re-reads its operator: a revoked one is
// refused at once, and its open event streams are ended (OpenCalls). Sign-in is by a
// one-time link or by password (ConsolePasswords), each with its failures rate-limited.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "server/classroom/class_service.h"
#include "server/console/http_types.h"
#include "server/console/passwords.h"
#include "server/console/sessions.h"
#include "server/fleet/failure_limiter.h"
#include "server/server_core.h"

namespace preau::server {

struct StreamRegistry;

class ConsoleApp {
 public:
  ConsoleApp(ServerCore& core, ClassCommands& classes, ConsoleSessions& sessions,
             ConsolePasswords& passwords);
  ~ConsoleApp();

  // Answers one request by calling `reply` once, on this thread or later from another
  // (a class command waits for the devices' acks).
  void Handle(const HttpRequest& req, std::function<void(HttpResponse)> reply);

  // Ends every open event stream, while the HTTP server that writes them still runs (the
  // console stops before that server: see Console in console.cc).
  void EndStreams();
  // How many event streams (open consoles) there are.
  size_t open_streams() const;

 private:
  struct Caller;
  class GridStream;

  HttpResponse Asset(const std::string& path);
  void SignIn(const HttpRequest& req, std::function<void(HttpResponse)> reply);
  HttpResponse SessionInfo(const Caller& caller);
  HttpResponse Grid(const Caller& caller, const std::string& group);
  HttpResponse Events(const Caller& caller, const std::string& group);
  void Command(const Caller& caller, const HttpRequest& req,
               std::function<void(HttpResponse)> reply);
  // The signed-in operator behind the request, or the response that refuses it.
  Result<Caller> Authenticate(const HttpRequest& req);
  // A class's grid as JSON, checked as AdminService.ListDevices for `caller`.
  // `ids` gets the ids of the devices shown; `version` the grid's place in the order in
  // which grids were read (a later one never shows an older state).
  Result<std::string> GridJson(const std::string& operator_name, const std::string& peer,
                               const std::string& group, std::set<std::string>* ids,
                               uint64_t* version = nullptr);
  // Has every open stream of `group` send its next grid even if unchanged (a command's
  // answer drew a grid of its own on a page).
  void ResendGrids(const std::string& group);

  ServerCore& core_;
  ClassCommands& classes_;
  ConsoleSessions& sessions_;
  ConsolePasswords& passwords_;
  FailureLimiter sign_in_failures_;   // per address: links and passwords
  FailureLimiter password_failures_;  // per operator name, from any address
  std::shared_ptr<StreamRegistry> streams_;
  // Grids are read one at a time, each with the next version: the page draws a grid only
  // if it is newer than the one on screen, whichever way it came (the live stream, or a
  // command's answer). Starts at the server's start time (µs), so that it only grows
  // across a restart.
  std::mutex grid_mu_;
  uint64_t grid_version_;
  // Whether this app still runs, for the answers of commands that end after it stopped.
  struct Life {
    std::mutex mu;
    bool alive = true;
  };
  std::shared_ptr<Life> life_ = std::make_shared<Life>();
};

// A JSON error body {"erreur": message} with `status`.
HttpResponse ConsoleError(int status, const std::string& message);
// The headers every console response carries: a strict Content-Security-Policy (nothing
// inline, nothing from elsewhere), no framing, no sniffing, no referrer, HSTS.
const std::vector<std::pair<std::string, std::string>>& ConsoleSecurityHeaders();

}  // namespace preau::server

// The console's HTTP exchange as plain data, so that everything but the socket code
// (console_http.cc, the one file with Boost.Beast) is ordinary C++: a request, its
// response, and for Server-Sent Events a stream the console writes into while the
// connection lasts.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace preau::server {

struct HttpRequest {
  std::string method;        // "GET", "POST"
  std::string path;          // without the query
  std::string query;         // after '?', undecoded
  std::string body;
  std::string cookie;        // the Cookie header
  std::string csrf_token;    // the X-CSRF-Token header
  std::string peer;          // "127.0.0.1" (rate limits, audit)
};

class EventStream;

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // beside the security ones
  std::shared_ptr<EventStream> events;  // set: a text/event-stream that stays open
};

// One Server-Sent Events stream. The console sends events from any thread; the HTTP side
// attaches a writer once the response headers are out and detaches when the connection
// ends (the console then stops sending: OnDetach).
class EventStream {
 public:
  // Console side.
  void Send(const std::string& event, const std::string& data);
  void End();  // closes the connection
  void OnDetach(std::function<void()> fn);

  // HTTP side. `write` and `end` must only post work (they run under a lock).
  void Attach(std::function<void(std::string)> write, std::function<void()> end);
  void Detach();

 private:
  std::mutex mu_;
  std::function<void(std::string)> write_;
  std::function<void()> end_;
  std::function<void()> on_detach_;
  std::string pending_;  // sent before Attach
  bool ended_ = false;
  bool detached_ = false;
};

}  // namespace preau::server

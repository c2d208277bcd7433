#include "server/console/console_http.h"

#include <fcntl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <atomic>
#include <cstdio>
#include <deque>
#include <thread>
#include <vector>

namespace preau::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr auto kIdleTimeout = std::chrono::seconds(60);
// An open event stream gets a comment this often: a browser that went away without a word
// (a phone put to sleep) is noticed when the write fails, not never.
constexpr auto kPingInterval = std::chrono::seconds(25);
constexpr size_t kMaxBodyBytes = 64 * 1024;
constexpr size_t kMaxHeaderBytes = 16 * 1024;
constexpr int kThreads = 2;
// Connections served at once; more are closed at accept, so that a flood on the console's
// port cannot take the descriptors the devices' port needs.
constexpr int kMaxConnections = 2000;

const char* Reason(int status) {
  return http::obsolete_reason(static_cast<http::status>(status)).data();
}

// One browser connection: TLS, then requests one after another (keep-alive), or one
// event stream that lasts until either side ends it.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, ssl::context& tls, ConsoleApp& app, std::atomic<int>& open)
      : stream_(std::move(socket), tls), app_(app), open_(open),
        ping_(stream_.get_executor()) {
    ++open_;
    beast::error_code ec;
    auto ep = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    peer_ = ec ? "?" : ep.address().to_string();
  }

  ~Connection() { --open_; }

  void Start() {
    beast::get_lowest_layer(stream_).expires_after(kHandshakeTimeout);
    stream_.async_handshake(ssl::stream_base::server,
                            [self = shared_from_this()](beast::error_code ec) {
                              if (!ec) self->Read();
                            });
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(kMaxBodyBytes);
    parser_->header_limit(kMaxHeaderBytes);
    beast::get_lowest_layer(stream_).expires_after(kIdleTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->OnRead(ec);
                     });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::body_limit || ec == http::error::header_limit) {
      return WriteSimple(413, "{\"erreur\":\"Requête trop grande\"}", false);
    }
    if (ec) return Shutdown();
    auto& msg = parser_->get();
    HttpRequest req;
    req.method = std::string(msg.method_string());
    std::string target(msg.target());
    size_t q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) req.query = target.substr(q + 1);
    req.body = std::move(msg.body());
    if (auto it = msg.find(http::field::cookie); it != msg.end()) req.cookie = std::string(it->value());
    if (auto it = msg.find("X-CSRF-Token"); it != msg.end()) req.csrf_token = std::string(it->value());
    req.peer = peer_;
    keep_alive_ = msg.keep_alive();
    head_ = msg.method() == http::verb::head;
    beast::get_lowest_layer(stream_).expires_never();
    // The app may answer later from another thread: back onto this connection's strand.
    app_.Handle(req, [self = shared_from_this()](HttpResponse r) {
      asio::post(self->stream_.get_executor(),
                 [self, r = std::move(r)]() mutable { self->Respond(std::move(r)); });
    });
  }

  std::string Head(int status, const HttpResponse& r, bool stream) {
    std::string h = "HTTP/1.1 " + std::to_string(status) + " " + Reason(status) + "\r\n";
    h += "Content-Type: " + r.content_type + "\r\n";
    for (const auto& [k, v] : ConsoleSecurityHeaders()) h += k + ": " + v + "\r\n";
    bool cache_set = false;
    for (const auto& [k, v] : r.headers) {
      h += k + ": " + v + "\r\n";
      cache_set |= k == "Cache-Control";
    }
    if (!cache_set) h += "Cache-Control: no-store\r\n";
    if (stream) {
      h += "Connection: close\r\n\r\n";
    } else {
      h += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
      h += keep_alive_ ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
    }
    return h;
  }

  void Respond(HttpResponse r) {
    if (r.events) return StartStream(std::move(r));
    // A HEAD answer says the length of the body it leaves out.
    Queue(head_ ? Head(r.status, r, false) : Head(r.status, r, false) + r.body);
    after_write_ = keep_alive_ ? After::kRead : After::kClose;
  }

  void WriteSimple(int status, std::string body, bool keep) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    keep_alive_ = keep;
    Respond(std::move(r));
  }

  // An event stream: the header, then whatever the app sends, until it ends the stream
  // or the browser goes away (noticed by a read that can only end in an error).
  void StartStream(HttpResponse r) {
    events_ = r.events;
    after_write_ = After::kNothing;
    Queue(Head(200, r, true));
    std::weak_ptr<Connection> weak = shared_from_this();
    auto exec = stream_.get_executor();
    events_->Attach(
        [weak, exec](std::string chunk) {
          asio::post(exec, [weak, chunk = std::move(chunk)]() mutable {
            if (auto self = weak.lock()) self->Queue(std::move(chunk));
          });
        },
        [weak, exec] {
          asio::post(exec, [weak] {
            if (auto self = weak.lock()) self->EndStream();
          });
        });
    stream_.async_read_some(asio::buffer(scratch_),
                            [self = shared_from_this()](beast::error_code, size_t) {
                              self->EndStream();
                            });
    Ping();
  }

  void Ping() {
    ping_.expires_after(kPingInterval);
    ping_.async_wait([weak = weak_from_this()](beast::error_code ec) {
      auto self = weak.lock();
      if (!self || ec || self->ending_ || self->closed_) return;
      self->Queue(": ping\n\n");
      self->Ping();
    });
  }

  void EndStream() {
    if (ending_) return;
    ending_ = true;
    if (events_) events_->Detach();
    if (writing_) {
      after_write_ = After::kClose;
    } else {
      Shutdown();
    }
  }

  void Queue(std::string data) {
    out_.push_back(std::move(data));
    if (!writing_) WriteNext();
  }

  void WriteNext() {
    if (out_.empty()) {
      writing_ = false;
      if (after_write_ == After::kRead) {
        after_write_ = After::kNothing;
        Read();
      } else if (after_write_ == After::kClose) {
        Shutdown();
      }
      return;
    }
    writing_ = true;
    asio::async_write(stream_, asio::buffer(out_.front()),
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        self->out_.pop_front();
                        if (ec) {
                          self->out_.clear();
                          self->writing_ = false;
                          if (self->events_) self->events_->Detach();
                          self->Close();
                          return;
                        }
                        self->WriteNext();
                      });
  }

  void Shutdown() {
    if (closed_) return;
    if (events_) events_->Detach();
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) { self->Close(); });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    ping_.cancel();
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(stream_).close();
  }

  enum class After { kNothing, kRead, kClose };

  beast::ssl_stream<beast::tcp_stream> stream_;
  ConsoleApp& app_;
  std::atomic<int>& open_;
  std::string peer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = false;
  bool head_ = false;
  std::deque<std::string> out_;
  bool writing_ = false;
  After after_write_ = After::kNothing;
  std::shared_ptr<EventStream> events_;
  asio::steady_timer ping_;
  char scratch_[512];
  bool ending_ = false;
  bool closed_ = false;
};

}  // namespace

static void CloseOnExec(int fd) { ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC); }

struct ConsoleHttpServer::Impl {
  Impl(ConsoleApp& a) : app(a), tls(ssl::context::tls_server), acceptor(io) {}
  asio::io_context io;
  ConsoleApp& app;
  ssl::context tls;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
  int port = 0;
  std::atomic<int> open{0};

  void Accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec && open.load() >= kMaxConnections) {
        s.close(ec);  // over the cap: closed at once
      } else if (!ec) {
        CloseOnExec(s.native_handle());
        std::make_shared<Connection>(std::move(s), tls, app, open)->Start();
      } else if (ec == asio::error::no_descriptors) {
        // Out of descriptors: give the others time to close before accepting again.
        auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(100));
        timer->async_wait([this, timer](beast::error_code) { Accept(); });
        return;
      }
      Accept();
    });
  }
};

ConsoleHttpServer::ConsoleHttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<ConsoleHttpServer>> ConsoleHttpServer::Start(const std::string& listen,
                                                                    const ServerKeys& keys,
                                                                    ConsoleApp& app) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return InvalidArgument("--console-listen '" + listen + "': expected ADDR:PORT");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (...) {
    port = -1;
  }
  if (port < 0 || port > 65535) {
    return InvalidArgument("--console-listen '" + listen + "': the port must be 0-65535");
  }
  beast::error_code ec;
  auto addr = asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) return InvalidArgument("--console-listen '" + listen + "': '" + host + "' is not an IP address");

  auto impl = std::make_unique<Impl>(app);
  impl->tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                        ssl::context::no_tlsv1_1);
  // The same chain as the gRPC port: the server certificate, then the CA that signed it.
  std::string chain = keys.server_cert_pem + keys.ca_cert_pem;
  impl->tls.use_certificate_chain(asio::buffer(chain), ec);
  if (!ec) impl->tls.use_private_key(asio::buffer(keys.server_key_pem), ssl::context::pem, ec);
  if (ec) return Internal("console TLS setup: " + ec.message());

  tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  impl->acceptor.open(ep.protocol(), ec);
  // Not inherited by a program the server's process starts: it would hold the port (and
  // keep it from being listened on again after a restart) for as long as it runs.
  if (!ec) CloseOnExec(impl->acceptor.native_handle());
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Unavailable("console: could not listen on " + listen + ": " + ec.message());
  impl->port = impl->acceptor.local_endpoint().port();
  impl->Accept();
  for (int i = 0; i < kThreads; ++i) {
    impl->threads.emplace_back([io = &impl->io] { io->run(); });
  }
  return std::unique_ptr<ConsoleHttpServer>(new ConsoleHttpServer(std::move(impl)));
}

int ConsoleHttpServer::port() const { return impl_->port; }

ConsoleHttpServer::~ConsoleHttpServer() {
  asio::post(impl_->io, [impl = impl_.get()] {
    beast::error_code ec;
    impl->acceptor.close(ec);
  });
  impl_->io.stop();
  for (auto& t : impl_->threads) t.join();
}

}  // namespace preau::server

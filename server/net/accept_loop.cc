#include "server/net/accept_loop.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace preau::server {

namespace {

// Descriptors kept free beyond the connections for the database, artifacts being served,
// logs and gRPC's own (its threads' wake-ups and pollers): a few dozen in use, measured
// with 19,000 devices connected; 2 % of the limit (400 of 20,000) leaves ample room.
size_t ReservedDescriptors(size_t limit) { return std::max<size_t>(64, limit / 50); }

size_t FileLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 1 << 20;
  return static_cast<size_t>(rl.rlim_cur);
}

uint64_t SocketInode(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return 0;
  return static_cast<uint64_t>(st.st_ino);
}

int OpenSpare() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

}  // namespace

Result<std::unique_ptr<AcceptLoop>> AcceptLoop::Listen(const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size()) {
    return InvalidArgument("listen address '" + address + "' is not HOST:PORT");
  }
  std::string host = address.substr(0, colon), port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    return InvalidArgument("listen address '" + address + "': " + gai_strerror(rc));
  }
  std::unique_ptr<AcceptLoop> loop(new AcceptLoop());
  std::string last_error = "no address";
  for (addrinfo* ai = res; ai != nullptr && loop->listen_fd_ < 0; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6) {
      int zero = 0;  // "[::]" also takes IPv4, as gRPC's own listener does
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    }
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
      last_error = std::strerror(errno);
      ::close(fd);
      continue;
    }
    loop->listen_fd_ = fd;
  }
  freeaddrinfo(res);
  if (loop->listen_fd_ < 0) {
    return Unavailable("could not listen on " + address + ": " + last_error);
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(loop->listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len);
  loop->port_ = ntohs(bound.ss_family == AF_INET6
                          ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                          : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  loop->wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  loop->spare_fd_ = OpenSpare();
  if (loop->wake_fd_ < 0 || loop->spare_fd_ < 0) {
    return Unavailable(std::string("could not set up the accept loop: ") + std::strerror(errno));
  }
  return loop;
}

AcceptLoop::~AcceptLoop() {
  Stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (spare_fd_ >= 0) ::close(spare_fd_);
}

void AcceptLoop::Start(grpc::experimental::ExternalConnectionAcceptor* acceptor,
                       size_t max_connections) {
  acceptor_ = acceptor;
  size_t limit = FileLimit();
  size_t room = limit > ReservedDescriptors(limit) ? limit - ReservedDescriptors(limit) : 1;
  stats_.cap = std::max<size_t>(1, std::min(max_connections, room));
  thread_ = std::thread([this] { Run(); });
}

void AcceptLoop::Stop() {
  if (stopping_.exchange(true)) return;
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
    thread_.join();
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
}

AcceptLoop::Stats AcceptLoop::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void AcceptLoop::Run() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int n = ::poll(fds, 2, 1000);
    if (stopping_ || (n > 0 && (fds[1].revents & POLLIN))) break;
    Reap(std::chrono::seconds(1));
    if (n > 0 && (fds[0].revents & POLLIN)) AcceptReady();
  }
}

void AcceptLoop::AcceptReady() {
  // A bounded batch, so that a flood cannot keep this loop from noticing Stop().
  for (int i = 0; i < 256 && !stopping_; ++i) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      if (err == EMFILE || err == ENFILE) {
        // Out of descriptors: use the spare to take the waiting connection off the queue
        // and close it, so its peer fails at once and the queue keeps moving.
        bool first;
        {
          std::lock_guard<std::mutex> lock(mu_);
          first = !emfile_logged_;
          emfile_logged_ = true;
        }
        if (first) {
          std::fprintf(stderr,
                       "preau-server: accept: %s; closing new connections until descriptors "
                       "are free again\n",
                       std::strerror(err));
        }
        if (spare_fd_ >= 0) ::close(spare_fd_);
        int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) {
          ::close(c);
          // Counted only when a connection was refused: accept4 says EMFILE even with an
          // empty queue (it takes a descriptor first), so the attempts overcount.
          std::lock_guard<std::mutex> lock(mu_);
          ++stats_.refused_emfile;
        }
        spare_fd_ = OpenSpare();
        Reap(std::chrono::milliseconds(50));
        if (c < 0) return;  // nothing could be freed: wait for the next poll
        continue;
      }
      // ENOBUFS, ENOMEM and the like: try again at the next poll rather than give up.
      std::fprintf(stderr, "preau-server: accept: %s\n", std::strerror(err));
      return;
    }
    std::unique_lock<std::mutex> lock(mu_);
    emfile_logged_ = false;
    if (open_.size() >= stats_.cap) {
      lock.unlock();
      Reap(std::chrono::milliseconds(50));
      lock.lock();
    }
    if (open_.size() >= stats_.cap) {
      ++stats_.refused_full;
      lock.unlock();
      ::close(fd);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    open_[fd] = SocketInode(fd);
    ++stats_.accepted;
    stats_.open = open_.size();
    lock.unlock();
    grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters p;
    p.listener_fd = listen_fd_;
    p.fd = fd;
    acceptor_->HandleNewConnection(&p);
  }
}

void AcceptLoop::Reap(std::chrono::steady_clock::duration at_most_every) {
  auto now = std::chrono::steady_clock::now();
  if (now - last_reap_ < at_most_every) return;
  last_reap_ = now;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = open_.begin(); it != open_.end();) {
    uint64_t inode = SocketInode(it->first);
    if (inode == 0 || inode != it->second) {
      it = open_.erase(it);
    } else {
      ++it;
    }
  }
  stats_.open = open_.size();
}

}  // namespace preau::server

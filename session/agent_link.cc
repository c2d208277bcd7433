#include "session/agent_link.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace preau::session {

std::string AgentLink::Connect() {
  Close();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof addr.sun_path) return "socket path too long: " + path_;
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("socket: ") + std::strerror(errno);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::string why = path_ + ": " + std::strerror(errno);
    close(fd);
    return why;
  }
  ucred peer{};
  socklen_t len = sizeof peer;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 ||
      (peer.uid != 0 && peer.uid != getuid())) {
    close(fd);
    return path_ + ": the peer is not the agent (uid " + std::to_string(peer.uid) + ")";
  }
  fd_ = fd;
  in_ = LineBuffer();
  return "";
}

void AgentLink::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

bool AgentLink::Send(const std::string& line) {
  if (fd_ < 0) return false;
  std::string data = line + "\n";
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Close();
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

bool AgentLink::Read(std::vector<std::string>* lines) {
  if (fd_ < 0) return false;
  char buf[4096];
  ssize_t n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
  if (n <= 0 || !in_.Append(buf, static_cast<size_t>(n))) {
    Close();
    return false;
  }
  std::string line;
  while (in_.Next(&line)) lines->push_back(line);
  return true;
}

}  // namespace preau::session

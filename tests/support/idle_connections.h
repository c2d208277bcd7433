// OpenIdleConnections: the connection flood of the hardening test and of its benchmark —
// TCP connections to a loopback port that never send a byte. Header-only, so that a
// benchmark can use it without linking the tests' harness.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace preau::testing {

// Opens up to `n` connections to 127.0.0.1:`port`; stops at the first that cannot be opened
// (the caller's file limit, a full listen queue). The caller closes the descriptors.
inline std::vector<int> OpenIdleConnections(int port, size_t n) {
  std::vector<int> fds;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (size_t i = 0; i < n; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) break;
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd);
      break;
    }
    fds.push_back(fd);
  }
  return fds;
}

}  // namespace preau::testing

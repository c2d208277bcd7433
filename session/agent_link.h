// AgentLink: preau-session's end of the agent's local socket. It connects (again, once a
// second, while the agent is away), checks that the peer is root or this very user (the
// socket's folder is root's, but a check costs nothing), and exchanges lines in the
// format of session/wire.h.
#pragma once

#include <string>
#include <vector>

#include "session/wire.h"

namespace preau::session {

class AgentLink {
 public:
  explicit AgentLink(std::string socket_path) : path_(std::move(socket_path)) {}
  ~AgentLink() { Close(); }

  // "" when connected, else why not.
  std::string Connect();
  void Close();
  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // Sends one line (the newline is added). False when the agent went away.
  bool Send(const std::string& line);
  // Reads what is available; false when the agent went away (the link is then closed).
  bool Read(std::vector<std::string>* lines);

 private:
  std::string path_;
  int fd_ = -1;
  LineBuffer in_;
};

}  // namespace preau::session

// UrlOpener: opens a teacher's URL (`preau class open`) in the pupil's own browser, from
// inside the session: it runs xdg-open as the session's user, with the session's
// environment (display, browser settings), which a root service cannot do. A request is
// answered "done" once xdg-open exited 0 or is still running after a few seconds (some
// desktops keep it while the browser starts), "failed" with the reason otherwise. It never
// blocks: children are looked at with waitpid(WNOHANG) from the session's loop.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace preau::session {

class UrlOpener {
 public:
  struct Answer {
    std::string id;
    std::string failure;  // "" when launched
  };

  // Starts opening `url` for request `id`; an Answer with the failure if it cannot start.
  std::vector<Answer> Start(const std::string& id, const std::string& url, int64_t now_ms);
  // Answers for the requests that are now decided (steady clock, milliseconds).
  std::vector<Answer> Poll(int64_t now_ms);
  // Whether a request waits for its answer (the caller then wakes up soon).
  bool waiting() const;

 private:
  struct Child {
    pid_t pid;
    std::string id;
    int64_t started_ms;
    bool answered = false;
  };
  std::vector<Child> children_;
};

}  // namespace preau::session

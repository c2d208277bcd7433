#include "session/url_opener.h"

#include <sys/wait.h>

#include <algorithm>

#include "session/spawn.h"

namespace preau::session {
namespace {
// xdg-open still running after this has handed the URL to a browser that stays in front.
constexpr int64_t kLaunchedAfterMs = 3000;

std::string WhyExited(int status) {
  if (WIFSIGNALED(status)) return "xdg-open was killed by signal " + std::to_string(WTERMSIG(status));
  switch (WEXITSTATUS(status)) {
    case 127: return "xdg-open is not installed in this session";
    case 3: return "xdg-open found no browser for this address";
    case 4: return "xdg-open could not open it (the browser failed)";
    default: return "xdg-open exited with status " + std::to_string(WEXITSTATUS(status));
  }
}
}  // namespace

std::vector<UrlOpener::Answer> UrlOpener::Start(const std::string& id, const std::string& url,
                                                int64_t now_ms) {
  // The agent checked it already; a session program never hands anything else to a shell
  // or a browser.
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    return {{id, "not an http(s) address"}};
  }
  std::string why;
  pid_t pid = Spawn({"xdg-open", url}, &why);  // the browser outlives this program
  if (pid < 0) return {{id, why}};
  children_.push_back({pid, id, now_ms});
  return Poll(now_ms);
}

std::vector<UrlOpener::Answer> UrlOpener::Poll(int64_t now_ms) {
  std::vector<Answer> out;
  for (auto& c : children_) {
    int status = 0;
    pid_t r = waitpid(c.pid, &status, WNOHANG);
    if (r == c.pid) {
      if (!c.answered) {
        bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        out.push_back({c.id, ok ? "" : WhyExited(status)});
      }
      c.pid = -1;
    } else if (r < 0) {
      if (!c.answered) out.push_back({c.id, "xdg-open vanished"});
      c.pid = -1;
    } else if (!c.answered && now_ms - c.started_ms >= kLaunchedAfterMs) {
      out.push_back({c.id, ""});  // still running: the browser has it
      c.answered = true;
    }
  }
  children_.erase(std::remove_if(children_.begin(), children_.end(),
                                 [](const Child& c) { return c.pid < 0; }),
                  children_.end());
  return out;
}

bool UrlOpener::waiting() const {
  return std::any_of(children_.begin(), children_.end(), [](const Child& c) { return !c.answered; });
}

}  // namespace preau::session

#include "agent/policy/desired_state.h"

namespace preau::agent {

DesiredState CombineWithClassControl(const DesiredState& policy, const ClassControl& teacher) {
  DesiredState out = policy;
  if (teacher.locked) {
    out.locked = true;
    // In class the teacher's words are the relevant ones; the curfew still holds after the
    // teacher unlocks, with the policy's message.
    out.lock_message = teacher.lock_message;
    out.lock_until_unix_ms = teacher.lock_until_unix_ms;
  }
  if (!teacher.focus_app.empty() || !teacher.focus_url.empty()) {
    out.focus_app = teacher.focus_app;
    out.focus_url = teacher.focus_url;
  }
  return out;
}

}  // namespace preau::agent

// MessageWindows: the teacher's messages (`preau class message`) on the pupil's desktop.
// Each is an ordinary window that the window manager places and keeps above the others
// (_NET_WM_STATE_ABOVE); it does not take the input away from the pupil. Large black type
// on white, shown until the pupil dismisses it (the OK button, Enter, Escape, or closing
// it). Shown() and Dismissed() hand out the ids whose state changed, for the agent.
#pragma once

#include <X11/Xlib.h>

#include <string>
#include <vector>

#include "session/big_text.h"

namespace preau::session {

class MessageWindows {
 public:
  MessageWindows(Display* dpy, BigText* text);
  ~MessageWindows();

  void Show(const std::string& id, const std::string& text);
  // Handles one X event; true if it concerned a message.
  bool HandleEvent(const XEvent& ev);
  // Ids of the messages now on screen (mapped) / dismissed since the last call.
  std::vector<std::string> TakeShown();
  std::vector<std::string> TakeDismissed();

 private:
  struct Message {
    std::string id, text;
    Window window = 0;
    GC gc = nullptr;
    int width = 0, height = 0;
  };
  void Draw(const Message& m);
  void Dismiss(size_t i);
  bool OnButton(const Message& m, int x, int y) const;

  Display* dpy_;
  BigText* text_;
  Atom wm_delete_;
  std::vector<Message> messages_;
  std::vector<std::string> shown_, dismissed_;
};

}  // namespace preau::session

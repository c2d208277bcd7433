#include "session/message_window.h"

#include <X11/Xatom.h>
#include <X11/Xutil.h>
#include <X11/keysym.h>

#include <algorithm>
#include <utility>

namespace preau::session {
namespace {
constexpr int kScale = 2;
constexpr const char* kButton = "OK";
}  // namespace

MessageWindows::MessageWindows(Display* dpy, BigText* text)
    : dpy_(dpy), text_(text), wm_delete_(XInternAtom(dpy, "WM_DELETE_WINDOW", False)) {}

MessageWindows::~MessageWindows() {
  while (!messages_.empty()) {
    XFreeGC(dpy_, messages_.back().gc);
    XDestroyWindow(dpy_, messages_.back().window);
    messages_.pop_back();
  }
}

void MessageWindows::Show(const std::string& id, const std::string& text) {
  int screen = DefaultScreen(dpy_);
  Message m;
  m.id = id;
  m.text = text;
  m.width = std::min(DisplayWidth(dpy_, screen) * 4 / 5, 1200);
  int lines = static_cast<int>(text_->Wrap(text, m.width * 9 / 10, kScale).size());
  int step = text_->line_height() * kScale * 5 / 4;
  m.height = step * (lines + 4);
  m.window = XCreateSimpleWindow(dpy_, RootWindow(dpy_, screen),
                                 (DisplayWidth(dpy_, screen) - m.width) / 2,
                                 (DisplayHeight(dpy_, screen) - m.height) / 3, m.width, m.height,
                                 2, BlackPixel(dpy_, screen), WhitePixel(dpy_, screen));
  XStoreName(dpy_, m.window, "Message de l'enseignant");
  XClassHint hint{const_cast<char*>("preau-message"), const_cast<char*>("Preau")};
  XSetClassHint(dpy_, m.window, &hint);
  XSetWMProtocols(dpy_, m.window, &wm_delete_, 1);
  Atom state = XInternAtom(dpy_, "_NET_WM_STATE", False);
  Atom above = XInternAtom(dpy_, "_NET_WM_STATE_ABOVE", False);
  XChangeProperty(dpy_, m.window, state, XA_ATOM, 32, PropModeReplace,
                  reinterpret_cast<unsigned char*>(&above), 1);
  XSelectInput(dpy_, m.window, ExposureMask | KeyPressMask | ButtonPressMask | StructureNotifyMask);
  m.gc = XCreateGC(dpy_, m.window, 0, nullptr);
  XSetForeground(dpy_, m.gc, BlackPixel(dpy_, screen));
  XMapRaised(dpy_, m.window);
  XFlush(dpy_);
  messages_.push_back(std::move(m));
}

bool MessageWindows::OnButton(const Message& m, int x, int y) const {
  int step = text_->line_height() * kScale * 5 / 4;
  return y >= m.height - step * 2 && x >= m.width / 3 && x <= m.width * 2 / 3;
}

void MessageWindows::Draw(const Message& m) {
  XClearWindow(dpy_, m.window);
  int step = text_->line_height() * kScale * 5 / 4;
  int y = step / 2;
  for (const auto& line : text_->Wrap(m.text, m.width * 9 / 10, kScale)) {
    text_->Draw(m.window, m.gc, line, 0, m.width, y, kScale);
    y += step;
  }
  int top = m.height - step * 2;
  XDrawRectangle(dpy_, m.window, m.gc, m.width / 3, top, m.width / 3, step * 3 / 2);
  text_->Draw(m.window, m.gc, kButton, m.width / 3, m.width / 3, top + step / 4, kScale);
}

void MessageWindows::Dismiss(size_t i) {
  dismissed_.push_back(messages_[i].id);
  XFreeGC(dpy_, messages_[i].gc);
  XDestroyWindow(dpy_, messages_[i].window);
  messages_.erase(messages_.begin() + static_cast<long>(i));
  XFlush(dpy_);
}

bool MessageWindows::HandleEvent(const XEvent& ev) {
  for (size_t i = 0; i < messages_.size(); ++i) {
    const Message& m = messages_[i];
    if (ev.xany.window != m.window) continue;
    switch (ev.type) {
      case Expose:
        if (ev.xexpose.count == 0) Draw(m);
        break;
      case MapNotify:
        shown_.push_back(m.id);
        break;
      case ButtonPress:
        if (OnButton(m, ev.xbutton.x, ev.xbutton.y)) Dismiss(i);
        break;
      case KeyPress: {
        KeySym sym = XLookupKeysym(const_cast<XKeyEvent*>(&ev.xkey), 0);
        if (sym == XK_Return || sym == XK_KP_Enter || sym == XK_Escape) Dismiss(i);
        break;
      }
      case ClientMessage:
        if (static_cast<Atom>(ev.xclient.data.l[0]) == wm_delete_) Dismiss(i);
        break;
      default:
        break;
    }
    return true;
  }
  return false;
}

std::vector<std::string> MessageWindows::TakeShown() { return std::exchange(shown_, {}); }
std::vector<std::string> MessageWindows::TakeDismissed() { return std::exchange(dismissed_, {}); }

}  // namespace preau::session

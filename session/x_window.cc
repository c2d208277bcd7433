#include "session/x_window.h"

#include <X11/Xatom.h>

namespace preau::session {

Window ActiveWindow(Display* dpy, Atom net_active_window) {
  Window w = None;
  Atom type;
  int format;
  unsigned long items = 0, after = 0;
  unsigned char* data = nullptr;
  if (XGetWindowProperty(dpy, DefaultRootWindow(dpy), net_active_window, 0, 1, False, XA_WINDOW,
                         &type, &format, &items, &after, &data) == Success &&
      data != nullptr && items == 1 && format == 32) {
    w = static_cast<Window>(*reinterpret_cast<unsigned long*>(data));
  }
  if (data) XFree(data);
  return w;
}

}  // namespace preau::session

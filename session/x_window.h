// Small Xlib reads shared by preau-session's parts.
#pragma once

#include <X11/Xlib.h>

namespace preau::session {

// The window the window manager says is active (_NET_ACTIVE_WINDOW on the root, atom
// given), None when it says none.
Window ActiveWindow(Display* dpy, Atom net_active_window);

}  // namespace preau::session

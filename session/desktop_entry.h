// DesktopEntry: an application of the pupil's session as its .desktop file describes it
// (freedesktop Desktop Entry spec), found by its desktop id ("org.kde.kturtle",
// "xterm") in the session's XDG data folders ($XDG_DATA_HOME, then $XDG_DATA_DIRS, each
// with applications/), the first one found winning as menus do. A teacher's focus on an
// app launches it from here when it is not running, and recognises its windows by
// StartupWMClass when the file gives one.
#pragma once

#include <string>
#include <vector>

namespace preau::session {

struct DesktopEntry {
  std::string path;                // the file read
  std::vector<std::string> argv;   // Exec, unquoted, field codes (%u, %F...) removed
  std::string startup_wm_class;    // "" when not given
};

// Reads the entry of desktop id `id` (without ".desktop"). Empty `error` on success, else
// why not: no such file, hidden, not an application, no usable Exec line.
DesktopEntry FindDesktopEntry(const std::string& id, std::string* error);

// Splits an Exec value into arguments as the spec says (double quotes, backslash escapes,
// field codes dropped, "%%" a percent sign). Empty with `error` set when it is malformed.
std::vector<std::string> SplitExec(const std::string& exec, std::string* error);

}  // namespace preau::session

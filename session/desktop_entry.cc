#include "session/desktop_entry.h"

#include <cstdlib>
#include <fstream>

namespace preau::session {
namespace {

// The value of a key of [Desktop Entry] with the spec's string escapes undone
// (\s \n \t \r \\); the Exec quoting is left for SplitExec.
std::string Unescape(const std::string& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] != '\\' || i + 1 == v.size()) {
      out += v[i];
      continue;
    }
    char c = v[++i];
    switch (c) {
      case 's': out += ' '; break;
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case '\\': out += "\\\\"; break;  // still an escape for the Exec quoting
      default: out += '\\'; out += c;
    }
  }
  return out;
}

std::vector<std::string> DataDirs() {
  std::vector<std::string> dirs;
  const char* home_data = std::getenv("XDG_DATA_HOME");
  const char* home = std::getenv("HOME");
  if (home_data && *home_data) {
    dirs.push_back(home_data);
  } else if (home && *home) {
    dirs.push_back(std::string(home) + "/.local/share");
  }
  const char* data = std::getenv("XDG_DATA_DIRS");
  std::string list = data && *data ? data : "/usr/local/share:/usr/share";
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(':', start);
    if (end == std::string::npos) end = list.size();
    if (end > start) dirs.push_back(list.substr(start, end - start));
    start = end + 1;
  }
  return dirs;
}

}  // namespace

std::vector<std::string> SplitExec(const std::string& exec, std::string* error) {
  std::vector<std::string> out;
  std::string arg;
  bool in_arg = false, quoted = false, dropped = false;
  for (size_t i = 0; i < exec.size(); ++i) {
    char c = exec[i];
    if (quoted) {
      if (c == '"') {
        quoted = false;
      } else if (c == '\\' && i + 1 < exec.size()) {
        arg += exec[++i];
      } else {
        arg += c;
      }
      continue;
    }
    if (c == ' ' || c == '\t') {
      if (in_arg && !(dropped && arg.empty())) out.push_back(arg);
      arg.clear();
      in_arg = dropped = false;
      continue;
    }
    in_arg = true;
    if (c == '"') {
      quoted = true;
    } else if (c == '%' && i + 1 < exec.size()) {
      char code = exec[++i];
      if (code == '%') {
        arg += '%';
      } else {
        dropped = true;  // %f %u %F %U %i %c %k...: nothing to hand the app here
      }
    } else {
      arg += c;
    }
  }
  if (quoted) {
    *error = "an unterminated quote in its Exec line";
    return {};
  }
  if (in_arg && !(dropped && arg.empty())) out.push_back(arg);
  if (out.empty()) *error = "an empty Exec line";
  return out;
}

DesktopEntry FindDesktopEntry(const std::string& id, std::string* error) {
  error->clear();
  // A desktop id is a file name: nothing that climbs out of applications/.
  if (id.empty() || id.find('/') != std::string::npos || id[0] == '.') {
    *error = "'" + id + "' is not a desktop id";
    return {};
  }
  for (const auto& dir : DataDirs()) {
    std::string path = dir + "/applications/" + id + ".desktop";
    std::ifstream in(path);
    if (!in) continue;
    DesktopEntry e;
    e.path = path;
    std::string line, section, exec, type;
    bool hidden = false;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      if (line[0] == '[') {
        section = line;
        continue;
      }
      if (section != "[Desktop Entry]") continue;
      size_t eq = line.find('=');
      if (eq == std::string::npos) continue;
      std::string key = line.substr(0, eq), value = line.substr(eq + 1);
      while (!key.empty() && key.back() == ' ') key.pop_back();
      while (!value.empty() && value[0] == ' ') value.erase(0, 1);
      if (key == "Exec") exec = Unescape(value);
      if (key == "Type") type = value;
      if (key == "StartupWMClass") e.startup_wm_class = value;
      if (key == "Hidden") hidden = value == "true";  // NoDisplay apps may still be run
    }
    // The first file found decides, as for menus: a hidden one hides the app.
    if (hidden) {
      *error = path + " is hidden (Hidden=true)";
    } else if (type != "Application") {
      *error = path + " is not an application (Type=" + type + ")";
    } else if (exec.empty()) {
      *error = path + " has no Exec line";
    } else {
      std::string why;
      e.argv = SplitExec(exec, &why);
      if (!why.empty()) *error = path + " has " + why;
    }
    return e;
  }
  *error = "no application '" + id + "' on this device";
  return {};
}

}  // namespace preau::session

#include "agent/platform/system_resolver.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>

#include "agent/platform/command_runner.h"
#include "common/files.h"

namespace preau::agent {

namespace {

constexpr const char* kMarker =
    "# Managed by preau-agent: the web filter answers here. The original comes back when\n"
    "# the filter is switched off or with `preau-agent --uninstall`.\n";

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

std::map<std::string, std::string> ParseRecord(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

std::map<std::string, std::string> ReadRecord(const std::string& path) {
  auto text = ReadFile(path);
  return text.ok() ? ParseRecord(*text) : std::map<std::string, std::string>{};
}

// The lines of the original resolv.conf that are not nameservers (search, options...):
// kept so that nothing but the server changes for the user.
std::string KeptLines(const std::string& original) {
  std::string out;
  std::istringstream in(original);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key;
    if (!(words >> key) || key[0] == '#' || key[0] == ';' || key == "nameserver") continue;
    out += line + "\n";
  }
  return out;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

}  // namespace

Result<SystemResolverOptions::Way> ParseResolverWay(const std::string& text) {
  using Way = SystemResolverOptions::Way;
  if (text == "auto") return Way::kAuto;
  if (text == "resolved") return Way::kResolved;
  if (text == "resolv-conf") return Way::kResolvConf;
  if (text == "off") return Way::kOff;
  return InvalidArgument("system resolver '" + text + "': use auto, resolved, resolv-conf or off");
}

std::vector<std::string> NameserversOf(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key, value;
    if (words >> key >> value && key == "nameserver") out.push_back(value);
  }
  return out;
}

Status ReplaceFileContent(const std::string& path, const std::string& data, int mode) {
  // Unique: several agents (tests) may share the folder of a bind-mounted file.
  std::string tmp = path + ".preau-tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Internal(Errno("creating " + tmp));
  bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) &&
            ::fchmod(fd, mode) == 0 && ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    errno = saved;
    return Internal(Errno("writing " + tmp));
  }
  if (::rename(tmp.c_str(), path.c_str()) == 0) return Status::Ok();
  saved = errno;
  ::unlink(tmp.c_str());
  if (saved != EBUSY && saved != EXDEV) {
    errno = saved;
    return Internal(Errno("replacing " + path));
  }
  // A bind-mounted file (containers, the tests' private mount) cannot be renamed over:
  // rewrite it in place.
  fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return Internal(Errno("opening " + path));
  ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) &&
       ::fchmod(fd, mode) == 0 && ::fsync(fd) == 0;
  saved = errno;
  ::close(fd);
  errno = saved;
  return ok ? Status::Ok() : Internal(Errno("writing " + path));
}

Result<SystemResolverOptions::Way> SystemResolver::Choose() const {
  if (options_.way == Way::kOff || options_.way == Way::kResolved) return options_.way;
  std::error_code ec;
  if (options_.way == Way::kAuto && std::filesystem::is_directory(options_.resolved_runtime, ec)) {
    return Way::kResolved;
  }
  if (std::filesystem::is_symlink(options_.resolv_conf, ec)) {
    std::string target = std::filesystem::read_symlink(options_.resolv_conf, ec).string();
    return FailedPrecondition(options_.resolv_conf + " is a symlink to '" + target +
                              "', managed by another program: the agent leaves it alone (set "
                              "system_resolver in agent.conf to the way this machine uses)");
  }
  return Way::kResolvConf;
}

bool SystemResolver::Pointed() const {
  std::error_code ec;
  return !options_.record_dir.empty() && std::filesystem::exists(RecordPath(), ec);
}

Status SystemResolver::Point(const std::string& address) {
  PREAU_ASSIGN_OR_RETURN(Way way, Choose());
  if (way == Way::kOff) return Status::Ok();
  if (options_.record_dir.empty()) return InvalidArgument("system resolver: no record folder");
  std::error_code ec;
  std::filesystem::create_directories(options_.record_dir, ec);
  return way == Way::kResolved ? PointResolved(address) : PointResolvConf(address);
}

Status SystemResolver::PointResolvConf(const std::string& address) {
  const std::string& path = options_.resolv_conf;
  if (!Pointed()) {
    struct stat st{};
    bool existed = ::lstat(path.c_str(), &st) == 0;
    std::string original;
    if (existed) {
      PREAU_ASSIGN_OR_RETURN(original, ReadFile(path));
      if (original.rfind(kMarker, 0) == 0) {
        return FailedPrecondition(path + " already names the agent but the record of the "
                                  "original is missing from " + options_.record_dir);
      }
    }
    int mode = existed ? static_cast<int>(st.st_mode & 07777) : 0644;
    PREAU_RETURN_IF_ERROR(WriteFileAtomic(OriginalPath(), original, 0600));
    char octal[16];
    std::snprintf(octal, sizeof octal, "%o", mode);
    PREAU_RETURN_IF_ERROR(WriteFileAtomic(
        RecordPath(),
        std::string("way=resolv-conf\npath=") + path + "\nexisted=" + (existed ? "1" : "0") +
            "\nmode=" + octal + "\naddress=" + address + "\n",
        0600));
  }
  PREAU_ASSIGN_OR_RETURN(std::string original, ReadFile(OriginalPath()));
  auto record = ReadRecord(RecordPath());
  int mode = static_cast<int>(std::strtol(record["mode"].c_str(), nullptr, 8));
  std::string wanted = std::string(kMarker) + "nameserver " + address + "\n" + KeptLines(original);
  auto current = ReadFile(path);
  if (current.ok() && *current == wanted) return Status::Ok();
  return ReplaceFileContent(path, wanted, mode ? mode : 0644);
}

Status SystemResolver::PointResolved(const std::string& address) {
  const std::string& path = options_.resolved_dropin;
  std::string wanted = std::string(kMarker) + "[Resolve]\nDNS=" + address + "\nDomains=~.\n";
  if (!Pointed()) {
    std::error_code ec;
    bool existed = std::filesystem::exists(path, ec);
    std::string original;
    if (existed) {
      PREAU_ASSIGN_OR_RETURN(original, ReadFile(path));
    }
    PREAU_RETURN_IF_ERROR(WriteFileAtomic(OriginalPath(), original, 0600));
    PREAU_RETURN_IF_ERROR(WriteFileAtomic(
        RecordPath(),
        std::string("way=resolved\npath=") + path + "\nexisted=" + (existed ? "1" : "0") +
            "\nmode=644\naddress=" + address + "\nupstreams=" + Join(OriginalUpstreams(address)) +
            "\n",
        0600));
  }
  auto current = ReadFile(path);
  if (current.ok() && *current == wanted) return Status::Ok();
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  PREAU_RETURN_IF_ERROR(ReplaceFileContent(path, wanted, 0644));
  return RunCommandChecked("restarting systemd-resolved", options_.resolved_reload, {},
                           std::chrono::seconds(30));
}

Status SystemResolver::Restore() {
  if (!Pointed()) return Status::Ok();
  PREAU_ASSIGN_OR_RETURN(std::string text, ReadFile(RecordPath()));
  auto record = ParseRecord(text);
  PREAU_ASSIGN_OR_RETURN(std::string original, ReadFile(OriginalPath()));
  const std::string& path = record["path"];
  if (path.empty()) return DataLoss(RecordPath() + ": names no file");
  int mode = static_cast<int>(std::strtol(record["mode"].c_str(), nullptr, 8));
  if (record["existed"] == "1") {
    PREAU_RETURN_IF_ERROR(ReplaceFileContent(path, original, mode ? mode : 0644));
  } else {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    if (ec) return Internal("removing " + path + ": " + ec.message());
  }
  if (record["way"] == "resolved") {
    PREAU_RETURN_IF_ERROR(RunCommandChecked("restarting systemd-resolved",
                                            options_.resolved_reload, {},
                                            std::chrono::seconds(30)));
  }
  std::error_code ec;
  std::filesystem::remove(OriginalPath(), ec);
  std::filesystem::remove(RecordPath(), ec);  // last: until here a retry finds what to do
  return Status::Ok();
}

Status SystemResolver::CheckPointed(const std::string& address) const {
  if (!Pointed()) return FailedPrecondition("the system resolver is not pointed at the agent");
  auto record = ReadRecord(RecordPath());
  if (record["way"] == "resolved") {
    auto dropin = ReadFile(options_.resolved_dropin);
    if (!dropin.ok() || dropin->find("DNS=" + address + "\n") == std::string::npos) {
      return FailedPrecondition("another resolver is in the path: the drop-in " +
                                options_.resolved_dropin + " no longer names the agent");
    }
    return Status::Ok();
  }
  auto text = ReadFile(options_.resolv_conf);
  if (!text.ok()) return FailedPrecondition(text.status().message());
  std::vector<std::string> servers = NameserversOf(*text);
  if (servers != std::vector<std::string>{address}) {
    std::string list;
    for (const auto& s : servers) list += (list.empty() ? "" : ", ") + s;
    return FailedPrecondition("another resolver is in the path: " + options_.resolv_conf +
                              " names " + (list.empty() ? "no server" : list));
  }
  return Status::Ok();
}

std::vector<std::string> SystemResolver::OriginalUpstreams(const std::string& self) const {
  Result<std::string> text = NotFound("");
  if (Pointed()) {
    auto record = ReadRecord(RecordPath());
    if (record["way"] == "resolved") {
      std::vector<std::string> out;
      std::istringstream in(record["upstreams"]);
      std::string item;
      while (std::getline(in, item, ',')) {
        if (!item.empty() && item != self) out.push_back(item);
      }
      return out;
    }
    text = ReadFile(OriginalPath());
  } else {
    auto way = Choose();
    text = way.ok() && *way == Way::kResolved
               ? ReadFile(options_.resolved_runtime + "/resolv.conf")
               : ReadFile(options_.resolv_conf);
  }
  std::vector<std::string> out;
  if (!text.ok() || text->rfind(kMarker, 0) == 0) return out;
  for (auto& ns : NameserversOf(*text)) {
    // Never forward to ourselves, nor to resolved's stub (it would forward back to us).
    if (ns != self && ns != "127.0.0.53" && ns != "127.0.0.54") out.push_back(ns);
  }
  return out;
}

}  // namespace preau::agent

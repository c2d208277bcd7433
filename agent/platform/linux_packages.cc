#include "agent/platform/linux_packages.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

#include "common/files.h"
#include "common/package_file.h"
#include "common/subprocess.h"

namespace preau::agent {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// A package may unpack and run maintainer scripts on a slow eMMC tablet; apt may also wait
// for another apt (an unattended upgrade) to release its lock.
constexpr milliseconds kAptTimeout{15 * 60'000};
constexpr milliseconds kQuickTimeout{30'000};
constexpr const char* kAptLockWaitSeconds = "DPkg::Lock::Timeout=300";

std::vector<std::string> AptEnv() {
  return {"DEBIAN_FRONTEND=noninteractive", "APT_LISTCHANGES_FRONTEND=none",
          "LC_ALL=C.UTF-8"};
}

// The lines of apt's output that say why it refused ("E: ...", unmet dependencies), the
// end of its output when none does.
std::string AptReason(const std::string& output) {
  std::istringstream in(output);
  std::string line, reason;
  while (std::getline(in, line)) {
    bool useful = line.rfind("E: ", 0) == 0 || line.find(" : Depends: ") != std::string::npos ||
                  line.find(" : Conflicts: ") != std::string::npos ||
                  line.find(" : Breaks: ") != std::string::npos ||
                  line.rfind("dpkg: error", 0) == 0;
    if (useful) reason += (reason.empty() ? "" : "; ") + line;
  }
  if (reason.empty()) reason = OutputTail(output, 300);
  return reason.size() > 1000 ? reason.substr(0, 1000) + "..." : reason;
}

// Installed packages and their versions, from dpkg's status file.
std::map<std::string, std::string> InstalledDebs(const std::string& status_text) {
  std::map<std::string, std::string> out;
  std::istringstream in(status_text);
  std::string line, package, version, status;
  auto flush = [&] {
    if (!package.empty() && status.find(" installed") != std::string::npos &&
        status.find("not-installed") == std::string::npos) {
      out[package] = version;
    }
    package.clear();
    version.clear();
    status.clear();
  };
  while (std::getline(in, line)) {
    if (line.empty()) {
      flush();
    } else if (line.rfind("Package: ", 0) == 0) {
      package = line.substr(9);
    } else if (line.rfind("Version: ", 0) == 0) {
      version = line.substr(9);
    } else if (line.rfind("Status: ", 0) == 0) {
      status = line.substr(8);
    }
  }
  flush();
  return out;
}

// Whether the status of `package` in dpkg's database is anything but absent: after a
// failed install, a half-unpacked package must not stay.
bool InDpkgDatabase(const std::string& status_text, const std::string& package) {
  std::istringstream in(status_text);
  std::string line;
  bool current = false;
  while (std::getline(in, line)) {
    if (line.rfind("Package: ", 0) == 0) current = line.substr(9) == package;
    if (current && line.rfind("Status: ", 0) == 0) {
      return line.find("not-installed") == std::string::npos;
    }
  }
  return false;
}

struct DesktopEntry {
  bool launchable = false;
  std::string name;
};

// The [Desktop Entry] group of a .desktop file: launchable when an application that is
// neither hidden nor kept out of menus.
DesktopEntry ReadDesktopEntry(const std::string& text) {
  DesktopEntry e;
  std::istringstream in(text);
  std::string line, type;
  bool in_group = false, hidden = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '[') {
      in_group = line == "[Desktop Entry]";
      continue;
    }
    if (!in_group) continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    while (!key.empty() && key.back() == ' ') key.pop_back();
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    if (key == "Type") type = value;
    if (key == "Name") e.name = value;
    if ((key == "NoDisplay" || key == "Hidden") && value == "true") hidden = true;
  }
  e.launchable = type == "Application" && !hidden;
  return e;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

}  // namespace

LinuxPackages::LinuxPackages(LinuxPackagesOptions options) : options_(std::move(options)) {
  while (options_.root.size() > 1 && options_.root.back() == '/') options_.root.pop_back();
  if (options_.root.empty()) options_.root = "/";
}

std::string LinuxPackages::Below(const std::string& path) const {
  return options_.root == "/" ? path : options_.root + path;
}

std::string LinuxPackages::AdminDir() const { return Below("/var/lib/dpkg"); }

bool LinuxPackages::CanInstall() const {
  return ::access("/usr/bin/apt-get", X_OK) == 0 && ::access(AdminDir().c_str(), R_OK) == 0;
}

std::vector<std::string> LinuxPackages::AptArgs(std::vector<std::string> command) const {
  std::vector<std::string> args = {"apt-get", "-q", "-y", "-o", kAptLockWaitSeconds,
                                   "-o", "Dpkg::Use-Pty=0",
                                   // Never a question about a changed configuration file.
                                   "-o", "DPkg::Options::=--force-confdef",
                                   "-o", "DPkg::Options::=--force-confold"};
  if (options_.root != "/") {
    const std::string& r = options_.root;
    for (const std::string& o :
         {"Dir=" + r + "/", "Dir::State::status=" + r + "/var/lib/dpkg/status",
          "DPkg::Options::=--root=" + r, "DPkg::Options::=--log=" + r + "/var/log/dpkg.log"}) {
      args.push_back("-o");
      args.push_back(o);
    }
  }
  args.insert(args.end(), command.begin(), command.end());
  return args;
}

std::vector<std::string> LinuxPackages::FlatpakEnv() const {
  if (options_.flatpak_system_dir.empty()) return {};
  return {"FLATPAK_SYSTEM_DIR=" + options_.flatpak_system_dir};
}

std::string LinuxPackages::DebVersion(const std::string& name) const {
  auto status = ReadFile(AdminDir() + "/status");
  if (!status.ok()) return "";
  auto debs = InstalledDebs(*status);
  auto it = debs.find(name);
  return it == debs.end() ? "" : it->second;
}

Status LinuxPackages::Install(const std::string& app_id, const std::string& version,
                              const std::string& path) {
  PREAU_ASSIGN_OR_RETURN(PackageFacts facts, InspectPackage(path));
  if (facts.name != app_id) {
    return InvalidArgument("the package file is '" + facts.name + "', not the assigned '" +
                           app_id + "'");
  }
  if (facts.format == PackageFormat::kFlatpak) return InstallFlatpak(app_id, path);
  if (!version.empty() && facts.version != version) {
    return InvalidArgument("the package file is version '" + facts.version +
                           "', not the assigned '" + version + "'");
  }
  return InstallDeb(app_id, facts.version, path);
}

Status LinuxPackages::InstallDeb(const std::string& app_id, const std::string& version,
                                 const std::string& path) {
  const std::string installed = DebVersion(app_id);
  if (!installed.empty()) {
    PREAU_ASSIGN_OR_RETURN(
        ProgramOutput cmp,
        RunProgram({"dpkg", "--compare-versions", installed, "ge", version}, kQuickTimeout));
    if (cmp.exit_code == 0) {
      return AlreadyExists("already installed at " + installed +
                           (installed == version ? "" : ", newer than " + version) +
                           ": left alone");
    }
  }
  // apt installs a local file only when its name ends in .deb.
  const std::string deb = path + ".deb";
  ::unlink(deb.c_str());
  if (::link(path.c_str(), deb.c_str()) != 0) {
    return Internal("cannot link " + path + " to " + deb);
  }
  Result<ProgramOutput> out =
      RunProgram(AptArgs({"install", "--no-install-recommends", deb}), kAptTimeout, AptEnv());
  ::unlink(deb.c_str());
  if (!out.ok()) return out.status().Context("apt-get install");
  if (out->exit_code != 0) {
    std::string reason = "apt-get install: " + AptReason(out->output);
    // apt refuses before unpacking when dependencies are missing; a failure later (a
    // maintainer script) can leave the package half-installed: it goes.
    auto status = ReadFile(AdminDir() + "/status");
    if (status.ok() && InDpkgDatabase(*status, app_id) && DebVersion(app_id) != installed) {
      Result<ProgramOutput> rm = RunProgram(AptArgs({"purge", app_id}), kAptTimeout, AptEnv());
      reason += (rm.ok() && rm->exit_code == 0) ? " (the half-installed package was removed)"
                                                : " (removing the half-installed package "
                                                  "failed too)";
    }
    return FailedPrecondition(reason);
  }
  const std::string now = DebVersion(app_id);
  if (now != version) {
    return Internal("apt-get reported success but dpkg lists '" + app_id + "' at '" + now +
                    "', not " + version);
  }
  return Status::Ok();
}

Status LinuxPackages::InstallFlatpak(const std::string& app_id, const std::string& path) {
  // --reinstall: a newer bundle of an installed app replaces it (bundles carry no
  // version flatpak compares).
  PREAU_ASSIGN_OR_RETURN(
      ProgramOutput out,
      RunProgram({"flatpak", "install", "--system", "--noninteractive", "-y", "--reinstall",
                  "--bundle", path},
                 kAptTimeout, FlatpakEnv()));
  if (out.exit_code != 0) {
    return FailedPrecondition("flatpak install: " + OutputTail(out.output, 500));
  }
  (void)app_id;
  return Status::Ok();
}

Status LinuxPackages::UpdateSources() {
  PREAU_ASSIGN_OR_RETURN(ProgramOutput out,
                         RunProgram(AptArgs({"update"}), kAptTimeout, AptEnv()));
  if (out.exit_code != 0) return FailedPrecondition("apt-get update: " + AptReason(out.output));
  return Status::Ok();
}

std::string LinuxPackages::FlatpakDir() const {
  if (!options_.flatpak_system_dir.empty()) return options_.flatpak_system_dir;
  return options_.root == "/" ? "/var/lib/flatpak" : "";
}

bool LinuxPackages::FlatpakInstalled(const std::string& app_id) const {
  std::error_code ec;
  return !FlatpakDir().empty() && !app_id.empty() && app_id.find('/') == std::string::npos &&
         fs::exists(FlatpakDir() + "/app/" + app_id, ec);
}

Status LinuxPackages::Remove(const std::string& app_id) {
  if (FlatpakInstalled(app_id)) {
    PREAU_ASSIGN_OR_RETURN(
        ProgramOutput out,
        RunProgram({"flatpak", "uninstall", "--system", "--noninteractive", "-y", app_id},
                   kAptTimeout, FlatpakEnv()));
    if (out.exit_code != 0) {
      return FailedPrecondition("flatpak uninstall: " + OutputTail(out.output, 500));
    }
    return Status::Ok();
  }
  if (DebVersion(app_id).empty()) return Status::Ok();
  PREAU_ASSIGN_OR_RETURN(ProgramOutput out,
                         RunProgram(AptArgs({"remove", app_id}), kAptTimeout, AptEnv()));
  if (out.exit_code != 0) return FailedPrecondition("apt-get remove: " + AptReason(out.output));
  if (!DebVersion(app_id).empty()) {
    return Internal("apt-get reported success but '" + app_id + "' is still installed");
  }
  return Status::Ok();
}

std::vector<std::string> LinuxPackages::PackageFiles(const std::string& app_id) const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(AdminDir() + "/info", ec)) {
    const std::string name = entry.path().filename().string();
    // "pkg.list" or, for a multi-arch package, "pkg:amd64.list".
    if (name != app_id + ".list" && name.rfind(app_id + ":", 0) != 0) continue;
    if (name.size() < 5 || name.substr(name.size() - 5) != ".list") continue;
    auto text = ReadFile(entry.path().string());
    if (!text.ok()) continue;
    for (auto& line : Lines(*text)) out.push_back(Below(line));
  }
  return out;
}

std::vector<v1::InstalledApp> LinuxPackages::DesktopApps() const {
  std::vector<v1::InstalledApp> apps;
  auto status = ReadFile(AdminDir() + "/status");
  const auto debs = status.ok() ? InstalledDebs(*status) : std::map<std::string, std::string>{};
  const std::string kApplications = "/usr/share/applications/";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(AdminDir() + "/info", ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() < 6 || name.substr(name.size() - 5) != ".list") continue;
    std::string package = name.substr(0, name.size() - 5);
    package = package.substr(0, package.find(':'));
    auto version = debs.find(package);
    if (version == debs.end()) continue;
    auto text = ReadFile(entry.path().string());
    if (!text.ok() || text->find(kApplications) == std::string::npos) continue;
    for (const auto& line : Lines(*text)) {
      if (line.rfind(kApplications, 0) != 0 || line.size() < 9 ||
          line.substr(line.size() - 8) != ".desktop") {
        continue;
      }
      auto desktop = ReadFile(Below(line));
      if (!desktop.ok()) continue;
      DesktopEntry e = ReadDesktopEntry(*desktop);
      if (!e.launchable) continue;
      v1::InstalledApp app;
      app.set_id(package);
      app.set_version(version->second);
      app.set_title(e.name);
      app.set_desktop_entry(line.substr(kApplications.size()));
      app.set_format("deb");
      apps.push_back(std::move(app));
    }
  }
  if (const std::string base = FlatpakDir(); !base.empty()) {
    for (const auto& entry :
         fs::directory_iterator(base + "/exports/share/applications", ec)) {
      const std::string file = entry.path().filename().string();
      if (file.size() < 9 || file.substr(file.size() - 8) != ".desktop") continue;
      auto desktop = ReadFile(entry.path().string());
      if (!desktop.ok()) continue;
      DesktopEntry e = ReadDesktopEntry(*desktop);
      if (!e.launchable) continue;
      v1::InstalledApp app;
      app.set_id(file.substr(0, file.size() - 8));
      // A bundle carries no version; its branch ("stable", "master") is what flatpak shows.
      std::error_code lec;
      fs::path current = fs::read_symlink(base + "/app/" + app.id() + "/current", lec);
      app.set_version(lec ? "" : current.filename().string());
      app.set_title(e.name);
      app.set_desktop_entry(file);
      app.set_format("flatpak");
      apps.push_back(std::move(app));
    }
  }
  std::sort(apps.begin(), apps.end(), [](const auto& a, const auto& b) {
    return a.id() != b.id() ? a.id() < b.id() : a.desktop_entry() < b.desktop_entry();
  });
  return apps;
}

}  // namespace preau::agent

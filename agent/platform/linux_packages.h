// LinuxPackages: the Linux platform's package manager side. Debian packages are installed
// with apt-get from the verified file, their dependencies coming from the device's
// configured sources, under apt's own lock (waited for, not broken); Flatpak bundles are
// installed system-wide. Both are removed by name. Nothing goes through a shell: every
// value is one argument (common/subprocess.h). A package already installed from elsewhere
// at the same or a newer version is left alone (AlreadyExists says so).
//
// The installed applications are the desktop entries users can launch (Type=Application,
// not hidden), each with the package that ships it and that package's version, read from
// dpkg's database and flatpak's exports without running anything.
//
// `root` makes apt and dpkg act below another root (Dir=, dpkg --root), so tests drive the
// real tools against a throwaway tree they build; "/" on a device.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "preau/v1/device.pb.h"

namespace preau::agent {

struct LinuxPackagesOptions {
  std::string root = "/";
  std::string flatpak_system_dir;  // FLATPAK_SYSTEM_DIR; empty: flatpak's own default
};

class LinuxPackages {
 public:
  explicit LinuxPackages(LinuxPackagesOptions options);

  // Whether apt-get (and so dpkg) can be run here.
  bool CanInstall() const;

  // Installs the package file at `path` (a .deb or a Flatpak bundle, told by its header)
  // that must be `app_id` at `version`. InvalidArgument when the file is another package
  // or neither format; AlreadyExists when the same or a newer version is installed (left
  // alone); FailedPrecondition with the package manager's own words when it refused.
  Status Install(const std::string& app_id, const std::string& version,
                 const std::string& path);
  // Reads the configured sources again (apt-get update).
  Status UpdateSources();
  // Removes `app_id` (a Debian package or a Flatpak app); Ok when it is not installed.
  Status Remove(const std::string& app_id);

  // The installed version of Debian package `name`; empty when not installed.
  std::string DebVersion(const std::string& name) const;

  // Whether `app_id` is an installed Flatpak app (system-wide).
  bool FlatpakInstalled(const std::string& app_id) const;

  // Launchable desktop entries with their package and version, sorted by package.
  std::vector<v1::InstalledApp> DesktopApps() const;

  // The files package `app_id` installed, as paths on this machine (below root).
  std::vector<std::string> PackageFiles(const std::string& app_id) const;

  // `path` as on the device ("/usr/share/applications") below root.
  std::string Below(const std::string& path) const;

 private:
  Status InstallDeb(const std::string& app_id, const std::string& version,
                    const std::string& path);
  Status InstallFlatpak(const std::string& app_id, const std::string& path);
  std::vector<std::string> AptArgs(std::vector<std::string> command) const;
  std::vector<std::string> FlatpakEnv() const;
  std::string AdminDir() const;
  std::string FlatpakDir() const;  // empty when flatpak is not looked at (another root)

  LinuxPackagesOptions options_;
};

}  // namespace preau::agent

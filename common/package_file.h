// PackageFile: what an uploaded or downloaded package is, read from its own bytes, never
// from its name. A Debian package is an ar archive whose first member is "debian-binary";
// its structure is checked member by member (a truncated or padded file is refused before
// any tool reads it) and its control fields come from `dpkg-deb --show`, run without a
// shell. A Flatpak bundle starts with the "flatpak" magic and names its ref in its
// metadata ("app/org.example.App/x86_64/stable"). The server uses this to refuse an
// upload whose package disagrees with --name/--version; the agent to pick the installer.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace preau {

enum class PackageFormat { kUnknown, kDeb, kFlatpak };

// "deb", "flatpak" or "unknown".
const char* PackageFormatName(PackageFormat format);

// The format the first bytes of a file say (64 bytes are enough).
PackageFormat SniffPackageFormat(std::string_view head);

struct PackageFacts {
  PackageFormat format = PackageFormat::kUnknown;
  std::string name;     // Debian "Package", Flatpak application id
  std::string version;  // Debian "Version"; empty for a Flatpak bundle (it carries none)
  std::string arch;     // Debian "Architecture", Flatpak ref's arch
};

// Reads the format, name and version of the package at `path`. InvalidArgument, naming
// what is wrong, for a file that is neither format, a truncated or malformed archive, or
// fields dpkg-deb cannot read; Internal when dpkg-deb cannot be run.
Result<PackageFacts> InspectPackage(const std::string& path);

// Checks an ar archive laid out as a Debian package (debian-binary 2.x, control.tar*,
// data.tar*), every member inside the file and the file ending with the last one.
Status CheckDebStructure(const std::string& path);

}  // namespace preau

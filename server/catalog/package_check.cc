#include "server/catalog/package_check.h"

#include "common/package_file.h"

namespace preau::server {

namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Status CheckUploadedPackage(const std::string& path, bool platform_given,
                            v1::AppMetadata* m) {
  Result<PackageFacts> facts = InspectPackage(path);
  const std::string& file = m->file_name();
  if (!facts.ok()) {
    const bool claims_linux = m->platform() == "linux" || EndsWith(file, ".deb") ||
                              EndsWith(file, ".flatpak");
    // Other platforms' packages (an APK, a web manifest) are not read here.
    if (!claims_linux && facts.status().message().rfind("neither", 0) == 0) {
      m->clear_format();
      return Status::Ok();
    }
    return InvalidArgument(file + ": " + facts.status().message());
  }
  const std::string format = PackageFormatName(facts->format);
  if (platform_given && m->platform() != "linux" && m->platform() != "any") {
    return InvalidArgument(file + " is a " + format + " package (read from its header), "
                           "a Linux format, but --platform says " + m->platform());
  }
  m->set_platform("linux");
  m->set_format(format);
  if (facts->name != m->name()) {
    return InvalidArgument(file + ": the package calls itself '" + facts->name +
                           "' (its " + (format == "deb" ? "Package field" : "Flatpak ref") +
                           "), not '" + m->name() + "' as --name says");
  }
  if (!facts->version.empty() && facts->version != m->version()) {
    return InvalidArgument(file + ": the package's version is '" + facts->version +
                           "' (its Version field), not '" + m->version() +
                           "' as --version says");
  }
  return Status::Ok();
}

}  // namespace preau::server

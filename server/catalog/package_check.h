// PackageCheck: what the server verifies of an uploaded package before it enters the
// store. The format comes from the file's own header (never its name): a Debian package
// or a Flatpak bundle is a Linux package whatever it is called, and a file called .deb or
// .flatpak, or declared for --platform linux, that is neither is refused. The package's
// own name (and, for a .deb, version) must be the ones the operator gave with --name and
// --version, so the catalogue and what dpkg or flatpak will report can never disagree.
#pragma once

#include <string>

#include "common/status.h"
#include "preau/v1/catalog.pb.h"

namespace preau::server {

// Checks the uploaded file at `path` against `metadata` (already normalised) and records
// its format (and the platform "linux" for a Linux package whose platform was guessed
// from its name). `platform_given`: the operator set --platform. InvalidArgument names
// the disagreement or the fault in the file.
Status CheckUploadedPackage(const std::string& path, bool platform_given,
                            v1::AppMetadata* metadata);

}  // namespace preau::server

// Enrollment tokens: one-time secrets that let a new device join a group. A token reads
// "preau1-<40 hex>-<6 hex checksum>"; the checksum lets a mistyped or truncated token be
// told apart from an unknown one. The server keeps only the token's SHA-256.
#pragma once

#include <string>

#include "common/status.h"

namespace preau::server {

std::string NewEnrollmentToken();
// Ok if the token is well formed; InvalidArgument naming what is wrong otherwise.
Status CheckEnrollmentTokenFormat(const std::string& token);
std::string HashEnrollmentToken(const std::string& token);

}  // namespace preau::server

// Small file helpers with the guarantees Préau relies on: reads that say which file failed,
// and atomic writes (temp file, fsync, rename, fsync of the folder) so that a crash or a
// full disk never leaves a half-written file behind.
#pragma once

#include <string>

#include "common/status.h"

namespace preau {

Result<std::string> ReadFile(const std::string& path);
// Writes `data` to `path` atomically with the given permission bits.
Status WriteFileAtomic(const std::string& path, const std::string& data, int mode = 0644);

}  // namespace preau

// The console's static files (HTML, CSS, JavaScript), built into the binary from
// server/console/assets/ by CMake (embed_assets.cmake): nothing is read from disk or
// loaded from the internet at run time.
#pragma once

#include <string_view>

namespace preau::server {

struct ConsoleAsset {
  std::string_view path;          // "/console.js"
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view data;
};

// Null for a path that names no asset.
const ConsoleAsset* FindConsoleAsset(std::string_view path);

}  // namespace preau::server

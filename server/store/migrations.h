// The server store's schema, as numbered migrations applied at start (see Db::Migrate).
// Append new migrations at the end with the next number; never edit a released one.
#pragma once

#include <vector>

#include "common/sqlite.h"

namespace preau::server {

const std::vector<Db::Migration>& ServerMigrations();

}  // namespace preau::server

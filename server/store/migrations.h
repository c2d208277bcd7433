// The server store's schema, as numbered migrations applied at start (see SqlDb::Migrate).
// Append new migrations at the end with the next number; never edit a released one.
#pragma once

#include <vector>

#include "server/store/sql.h"

namespace preau::server {

const std::vector<SqlDb::Migration>& ServerMigrations();

}  // namespace preau::server

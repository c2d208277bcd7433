// ConsolePasswords: the console's password sign-in, the alternative to a link. Only an
// Argon2id hash (libsodium's crypto_pwhash_str, memory-hard) is stored, in the server's
// meta table under "console.password/NAME"; the password itself is never logged, audited
// or kept. Attempts are rate-limited by the console (per address and per name).
#pragma once

#include <string>

#include "common/status.h"
#include "server/store/store.h"

namespace preau::server {

class ConsolePasswords {
 public:
  explicit ConsolePasswords(Store& store);

  // Sets the operator's password (10 to 128 bytes); an empty one removes it.
  Status Set(const std::string& operator_name, const std::string& password);
  // Whether `password` is the operator's (false when it has none).
  bool Verify(const std::string& operator_name, const std::string& password);

 private:
  Store& store_;
};

}  // namespace preau::server

#include "server/console/passwords.h"

#include <sodium.h>

namespace preau::server {

namespace {
constexpr size_t kMinPassword = 10;
constexpr size_t kMaxPassword = 128;
std::string Key(const std::string& name) { return "console.password/" + name; }
}  // namespace

ConsolePasswords::ConsolePasswords(Store& store) : store_(store) {
  // Safe to call more than once and from several threads.
  if (sodium_init() < 0) std::abort();
}

Status ConsolePasswords::Set(const std::string& operator_name, const std::string& password) {
  if (password.empty()) return store_.SetMeta(Key(operator_name), "");
  if (password.size() < kMinPassword || password.size() > kMaxPassword) {
    return InvalidArgument("a console password has 10 to 128 characters (this one has " +
                           std::to_string(password.size()) + ")");
  }
  char hash[crypto_pwhash_STRBYTES];
  // Argon2id with libsodium's interactive limits (64 MiB, 2 passes): ~0.1 s per check.
  if (crypto_pwhash_str_alg(hash, password.data(), password.size(),
                            crypto_pwhash_OPSLIMIT_INTERACTIVE,
                            crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Internal("hashing the console password: out of memory");
  }
  return store_.SetMeta(Key(operator_name), hash);
}

bool ConsolePasswords::Verify(const std::string& operator_name, const std::string& password) {
  auto hash = store_.GetMeta(Key(operator_name));
  if (!hash.ok() || hash->empty() || password.empty() || password.size() > kMaxPassword) {
    return false;
  }
  return crypto_pwhash_str_verify(hash->c_str(), password.data(), password.size()) == 0;
}

}  // namespace preau::server

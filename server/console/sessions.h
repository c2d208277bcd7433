// ConsoleSessions: the ways into the teachers' console and the sessions they open. A link
// (`preau operators link NAME`) is a one-time token valid 10 minutes; redeemed, it opens a
// session that ends at the time chosen when the link was made (default: the end of the
// day). Only SHA-256 hashes of tokens and session ids are kept, in memory: a restart of
// the server ends every session (teachers sign in again). Sign-in by OpenID Connect later
// is one more way to call Open. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "common/status.h"

namespace preau::server {

inline constexpr int64_t kConsoleLinkValidMs = 10 * 60 * 1000;

class ConsoleSessions {
 public:
  struct Link {
    std::string token;  // goes in the URL once; never stored
    int64_t expires_ms = 0;
    int64_t session_until_ms = 0;
  };
  struct Session {
    std::string operator_name;
    int64_t until_ms = 0;
    std::string csrf;  // sent back by the page with every change (X-CSRF-Token)
  };

  Link CreateLink(const std::string& operator_name, int64_t session_until_ms, int64_t now_ms);
  // Spends the link and opens its session; `cookie` gets the new session id. The refusal
  // says whether the link is unknown, already used or expired.
  Result<Session> RedeemLink(const std::string& token, int64_t now_ms, std::string* cookie);
  // Opens a session directly (a password sign-in).
  Session Open(const std::string& operator_name, int64_t until_ms, std::string* cookie);
  Result<Session> Find(const std::string& cookie, int64_t now_ms);
  void End(const std::string& cookie);
  // Ends every session of the operator (revoked); returns how many.
  size_t EndAll(const std::string& operator_name);
  size_t open_sessions();

 private:
  struct StoredLink {
    std::string operator_name;
    int64_t expires_ms = 0;
    int64_t session_until_ms = 0;
    bool used = false;
  };
  void PurgeLocked(int64_t now_ms);

  std::mutex mu_;
  std::map<std::string, StoredLink> links_;   // by SHA-256 of the token
  std::map<std::string, Session> sessions_;   // by SHA-256 of the cookie
};

// The end of the local day (server's time zone) that contains `now_ms`.
int64_t EndOfLocalDay(int64_t now_ms);

}  // namespace preau::server

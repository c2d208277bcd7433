// ConsoleSessions: the ways into the teachers' console and the sessions they open. A link
// (`preau operators link NAME`) is a one-time token valid 10 minutes; redeemed, it opens a
// session that ends at the time chosen when the link was made (default: the end of the
// day). Both are kept in the server's store (tables console_links and console_sessions,
// migration 11), by SHA-256 of their secret only: a restart of the server signs nobody
// out, and a copy of the database opens nothing. The page's anti-CSRF token is derived
// from the session's cookie, so it is not stored either. Revoking an operator ends its
// sessions and spends its links at once (EndAll). Sign-in by OpenID Connect later is one
// more way to call Open. Thread-safe (the store's mutex).
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "server/store/store.h"

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

  explicit ConsoleSessions(Store& store) : store_(store) {}

  Result<Link> CreateLink(const std::string& operator_name, int64_t session_until_ms,
                          int64_t now_ms);
  // Spends the link and opens its session; `cookie` gets the new session id. The refusal
  // says whether the link is unknown, already used or expired.
  Result<Session> RedeemLink(const std::string& token, int64_t now_ms, std::string* cookie);
  // Opens a session directly (a password sign-in).
  Result<Session> Open(const std::string& operator_name, int64_t until_ms, std::string* cookie);
  Result<Session> Find(const std::string& cookie, int64_t now_ms);
  Status End(const std::string& cookie);
  // Ends every session of the operator and spends its links (revoked); returns how many
  // sessions were open.
  Result<int64_t> EndAll(const std::string& operator_name);

 private:
  // Forgets ended sessions and links past the time their refusal is worth telling.
  Status Purge(SqlDb& db, int64_t now_ms);

  Store& store_;
};

// The end of the local day (server's time zone) that contains `now_ms`.
int64_t EndOfLocalDay(int64_t now_ms);

}  // namespace preau::server

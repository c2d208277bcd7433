#include "server/console/sessions.h"

#include <time.h>

#include "common/pki.h"

namespace preau::server {

namespace {

std::string Hash(const std::string& secret) { return pki::Sha256Hex("preau-console:" + secret); }
// Not the stored hash: who reads the database can neither sign in nor forge a change.
std::string CsrfOf(const std::string& cookie) { return pki::Sha256Hex("preau-csrf:" + cookie); }

Status NotSignedIn() {
  return Unauthenticated("Vous n'êtes pas connecté : ouvrez le lien de connexion donné par "
                         "votre administrateur.");
}

Status InsertSession(SqlDb& db, const std::string& cookie, const std::string& operator_name,
                     int64_t until_ms) {
  PREAU_ASSIGN_OR_RETURN(auto ins, db.Prepare("INSERT INTO console_sessions (cookie_hash, "
                                              "operator_name, until_ms) VALUES (?, ?, ?)"));
  ins.Bind(1, Hash(cookie)).Bind(2, operator_name).Bind(3, until_ms);
  return ins.Run();
}

ConsoleSessions::Session MakeSession(const std::string& operator_name, int64_t until_ms,
                                     const std::string& cookie) {
  return {operator_name, until_ms, CsrfOf(cookie)};
}

}  // namespace

int64_t EndOfLocalDay(int64_t now_ms) {
  time_t t = static_cast<time_t>(now_ms / 1000);
  struct tm tm {};
  localtime_r(&t, &tm);
  tm.tm_hour = 23;
  tm.tm_min = 59;
  tm.tm_sec = 59;
  tm.tm_isdst = -1;
  return static_cast<int64_t>(mktime(&tm)) * 1000 + 999;
}

Status ConsoleSessions::Purge(SqlDb& db, int64_t now_ms) {
  // Used and expired links stay known for 10 minutes after their end, so that the refusal
  // can say which it is.
  PREAU_ASSIGN_OR_RETURN(auto links, db.Prepare("DELETE FROM console_links WHERE expires_ms < ?"));
  links.Bind(1, now_ms - kConsoleLinkValidMs);
  PREAU_RETURN_IF_ERROR(links.Run());
  PREAU_ASSIGN_OR_RETURN(auto sessions, db.Prepare("DELETE FROM console_sessions WHERE until_ms <= ?"));
  sessions.Bind(1, now_ms);
  return sessions.Run();
}

Result<ConsoleSessions::Link> ConsoleSessions::CreateLink(const std::string& operator_name,
                                                          int64_t session_until_ms,
                                                          int64_t now_ms) {
  Link link;
  link.token = pki::RandomHex(32);
  link.expires_ms = now_ms + kConsoleLinkValidMs;
  link.session_until_ms = session_until_ms;
  Status st = store_.Locked([&](SqlDb& db) {
    return db.Transaction([&]() -> Status {
      PREAU_RETURN_IF_ERROR(Purge(db, now_ms));
      PREAU_ASSIGN_OR_RETURN(
          auto ins, db.Prepare("INSERT INTO console_links (token_hash, operator_name, "
                               "expires_ms, session_until_ms, used) VALUES (?, ?, ?, ?, 0)"));
      ins.Bind(1, Hash(link.token)).Bind(2, operator_name).Bind(3, link.expires_ms);
      ins.Bind(4, session_until_ms);
      return ins.Run();
    });
  });
  if (!st.ok()) return st.Context("storing the console link");
  return link;
}

Result<ConsoleSessions::Session> ConsoleSessions::RedeemLink(const std::string& token,
                                                             int64_t now_ms,
                                                             std::string* cookie) {
  std::string new_cookie = pki::RandomHex(32);
  Session session;
  Status st = store_.Locked([&](SqlDb& db) {
    return db.Transaction([&]() -> Status {
      PREAU_ASSIGN_OR_RETURN(auto q, db.Prepare("SELECT operator_name, expires_ms, "
                                                "session_until_ms, used FROM console_links "
                                                "WHERE token_hash = ?"));
      q.Bind(1, Hash(token));
      PREAU_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) {
        return Unauthenticated("Ce lien de connexion est inconnu : demandez-en un nouveau "
                               "(preau operators link).");
      }
      if (q.Int(3) != 0) {
        return Unauthenticated("Ce lien de connexion a déjà servi : un lien ne sert qu'une "
                               "fois. Demandez-en un nouveau.");
      }
      if (q.Int(1) <= now_ms) {
        return Unauthenticated("Ce lien de connexion a expiré (valable 10 minutes) : "
                               "demandez-en un nouveau.");
      }
      if (q.Int(2) <= now_ms) {
        return Unauthenticated("La session de ce lien est déjà terminée : demandez-en un "
                               "nouveau.");
      }
      session = MakeSession(q.Text(0), q.Int(2), new_cookie);
      PREAU_ASSIGN_OR_RETURN(auto spend, db.Prepare("UPDATE console_links SET used = 1 "
                                                    "WHERE token_hash = ?"));
      spend.Bind(1, Hash(token));
      PREAU_RETURN_IF_ERROR(spend.Run());
      return InsertSession(db, new_cookie, session.operator_name, session.until_ms);
    });
  });
  if (!st.ok()) return st;
  *cookie = std::move(new_cookie);
  return session;
}

Result<ConsoleSessions::Session> ConsoleSessions::Open(const std::string& operator_name,
                                                       int64_t until_ms, std::string* cookie) {
  std::string new_cookie = pki::RandomHex(32);
  Status st = store_.Locked(
      [&](SqlDb& db) { return InsertSession(db, new_cookie, operator_name, until_ms); });
  if (!st.ok()) return st.Context("storing the console session");
  *cookie = new_cookie;
  return MakeSession(operator_name, until_ms, new_cookie);
}

Result<ConsoleSessions::Session> ConsoleSessions::Find(const std::string& cookie, int64_t now_ms) {
  if (cookie.empty()) return NotSignedIn();
  return store_.Locked([&](SqlDb& db) -> Result<Session> {
    PREAU_ASSIGN_OR_RETURN(auto q, db.Prepare("SELECT operator_name, until_ms FROM "
                                              "console_sessions WHERE cookie_hash = ?"));
    q.Bind(1, Hash(cookie));
    PREAU_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return NotSignedIn();
    if (q.Int(1) <= now_ms) {
      PREAU_ASSIGN_OR_RETURN(auto d, db.Prepare("DELETE FROM console_sessions WHERE "
                                                "cookie_hash = ?"));
      d.Bind(1, Hash(cookie));
      PREAU_RETURN_IF_ERROR(d.Run());
      return Unauthenticated("Votre session est terminée : demandez un nouveau lien de "
                             "connexion.");
    }
    return MakeSession(q.Text(0), q.Int(1), cookie);
  });
}

Status ConsoleSessions::End(const std::string& cookie) {
  return store_.Locked([&](SqlDb& db) -> Status {
    PREAU_ASSIGN_OR_RETURN(auto d, db.Prepare("DELETE FROM console_sessions WHERE cookie_hash = ?"));
    d.Bind(1, Hash(cookie));
    return d.Run();
  });
}

Result<int64_t> ConsoleSessions::EndAll(const std::string& operator_name) {
  int64_t ended = 0;
  Status st = store_.Locked([&](SqlDb& db) {
    return db.Transaction([&]() -> Status {
      PREAU_ASSIGN_OR_RETURN(auto count, db.Prepare("SELECT COUNT(*) FROM console_sessions "
                                                    "WHERE operator_name = ?"));
      count.Bind(1, operator_name);
      PREAU_ASSIGN_OR_RETURN(bool row, count.Step());
      ended = row ? count.Int(0) : 0;
      PREAU_ASSIGN_OR_RETURN(auto d, db.Prepare("DELETE FROM console_sessions WHERE "
                                                "operator_name = ?"));
      d.Bind(1, operator_name);
      PREAU_RETURN_IF_ERROR(d.Run());
      // Links made before the revocation open nothing (and say they were used).
      PREAU_ASSIGN_OR_RETURN(auto spend, db.Prepare("UPDATE console_links SET used = 1 "
                                                    "WHERE operator_name = ?"));
      spend.Bind(1, operator_name);
      return spend.Run();
    });
  });
  if (!st.ok()) return st.Context("ending the console sessions of " + operator_name);
  return ended;
}

}  // namespace preau::server

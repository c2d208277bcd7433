#include "server/console/sessions.h"

#include <time.h>

#include "common/pki.h"

namespace preau::server {

namespace {
std::string Hash(const std::string& secret) { return pki::Sha256Hex("preau-console:" + secret); }
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

void ConsoleSessions::PurgeLocked(int64_t now_ms) {
  for (auto it = links_.begin(); it != links_.end();) {
    it = it->second.expires_ms + kConsoleLinkValidMs < now_ms ? links_.erase(it) : std::next(it);
  }
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = it->second.until_ms <= now_ms ? sessions_.erase(it) : std::next(it);
  }
}

ConsoleSessions::Link ConsoleSessions::CreateLink(const std::string& operator_name,
                                                  int64_t session_until_ms, int64_t now_ms) {
  Link link;
  link.token = pki::RandomHex(32);
  link.expires_ms = now_ms + kConsoleLinkValidMs;
  link.session_until_ms = session_until_ms;
  std::lock_guard<std::mutex> lock(mu_);
  PurgeLocked(now_ms);
  links_[Hash(link.token)] = {operator_name, link.expires_ms, session_until_ms, false};
  return link;
}

Result<ConsoleSessions::Session> ConsoleSessions::RedeemLink(const std::string& token,
                                                             int64_t now_ms,
                                                             std::string* cookie) {
  std::string name;
  int64_t until = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Used and expired links stay known for a while after their end, so that the refusal
    // can say which it is.
    auto it = links_.find(Hash(token));
    if (it == links_.end()) {
      return Unauthenticated("Ce lien de connexion est inconnu : demandez-en un nouveau "
                             "(preau operators link).");
    }
    if (it->second.used) {
      return Unauthenticated("Ce lien de connexion a déjà servi : un lien ne sert qu'une "
                             "fois. Demandez-en un nouveau.");
    }
    if (it->second.expires_ms <= now_ms) {
      return Unauthenticated("Ce lien de connexion a expiré (valable 10 minutes) : "
                             "demandez-en un nouveau.");
    }
    if (it->second.session_until_ms <= now_ms) {
      return Unauthenticated("La session de ce lien est déjà terminée : demandez-en un nouveau.");
    }
    it->second.used = true;
    name = it->second.operator_name;
    until = it->second.session_until_ms;
  }
  return Open(name, until, cookie);
}

ConsoleSessions::Session ConsoleSessions::Open(const std::string& operator_name, int64_t until_ms,
                                               std::string* cookie) {
  Session s;
  s.operator_name = operator_name;
  s.until_ms = until_ms;
  s.csrf = pki::RandomHex(16);
  *cookie = pki::RandomHex(32);
  std::lock_guard<std::mutex> lock(mu_);
  sessions_[Hash(*cookie)] = s;
  return s;
}

Result<ConsoleSessions::Session> ConsoleSessions::Find(const std::string& cookie, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cookie.empty() ? sessions_.end() : sessions_.find(Hash(cookie));
  if (it == sessions_.end()) {
    return Unauthenticated("Vous n'êtes pas connecté : ouvrez le lien de connexion donné par "
                           "votre administrateur.");
  }
  if (it->second.until_ms <= now_ms) {
    sessions_.erase(it);
    return Unauthenticated("Votre session est terminée : demandez un nouveau lien de connexion.");
  }
  return it->second;
}

void ConsoleSessions::End(const std::string& cookie) {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.erase(Hash(cookie));
}

size_t ConsoleSessions::EndAll(const std::string& operator_name) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second.operator_name == operator_name) {
      it = sessions_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  for (auto& [hash, link] : links_) {
    if (link.operator_name == operator_name) link.used = true;
  }
  return n;
}

size_t ConsoleSessions::open_sessions() {
  std::lock_guard<std::mutex> lock(mu_);
  return sessions_.size();
}

}  // namespace preau::server

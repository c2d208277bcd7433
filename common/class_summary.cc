#include "common/class_summary.h"

#include <map>

#include "common/duration.h"

namespace preau {

namespace {

bool Fr(SummaryLanguage l) { return l == SummaryLanguage::kFrench; }

std::string PastTense(const std::string& verb, SummaryLanguage l) {
  if (Fr(l)) {
    static const std::map<std::string, std::string> kFr = {
        {"lock", "verrouillées"},  {"unlock", "déverrouillées"},
        {"focus", "en focus"},     {"open", "ont ouvert l'adresse"},
        {"allow", "autorisent le site"}, {"message", "ont affiché le message"},
        {"wifi on", "ont le Wi-Fi"}, {"wifi off", "ont rendu le Wi-Fi à la politique"}};
    auto it = kFr.find(verb);
    return it == kFr.end() ? verb : it->second;
  }
  if (verb == "focus") return "focused";
  if (verb == "open") return "opened";
  if (verb == "message") return "shown";
  if (verb == "wifi on") return "Wi-Fi on";
  if (verb == "wifi off") return "Wi-Fi back to the policy";
  return verb + "ed";  // locked, unlocked, allowed
}

std::string Pending(const std::string& verb, const v1::ClassCommandResponse& r, bool plural,
                    SummaryLanguage l) {
  if (Fr(l)) {
    return std::string(plural ? "le feront à leur retour" : "le fera à son retour") +
           ", jusqu'à " + FormatLocalHourMinute(r.expires_unix_ms());
  }
  std::string action = verb.rfind("wifi", 0) == 0 ? "switch its Wi-Fi" : verb;
  return "will " + action + " when " + (plural ? "they reconnect" : "it reconnects") +
         ", until " + FormatLocalHourMinute(r.expires_unix_ms());
}

}  // namespace

std::optional<v1::CommandKind> ClassCommandKind(const std::string& verb) {
  static const std::map<std::string, v1::CommandKind> kKinds = {
      {"lock", v1::COMMAND_LOCK},       {"unlock", v1::COMMAND_UNLOCK},
      {"focus", v1::COMMAND_FOCUS},     {"open", v1::COMMAND_OPEN},
      {"allow", v1::COMMAND_ALLOW},     {"message", v1::COMMAND_MESSAGE},
      {"wifi on", v1::COMMAND_WIFI_ON}, {"wifi off", v1::COMMAND_WIFI_OFF}};
  auto it = kKinds.find(verb);
  if (it == kKinds.end()) return std::nullopt;
  return it->second;
}

std::string ClassSummary(const std::string& verb, const v1::ClassCommandResponse& response,
                         SummaryLanguage l) {
  std::map<v1::DeviceOutcome, int> n;
  for (const auto& d : response.results()) ++n[d.outcome()];
  std::string s = std::to_string(n[v1::DEVICE_DONE]) + "/" +
                  std::to_string(response.results_size()) + " " + PastTense(verb, l);
  if (int off = n[v1::DEVICE_OFFLINE]) {
    s += ", " + std::to_string(off) + (Fr(l) ? " hors ligne (" : " offline (") +
         Pending(verb, response, off > 1, l) + ")";
  }
  auto add = [&](v1::DeviceOutcome o, const char* en, const char* fr) {
    if (int k = n[o]) s += ", " + std::to_string(k) + " " + (Fr(l) ? fr : en);
  };
  add(v1::DEVICE_NO_ACK, "did not answer", "sans réponse");
  add(v1::DEVICE_FAILED, "failed", "en échec");
  add(v1::DEVICE_REFUSED, "refused", "refusées");
  add(v1::DEVICE_EXPIRED, "expired", "expirées");
  return s;
}

std::string ClassOutcomeWhy(const std::string& verb, const v1::ClassCommandResponse& r,
                            const v1::DeviceResult& d, SummaryLanguage l) {
  const bool fr = Fr(l);
  switch (d.outcome()) {
    case v1::DEVICE_OFFLINE:
      return (fr ? "hors ligne (" : "offline (") + Pending(verb, r, false, l) + ")";
    case v1::DEVICE_NO_ACK:
      return fr ? "connectée mais sans réponse à temps" : "connected but did not answer in time";
    case v1::DEVICE_EXPIRED:
      return fr ? "la commande avait expiré selon l'horloge de l'appareil"
                : "the command had expired by the device's clock";
    case v1::DEVICE_FAILED:
      return (fr ? "échec : " : "failed: ") +
             (d.detail().empty() ? (fr ? "aucune raison donnée" : "no reason given") : d.detail());
    case v1::DEVICE_REFUSED:
      return (fr ? "refusée : " : "refused: ") + d.detail();
    case v1::DEVICE_DONE:
      return fr ? "fait" : "done";
    default:
      return fr ? "inconnu" : "unknown";
  }
}

}  // namespace preau

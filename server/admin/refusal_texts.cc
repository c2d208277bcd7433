#include "server/admin/refusal_texts.h"

#include <algorithm>
#include <map>
#include <vector>

#include "server/admin/permissions.h"

namespace preau::server {

namespace refusal {
const RefusalText kOperator = {"operator '{0}' ({1})", "l'opérateur « {0} » ({1})"};
const RefusalText kNoRightsOnGroup = {"{0} has no rights on group '{1}'",
                                      "{0} n'a aucun droit sur le groupe « {1} »"};
const RefusalText kNotWholeAuthority = {
    "{0} is limited to its scopes and may not act on the whole authority",
    "{0} est limité à ses périmètres et ne peut pas agir sur toute la collectivité"};
const RefusalText kRoleMayNot = {"{0} may not {1} ({2} needs {3})",
                                 "{0} ne peut pas {1} ({2} demande le droit {3})"};
const RefusalText kOutsideHours = {"operator '{0}' may act only {1} ({2}); it is {3}",
                                   "l'opérateur « {0} » ne peut agir que {1} ({2}) ; il est {3}"};
const RefusalText kUnknownGroup = {"unknown group '{0}'", "groupe inconnu « {0} »"};
const RefusalText kRequired = {"{0} is required", "{0} : à remplir"};
const RefusalText kNotHttp = {"{0} '{1}': expected an http:// or https:// address",
                              "{0} « {1} » : une adresse en http:// ou https:// est attendue"};
const RefusalText kUrlTooLong = {"{0} is longer than 2048 bytes",
                                 "{0} : plus de 2048 octets"};
const RefusalText kUrlSpaces = {"{0}: spaces and control characters are not allowed in a URL",
                                "{0} : pas d'espace ni de caractère de contrôle dans une adresse"};
const RefusalText kTextTooLong = {"{0} is longer than 500 bytes ({1})",
                                  "{0} : plus de 500 octets ({1})"};
const RefusalText kControlCharacter = {
    "{0}: control character {1} at byte {2} is not allowed (no terminal escapes)",
    "{0} : le caractère de contrôle {1} (octet {2}) n'est pas permis"};
const RefusalText kForNotPositive = {"{0} must be a positive duration",
                                     "{0} : une durée positive est attendue"};
const RefusalText kForTooLong = {"{0} is limited to 24h", "{0} : 24 h au plus"};
const RefusalText kForDoesNotApply = {"{0} does not apply to {1}",
                                      "{0} : sans objet pour « {1} » (laissez-la vide)"};
const RefusalText kWifiNeedsFor = {"wifi --on needs {0} (how long the activity lasts)",
                                   "le Wi-Fi pour une activité demande une {0} (celle de "
                                   "l'activité)"};
const RefusalText kAllowNeedsFor = {"allow needs {0} (how long the site stays allowed)",
                                    "autoriser un site demande une {0} (le temps de "
                                    "l'autorisation)"};
const RefusalText kFocusOneTarget = {"focus needs exactly one of {0} and {1}",
                                     "le focus demande soit une {0}, soit une {1}"};
const RefusalText kNotAnAppId = {
    "{0} '{1}': expected an app id such as fr.lumni.app (letters, digits, '.', '_', '-')",
    "{0} « {1} » : un identifiant d'appli est attendu, comme fr.lumni.app"};
const RefusalText kNotADomain = {"{0} '{1}': expected a domain name such as fr.wikipedia.org",
                                 "{0} « {1} » : un nom de site est attendu, comme "
                                 "fr.wikipedia.org"};
const RefusalText kPublicSuffix = {
    "{0} '{1}' is a public suffix: allowing it would allow every site under it; name the "
    "site itself",
    "{0} « {1} » est un suffixe public : l'autoriser autoriserait tous les sites en dessous ; "
    "nommez le site lui-même"};
}  // namespace refusal

namespace {

using namespace refusal;

// Every template, for InFrench to find the one a text was made from.
const std::vector<const RefusalText*>& All() {
  static const std::vector<const RefusalText*> kAll = {
      &kOperator,     &kNoRightsOnGroup, &kNotWholeAuthority, &kRoleMayNot,
      &kOutsideHours, &kUnknownGroup,    &kRequired,          &kNotHttp,
      &kUrlTooLong,   &kUrlSpaces,       &kTextTooLong,       &kControlCharacter,
      &kForNotPositive, &kForTooLong,    &kForDoesNotApply,   &kWifiNeedsFor,
      &kAllowNeedsFor, &kFocusOneTarget, &kNotAnAppId,        &kNotADomain,
      &kPublicSuffix,
  };
  return kAll;
}

// The rule set's own words among the values: roles, command options (named as the
// console's fields), commands. Permissions come from the permission table.
const std::map<std::string, std::string>& Words() {
  static const std::map<std::string, std::string> kWords = {
      {"admin", "administrateur"},
      {"teacher", "enseignant"},
      {"reviewer", "relecteur"},
      {"hotline", "assistance"},
      {"school-head", "direction d'école"},
      {"referent", "référent numérique"},
      {"periscolaire", "périscolaire"},
      {"viewer", "observateur"},
      {"--url", "adresse"},
      {"--site", "site"},
      {"--message", "message"},
      {"--text", "message"},
      {"--for", "durée"},
      {"--app", "appli"},
      {"unlock", "déverrouiller"},
      {"message", "message"},
      {"open", "ouvrir"},
      {"wifi --off", "Wi-Fi : retour à la règle"},
  };
  return kWords;
}

// {N} positions of a template, split into its literal parts and the value numbers between.
struct Pattern {
  std::vector<std::string> literals;  // one more than values
  std::vector<int> values;
};

Pattern Parse(const std::string& text) {
  Pattern p;
  p.literals.emplace_back();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '{' && i + 2 < text.size() && text[i + 2] == '}' && text[i + 1] >= '0' &&
        text[i + 1] <= '9') {
      p.values.push_back(text[i + 1] - '0');
      p.literals.emplace_back();
      i += 2;
    } else {
      p.literals.back() += text[i];
    }
  }
  return p;
}

std::string Fill(const std::string& text, const std::vector<std::string>& values) {
  Pattern p = Parse(text);
  std::string out = p.literals[0];
  for (size_t i = 0; i < p.values.size(); ++i) {
    size_t n = static_cast<size_t>(p.values[i]);
    out += n < values.size() ? values[n] : "";
    out += p.literals[i + 1];
  }
  return out;
}

// The values of `text` if it reads as `pattern`: each value runs to the next literal
// (the last one to the literal that ends the text).
std::optional<std::vector<std::string>> Match(const Pattern& pattern, const std::string& text) {
  const auto& lit = pattern.literals;
  if (text.compare(0, lit[0].size(), lit[0]) != 0) return std::nullopt;
  size_t at = lit[0].size();
  std::vector<std::string> values(pattern.values.size());
  for (size_t i = 0; i < pattern.values.size(); ++i) {
    const std::string& next = lit[i + 1];
    size_t end;
    if (i + 1 == pattern.values.size()) {
      if (text.size() < at + next.size() ||
          text.compare(text.size() - next.size(), next.size(), next) != 0) {
        return std::nullopt;
      }
      end = text.size() - next.size();
    } else {
      end = next.empty() ? std::string::npos : text.find(next, at);
      if (end == std::string::npos) return std::nullopt;
    }
    if (end < at) return std::nullopt;
    size_t n = static_cast<size_t>(pattern.values[i]);
    if (n >= values.size()) values.resize(n + 1);
    values[n] = text.substr(at, end - at);
    at = end + next.size();
  }
  if (pattern.values.empty() && text != lit[0]) return std::nullopt;
  return values;
}

std::string ValueInFrench(const std::string& value) {
  if (auto nested = InFrench(value)) return *nested;
  auto it = Words().find(value);
  if (it != Words().end()) return it->second;
  if (auto what = PermissionWhatInFrench(value)) return *what;
  return value;
}

}  // namespace

std::string Say(const RefusalText& text, std::initializer_list<std::string> values) {
  return Fill(text.en, std::vector<std::string>(values));
}

std::optional<std::string> InFrench(const std::string& english) {
  // The most specific first (most fixed text): "operator 'X' (ROLE)" also reads as the
  // start of a longer refusal.
  static const std::vector<std::pair<Pattern, const RefusalText*>> kPatterns = [] {
    std::vector<std::pair<Pattern, const RefusalText*>> out;
    for (const RefusalText* t : All()) out.emplace_back(Parse(t->en), t);
    auto fixed = [](const Pattern& p) {
      size_t n = 0;
      for (const auto& l : p.literals) n += l.size();
      return n;
    };
    std::stable_sort(out.begin(), out.end(), [&](const auto& a, const auto& b) {
      return fixed(a.first) > fixed(b.first);
    });
    return out;
  }();
  for (const auto& [pattern, t] : kPatterns) {
    auto values = Match(pattern, english);
    if (!values) continue;
    for (auto& v : *values) v = ValueInFrench(v);
    return Fill(t->fr, *values);
  }
  return std::nullopt;
}

}  // namespace preau::server

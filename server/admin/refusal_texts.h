// RefusalTexts: the words of the shared rule set's refusals, in the two languages of its
// front ends. The rule set (scopes, roles, hours, class commands) writes a refusal with
// Say(kTemplate, values): English, as the CLI and the audit log show it. The teachers'
// console, in French, turns that text back into its template and values with InFrench
// and fills the French sentence written beside the English one. The decisions stay in the
// rule set; only their wording is here, each English sentence next to its French, so that
// a new refusal gets both or, if it has no French yet, is shown in English as before.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>

namespace preau::server {

// {0}, {1}, … stand for the values, in any order in either language.
struct RefusalText {
  const char* en;
  const char* fr;
};

namespace refusal {
extern const RefusalText kOperator;          // who: operator 'NAME' (ROLE)
extern const RefusalText kNoRightsOnGroup;
extern const RefusalText kNotWholeAuthority;
extern const RefusalText kRoleMayNot;
extern const RefusalText kOutsideHours;
extern const RefusalText kUnknownGroup;
extern const RefusalText kRequired;
extern const RefusalText kNotHttp;
extern const RefusalText kUrlTooLong;
extern const RefusalText kUrlSpaces;
extern const RefusalText kTextTooLong;
extern const RefusalText kControlCharacter;
extern const RefusalText kForNotPositive;
extern const RefusalText kForTooLong;
extern const RefusalText kForDoesNotApply;
extern const RefusalText kWifiNeedsFor;
extern const RefusalText kAllowNeedsFor;
extern const RefusalText kFocusOneTarget;
extern const RefusalText kNotAnAppId;
extern const RefusalText kNotADomain;
extern const RefusalText kPublicSuffix;
}  // namespace refusal

// The English text with the values in place.
std::string Say(const RefusalText& text, std::initializer_list<std::string> values = {});

// The French of a text that Say made, its values turned into French too where they are
// the rule set's own words (a role, a permission, a command's option); nullopt for a
// text of no known template.
std::optional<std::string> InFrench(const std::string& english);

}  // namespace preau::server

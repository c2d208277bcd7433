// ClassSummary: the one line that says what a class command did, shared by the CLI
// ("28/30 locked, 2 offline (will lock when they reconnect, until 10:45)") and the
// teachers' console in the browser, in French ("28/30 verrouillées, 2 hors ligne (…)").
// One count, two languages: both front ends always tell the same story.
#pragma once

#include <optional>
#include <string>

#include "preau/v1/command.pb.h"

namespace preau {

enum class SummaryLanguage { kEnglish, kFrench };

// The class command a summary verb names ("lock", "unlock", "focus", "open", "allow",
// "message", "wifi on", "wifi off"), or nothing: one table for both front ends.
std::optional<v1::CommandKind> ClassCommandKind(const std::string& verb);

std::string ClassSummary(const std::string& verb, const v1::ClassCommandResponse& response,
                         SummaryLanguage language = SummaryLanguage::kEnglish);

// Why one device did not act, for a person.
std::string ClassOutcomeWhy(const std::string& verb, const v1::ClassCommandResponse& response,
                            const v1::DeviceResult& device,
                            SummaryLanguage language = SummaryLanguage::kEnglish);

}  // namespace preau

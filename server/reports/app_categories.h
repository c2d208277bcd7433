// AppCategories: the families that usage is summed into for people ("minutes per app
// category"): learning, office, web, school life / ENT, media and creation, other. An app
// is placed by the words of its id (org.geogebra.android -> learning), so a new build or
// platform of a known app lands in the same family.
#pragma once

#include <string>
#include <vector>

namespace preau::server {

struct AppCategory {
  std::string key;    // snake_case, e.g. "learning" (CSV column minutes_learning)
  std::string label;  // French, e.g. "Apprentissage"
};

// Every category, in the order reports show them; "other" is last.
const std::vector<AppCategory>& AppCategories();
// Index into AppCategories() of the app `app_id`.
size_t CategoryOfApp(const std::string& app_id);

}  // namespace preau::server

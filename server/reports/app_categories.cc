#include "server/reports/app_categories.h"

#include <cctype>
#include <set>

namespace preau::server {

const std::vector<AppCategory>& AppCategories() {
  static const std::vector<AppCategory> kCategories = {
      {"learning", "Apprentissage"},
      {"office", "Bureautique"},
      {"web", "Navigation web"},
      {"school_life", "Vie scolaire / ENT"},
      {"media", "Création et médias"},
      {"other", "Autres"},
  };
  return kCategories;
}

size_t CategoryOfApp(const std::string& app_id) {
  static const std::vector<std::set<std::string>> kWords = {
      {"geogebra", "lumni", "scratch", "scratch3", "khan", "khanacademy", "duolingo", "mathia",
       "lalilo", "tactileo", "edumoov", "educ", "education", "labomep", "mathenpoche",
       "bibliotheque", "dictionnaire", "calculatrice", "calculator"},
      {"office", "officehubrow", "libreoffice", "docs", "keynote", "pages", "numbers", "word",
       "excel", "powerpoint", "onenote", "onlyoffice", "sheets", "slides"},
      {"firefox", "chrome", "chromium", "safari", "browser", "edge", "opera", "brave"},
      {"pronote", "ecoledirecte", "skolengo", "moodle", "classroom", "ent", "monlycee",
       "toutatice", "beneylu", "klassroom", "teams"},
      {"vlc", "camera", "photo", "photos", "video", "music", "audio", "paint", "krita", "gimp",
       "imovie", "garageband", "audacity", "podcast"},
  };
  std::string word;
  std::vector<std::string> words;
  for (char c : app_id + ".") {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!word.empty()) {
      words.push_back(word);
      word.clear();
    }
  }
  // Specific families first: "com.index_education.pronote" is school life, not learning.
  for (size_t i : {3, 1, 2, 4, 0}) {
    for (const auto& w : words) {
      if (kWords[i].count(w)) return i;
    }
  }
  return AppCategories().size() - 1;
}

}  // namespace preau::server

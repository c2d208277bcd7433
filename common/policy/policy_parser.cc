#include "common/policy/policy_parser.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "common/policy/local_time.h"
#include "common/policy/schedule.h"

namespace preau::policy {

bool ValidAppId(const std::string& s) {
  if (s.empty() || s.size() > 255 || !isalnum(static_cast<unsigned char>(s[0]))) return false;
  if (s.find("..") != std::string::npos) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

namespace {

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string Suggest(const std::string& key, const std::vector<std::string>& known) {
  static const std::map<std::string, std::string> kFrench = {
      {"lundi", "monday"},   {"mardi", "tuesday"},   {"mercredi", "wednesday"},
      {"jeudi", "thursday"}, {"vendredi", "friday"}, {"samedi", "saturday"},
      {"dimanche", "sunday"}};
  auto fr = kFrench.find(key);
  if (fr != kFrench.end() && std::find(known.begin(), known.end(), fr->second) != known.end()) {
    return " (did you mean '" + fr->second + "'?)";
  }
  std::string best;
  size_t best_distance = std::max<size_t>(2, key.size() / 3) + 1;
  for (const auto& k : known) {
    size_t d = EditDistance(key, k);
    if (d < best_distance) {
      best_distance = d;
      best = k;
    }
  }
  if (!best.empty()) return " (did you mean '" + best + "'?)";
  std::string all;
  for (const auto& k : known) all += (all.empty() ? "" : ", ") + k;
  return " (known keys here: " + all + ")";
}

std::optional<uint32_t> ParseTime(std::string_view t, bool allow_24) {
  size_t colon = t.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 2 || t.size() != colon + 3) {
    return std::nullopt;
  }
  for (size_t i = 0; i < t.size(); ++i) {
    if (i != colon && !isdigit(static_cast<unsigned char>(t[i]))) return std::nullopt;
  }
  uint32_t h = std::stoul(std::string(t.substr(0, colon)));
  uint32_t m = std::stoul(std::string(t.substr(colon + 1)));
  if (m > 59) return std::nullopt;
  if (h == 24 && m == 0 && allow_24) return 24 * 60;
  if (h > 23) return std::nullopt;
  return h * 60 + m;
}

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  if (b == std::string_view::npos) return "";
  return std::string(s.substr(b, e - b + 1));
}

bool ValidDomain(const std::string& s) {
  if (s.empty() || s.front() == '.' || s.back() == '.' || s.find('.') == std::string::npos) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
  });
}

bool ValidCategory(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

enum class Item { kApp, kDomain, kCategory };

// Reads one YAML document into a PolicySpec, collecting errors instead of stopping.
class Reader {
 public:
  Reader(std::string file, SourceMap* lines) : file_(std::move(file)), lines_(lines) {}

  std::vector<PolicyError>& errors() { return errors_; }

  void Error(const YAML::Node& at, const std::string& key, const std::string& message) {
    int line = at.IsDefined() ? static_cast<int>(at.Mark().line) + 1 : 0;
    // yaml-cpp marks an empty value at the next token, often the next line; the key's own
    // line is where the writer looks.
    if (line <= 0 || (at.IsDefined() && at.IsNull() && lines_->Has(key))) {
      line = lines_->LineOf(key);
    }
    errors_.push_back({file_, line, key, message});
  }

  static std::string Join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  // Checks that `node` is a map with only `known` keys (each once); records their lines.
  bool Map(const YAML::Node& node, const std::string& path, const std::vector<std::string>& known) {
    if (!node.IsMap()) {
      Error(node, path,
            node.IsNull() ? "has no value (expected a block of keys)"
                          : "expected a block of keys (" + Sample(known) + ")");
      return false;
    }
    std::map<std::string, int> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string key = it->first.IsScalar() ? it->first.Scalar() : "?";
      std::string full = Join(path, key);
      int line = static_cast<int>(it->first.Mark().line) + 1;
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        Error(it->first, full, "unknown key" + Suggest(key, known));
        continue;
      }
      auto [pos, fresh] = seen.emplace(key, line);
      if (!fresh) {
        Error(it->first, full, "given twice (first on line " + std::to_string(pos->second) + ")");
        continue;
      }
      lines_->Set(full, line);
    }
    return true;
  }

  static std::string Sample(const std::vector<std::string>& known) {
    std::string s;
    for (size_t i = 0; i < known.size() && i < 3; ++i) s += (i ? ", " : "") + known[i];
    return s + (known.size() > 3 ? ", …" : "");
  }

  std::optional<std::string> Text(const YAML::Node& n, const std::string& key) {
    if (!n.IsScalar()) {
      Error(n, key, n.IsNull() ? "has no value" : "expected a single value, not a list or block");
      return std::nullopt;
    }
    return n.Scalar();
  }

  std::optional<bool> Bool(const YAML::Node& n, const std::string& key) {
    auto t = Text(n, key);
    if (!t) return std::nullopt;
    if (*t == "true" || *t == "yes") return true;
    if (*t == "false" || *t == "no") return false;
    Error(n, key, "'" + *t + "' is not true or false");
    return std::nullopt;
  }

  std::optional<uint32_t> Minutes(const YAML::Node& n, const std::string& key) {
    auto t = Text(n, key);
    if (!t) return std::nullopt;
    bool digits = !t->empty() && std::all_of(t->begin(), t->end(), ::isdigit);
    bool negative =
        t->size() > 1 && (*t)[0] == '-' && std::all_of(t->begin() + 1, t->end(), ::isdigit);
    if (negative || (digits && std::stoul(*t) == 0)) {
      Error(n, key, "'" + *t + "' must be a positive number of minutes");
      return std::nullopt;
    }
    if (!digits || t->size() > 4 || std::stoul(*t) > 7 * kMinutesPerDay) {
      Error(n, key, "'" + *t + "' is not a number of minutes (1 to 10080)");
      return std::nullopt;
    }
    return static_cast<uint32_t>(std::stoul(*t));
  }

  std::optional<uint32_t> Time(const YAML::Node& n, const std::string& key) {
    auto t = Text(n, key);
    if (!t) return std::nullopt;
    auto m = ParseTime(Trim(*t), false);
    if (!m) Error(n, key, "'" + *t + "' is not a time HH:MM");
    return m;
  }

  std::optional<v1::TimeSlot> Slot(const YAML::Node& n, const std::string& key) {
    auto t = Text(n, key);
    if (!t) return std::nullopt;
    size_t dash = t->find('-');
    std::optional<uint32_t> start, end;
    if (dash != std::string::npos) {
      start = ParseTime(Trim(std::string_view(*t).substr(0, dash)), false);
      end = ParseTime(Trim(std::string_view(*t).substr(dash + 1)), true);
    }
    if (!start || !end) {
      Error(n, key, "'" + *t + "' is not a time slot HH:MM-HH:MM");
      return std::nullopt;
    }
    v1::TimeSlot slot;
    slot.set_start(*start);
    slot.set_end(*end);
    return slot;
  }

  template <typename Enum>
  std::optional<Enum> Choice(const YAML::Node& n, const std::string& key,
                             const std::vector<std::pair<std::string, Enum>>& choices) {
    auto t = Text(n, key);
    if (!t) return std::nullopt;
    std::vector<std::string> names;
    for (const auto& [name, value] : choices) {
      if (name == *t) return value;
      names.push_back(name);
    }
    std::string all;
    for (const auto& name : names) all += (all.empty() ? "" : ", ") + name;
    std::string hint = Suggest(*t, names);
    if (hint.find("did you mean") == std::string::npos) hint.clear();
    Error(n, key, "'" + *t + "' is not one of: " + all + hint);
    return std::nullopt;
  }

  std::optional<v1::StringList> List(const YAML::Node& n, const std::string& key, Item kind) {
    if (!n.IsSequence()) {
      Error(n, key,
            n.IsNull() ? "has no value (write [] for an empty list)"
                       : "expected a list, e.g. [a, b]");
      return std::nullopt;
    }
    v1::StringList out;
    bool ok = true;
    for (size_t i = 0; i < n.size(); ++i) {
      std::string k = key + "[" + std::to_string(i) + "]";
      lines_->Set(k, static_cast<int>(n[i].Mark().line) + 1);
      auto t = Text(n[i], k);
      if (!t) {
        ok = false;
        continue;
      }
      bool valid = kind == Item::kApp      ? ValidAppId(*t)
                   : kind == Item::kDomain ? ValidDomain(*t)
                                           : ValidCategory(*t);
      if (!valid) {
        ok = false;
        Error(n[i], k,
              kind == Item::kApp ? "'" + *t + "' is not an app id (letters, digits, . _ -)"
              : kind == Item::kDomain
                  ? "'" + *t +
                        "' is not a domain name (write example.org: lower case, no "
                        "http:// and no path)"
                  : "'" + *t + "' is not a category name (lower case, digits, _ -)");
        continue;
      }
      out.add_items(*t);
    }
    if (!ok) return std::nullopt;
    return out;
  }

  void Week(const YAML::Node& n, const std::string& key, v1::WeeklySchedule* week) {
    static const std::vector<std::string> kDays = {"monday", "tuesday",  "wednesday", "thursday",
                                                   "friday", "saturday", "sunday"};
    if (!Map(n, key, kDays)) return;
    for (int d = 1; d <= 7; ++d) {
      std::string name(WeekdayName(d));
      const YAML::Node day = n[name];
      if (!day.IsDefined()) continue;
      std::string k = key + "." + name;
      if (!day.IsSequence()) {
        Error(day, k,
              day.IsNull() ? "has no value (write [] for a day without slots)"
                           : "expected a list of slots, e.g. [\"08:30-11:30\"]");
        continue;
      }
      v1::DaySlots* slots = MutableDaySlotsOf(week, d);
      for (size_t i = 0; i < day.size(); ++i) {
        std::string ki = k + "[" + std::to_string(i) + "]";
        lines_->Set(ki, static_cast<int>(day[i].Mark().line) + 1);
        if (auto s = Slot(day[i], ki)) *slots->add_slots() = *s;
      }
    }
  }

  std::optional<v1::PeriodMode> Mode(const YAML::Node& n, const std::string& key) {
    return Choice<v1::PeriodMode>(n, key,
                                  {{"any", v1::PERIOD_ANY},
                                   {"listed_apps", v1::PERIOD_LISTED_APPS},
                                   {"lock", v1::PERIOD_LOCK}});
  }

  void Period(const YAML::Node& n, const std::string& key, v1::PeriodRule* p) {
    if (!Map(n, key, {"mode", "apps"})) return;
    if (n["mode"]) {
      if (auto m = Mode(n["mode"], key + ".mode")) p->set_mode(*m);
    }
    if (n["apps"]) {
      if (auto l = List(n["apps"], key + ".apps", Item::kApp)) *p->mutable_apps() = *l;
    }
  }

  void Apps(const YAML::Node& n, v1::AppRules* a) {
    if (!Map(n, "apps", {"allowed", "required", "blocked"})) return;
    if (n["allowed"]) {
      if (auto l = List(n["allowed"], "apps.allowed", Item::kApp)) *a->mutable_allowed() = *l;
    }
    if (n["required"]) {
      if (auto l = List(n["required"], "apps.required", Item::kApp)) *a->mutable_required() = *l;
    }
    if (n["blocked"]) {
      if (auto l = List(n["blocked"], "apps.blocked", Item::kApp)) *a->mutable_blocked() = *l;
    }
  }

  void Kiosk(const YAML::Node& n, v1::Kiosk* k) {
    if (!Map(n, "kiosk", {"app", "url"})) return;
    if (n["app"]) {
      if (auto t = Text(n["app"], "kiosk.app")) {
        if (!t->empty() && !ValidAppId(*t)) {
          Error(n["app"], "kiosk.app", "'" + *t + "' is not an app id (letters, digits, . _ -)");
        } else {
          k->set_app(*t);
        }
      }
    }
    if (n["url"]) {
      if (auto t = Text(n["url"], "kiosk.url")) {
        if (!t->empty() && t->rfind("https://", 0) != 0 && t->rfind("http://", 0) != 0) {
          Error(n["url"], "kiosk.url", "'" + *t + "' is not an http(s) URL");
        } else {
          k->set_url(*t);
        }
      }
    }
  }

  void WebFilter(const YAML::Node& n, v1::WebFilterProfile* w) {
    if (!Map(n, "web_filter",
             {"profile", "categories", "allow", "deny", "safe_search", "fail_open", "enabled"})) {
      return;
    }
    if (n["profile"]) {
      if (auto t = Text(n["profile"], "web_filter.profile")) w->set_profile(*t);
    }
    if (n["categories"]) {
      if (auto l = List(n["categories"], "web_filter.categories", Item::kCategory)) {
        *w->mutable_categories() = *l;
      }
    }
    if (n["allow"]) {
      if (auto l = List(n["allow"], "web_filter.allow", Item::kDomain)) *w->mutable_allow() = *l;
    }
    if (n["deny"]) {
      if (auto l = List(n["deny"], "web_filter.deny", Item::kDomain)) *w->mutable_deny() = *l;
    }
    if (n["safe_search"]) {
      if (auto b = Bool(n["safe_search"], "web_filter.safe_search")) w->set_safe_search(*b);
    }
    if (n["fail_open"]) {
      if (auto b = Bool(n["fail_open"], "web_filter.fail_open")) w->set_fail_open(*b);
    }
    if (n["enabled"]) {
      if (auto b = Bool(n["enabled"], "web_filter.enabled")) w->set_enabled(*b);
    }
  }

  void Curfew(const YAML::Node& n, v1::Curfew* c) {
    const std::string k = "schedule.curfew";
    if (!Map(n, k, {"enabled", "start", "end", "mode", "apps", "message"})) return;
    if (n["enabled"]) {
      if (auto b = Bool(n["enabled"], k + ".enabled")) c->set_enabled(*b);
    }
    if (n["start"]) {
      if (auto t = Time(n["start"], k + ".start")) c->set_start(*t);
    }
    if (n["end"]) {
      if (auto t = Time(n["end"], k + ".end")) c->set_end(*t);
    }
    if (n["mode"]) {
      if (auto m = Mode(n["mode"], k + ".mode")) c->set_mode(*m);
    }
    if (n["apps"]) {
      if (auto l = List(n["apps"], k + ".apps", Item::kApp)) *c->mutable_apps() = *l;
    }
    if (n["message"]) {
      if (auto t = Text(n["message"], k + ".message")) c->set_message(*t);
    }
  }

  void Holidays(const YAML::Node& n, v1::HolidayList* list) {
    const std::string k = "schedule.holidays";
    if (!n.IsSequence()) {
      Error(n, k,
            n.IsNull() ? "has no value (write [] for no holidays)"
                       : "expected a list of {name, from, to}");
      return;
    }
    list->Clear();
    for (size_t i = 0; i < n.size(); ++i) {
      std::string ki = k + "[" + std::to_string(i) + "]";
      lines_->Set(ki, static_cast<int>(n[i].Mark().line) + 1);
      if (!Map(n[i], ki, {"name", "from", "to"})) continue;
      v1::Holiday h;
      if (n[i]["name"]) {
        if (auto t = Text(n[i]["name"], ki + ".name")) h.set_name(*t);
      }
      for (const char* end : {"from", "to"}) {
        if (!n[i][end]) {
          Error(n[i], ki, std::string("'") + end + "' is missing (a date YYYY-MM-DD)");
          continue;
        }
        auto t = Text(n[i][end], ki + "." + end);
        if (!t) continue;
        std::string& field = *(std::string(end) == "from" ? h.mutable_from() : h.mutable_to());
        field = Trim(*t);  // format is checked by the validator, against this line
      }
      *list->add_items() = h;
    }
  }

  void Schedule(const YAML::Node& n, v1::Schedule* s) {
    if (!Map(n, "schedule",
             {"school_hours", "holidays", "during_school_hours", "outside_school_hours",
              "curfew"})) {
      return;
    }
    if (n["school_hours"])
      Week(n["school_hours"], "schedule.school_hours", s->mutable_school_hours());
    if (n["holidays"]) Holidays(n["holidays"], s->mutable_holidays());
    if (n["during_school_hours"]) {
      Period(n["during_school_hours"], "schedule.during_school_hours",
             s->mutable_during_school_hours());
    }
    if (n["outside_school_hours"]) {
      Period(n["outside_school_hours"], "schedule.outside_school_hours",
             s->mutable_outside_school_hours());
    }
    if (n["curfew"]) Curfew(n["curfew"], s->mutable_curfew());
  }

  void Wifi(const YAML::Node& n, v1::WifiRule* w) {
    if (!Map(n, "wifi", {"mode", "slots", "teacher_demand", "idle_off_minutes"})) return;
    if (n["mode"]) {
      auto m = Choice<v1::WifiMode>(n["mode"], "wifi.mode",
                                    {{"always_on", v1::WIFI_ALWAYS_ON},
                                     {"always_off", v1::WIFI_ALWAYS_OFF},
                                     {"scheduled", v1::WIFI_SCHEDULED}});
      if (m) w->set_mode(*m);
    }
    if (n["slots"]) Week(n["slots"], "wifi.slots", w->mutable_slots());
    if (n["teacher_demand"]) {
      if (auto b = Bool(n["teacher_demand"], "wifi.teacher_demand")) w->set_teacher_demand(*b);
    }
    if (n["idle_off_minutes"]) {
      if (auto m = Minutes(n["idle_off_minutes"], "wifi.idle_off_minutes")) {
        w->set_idle_off_minutes(*m);
      }
    }
  }

  void ScreenLock(const YAML::Node& n, v1::ScreenLock* s) {
    if (!Map(n, "screen_lock", {"idle_minutes", "pin_required"})) return;
    if (n["idle_minutes"]) {
      if (auto m = Minutes(n["idle_minutes"], "screen_lock.idle_minutes")) s->set_idle_minutes(*m);
    }
    if (n["pin_required"]) {
      if (auto b = Bool(n["pin_required"], "screen_lock.pin_required")) s->set_pin_required(*b);
    }
  }

  void Updates(const YAML::Node& n, v1::UpdateWindow* u) {
    if (!Map(n, "updates", {"days", "window"})) return;
    if (n["days"]) {
      const YAML::Node days = n["days"];
      if (!days.IsSequence()) {
        Error(days, "updates.days", "expected a list of weekdays, e.g. [monday, friday]");
      } else {
        u->mutable_days()->Clear();
        for (size_t i = 0; i < days.size(); ++i) {
          std::string k = "updates.days[" + std::to_string(i) + "]";
          lines_->Set(k, static_cast<int>(days[i].Mark().line) + 1);
          auto t = Text(days[i], k);
          if (!t) continue;
          auto d = WeekdayFromName(*t);
          if (!d) {
            Error(days[i], k, "'" + *t + "' is not a weekday (monday … sunday)");
            continue;
          }
          u->mutable_days()->add_days(static_cast<uint32_t>(*d));
        }
      }
    }
    if (n["window"]) {
      if (auto s = Slot(n["window"], "updates.window")) *u->mutable_window() = *s;
    }
  }

  void Restrictions(const YAML::Node& n, v1::Restrictions* r) {
    if (!Map(n, "restrictions", {"allow_camera", "allow_usb_storage", "allow_unknown_sources"})) {
      return;
    }
    if (n["allow_camera"]) {
      if (auto b = Bool(n["allow_camera"], "restrictions.allow_camera")) r->set_allow_camera(*b);
    }
    if (n["allow_usb_storage"]) {
      if (auto b = Bool(n["allow_usb_storage"], "restrictions.allow_usb_storage")) {
        r->set_allow_usb_storage(*b);
      }
    }
    if (n["allow_unknown_sources"]) {
      if (auto b = Bool(n["allow_unknown_sources"], "restrictions.allow_unknown_sources")) {
        r->set_allow_unknown_sources(*b);
      }
    }
  }

  void Root(const YAML::Node& root, v1::PolicySpec* spec) {
    if (!root.IsDefined() || root.IsNull()) {
      errors_.push_back({file_, 1, "", "the policy is empty"});
      return;
    }
    if (!Map(root, "",
             {"name", "timezone", "apps", "kiosk", "web_filter", "schedule", "wifi", "screen_lock",
              "updates", "restrictions"})) {
      return;
    }
    if (root["name"]) {
      if (auto t = Text(root["name"], "name")) spec->set_name(*t);
    }
    if (root["timezone"]) {
      if (auto t = Text(root["timezone"], "timezone")) {
        auto posix = PosixRuleForZone(*t);
        if (!posix.ok()) {
          Error(root["timezone"], "timezone", posix.status().message());
        } else {
          spec->mutable_timezone()->set_name(*t);
          spec->mutable_timezone()->set_posix(*posix);
        }
      }
    }
    if (root["apps"]) Apps(root["apps"], spec->mutable_apps());
    if (root["kiosk"]) Kiosk(root["kiosk"], spec->mutable_kiosk());
    if (root["web_filter"]) WebFilter(root["web_filter"], spec->mutable_web_filter());
    if (root["schedule"]) Schedule(root["schedule"], spec->mutable_schedule());
    if (root["wifi"]) Wifi(root["wifi"], spec->mutable_wifi());
    if (root["screen_lock"]) ScreenLock(root["screen_lock"], spec->mutable_screen_lock());
    if (root["updates"]) Updates(root["updates"], spec->mutable_updates());
    if (root["restrictions"]) Restrictions(root["restrictions"], spec->mutable_restrictions());
  }

 private:
  std::string file_;
  SourceMap* lines_;
  std::vector<PolicyError> errors_;
};

}  // namespace

std::vector<PolicyError> LocateIssues(const std::vector<ValidationIssue>& issues,
                                      const std::string& file, const SourceMap& lines) {
  std::vector<PolicyError> out;
  for (const auto& issue : issues) {
    out.push_back({file, lines.LineOf(issue.key), issue.key, issue.message});
  }
  return out;
}

namespace {
// See ParseOptions::for_apply.
std::vector<PolicyError> AppliableErrors(size_t source_bytes, const ParsedPolicy& p) {
  std::vector<PolicyError> out;
  if (source_bytes > kMaxPolicySourceBytes) {
    out.push_back({p.file, 0, "", "the file is larger than 256 KiB, the most a group accepts"});
  }
  const std::string& name = p.spec.name();
  int line = p.lines.LineOf("name");
  if (name.empty()) {
    out.push_back({p.file, line, "name", "a policy applied to a group needs a name (add "
                                         "`name: ...` at the top)"});
  } else if (name.size() > 64) {
    out.push_back({p.file, line, "name", "longer than 64 characters"});
  } else if (!std::all_of(name.begin(), name.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
             })) {
    out.push_back({p.file, line, "name", "'" + name + "': use letters, digits, '-', '_' and "
                                         "'.' only"});
  }
  return out;
}
}  // namespace

ParseResult ParsePolicy(std::string_view yaml, const std::string& file,
                        const ParseOptions& options) {
  ParseResult result;
  ParsedPolicy parsed;
  parsed.file = file;
  Reader reader(file, &parsed.lines);
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    reader.Root(root, &parsed.spec);
  } catch (const YAML::Exception& e) {
    // Syntax errors stop the parse: there is no tree to keep checking.
    result.errors.push_back(
        {file, e.mark.line >= 0 ? e.mark.line + 1 : 0, "", "not valid YAML: " + e.msg});
    return result;
  }
  result.errors = std::move(reader.errors());
  // Conflicts are checked on what did parse. An issue about a key that already has a
  // syntax error (or about its parent or child) would only repeat it, so it is dropped.
  auto related = [](const std::string& a, const std::string& b) {
    auto prefix = [](const std::string& p, const std::string& s) {
      return s.compare(0, p.size(), p) == 0 &&
             (s.size() == p.size() || s[p.size()] == '.' || s[p.size()] == '[');
    };
    return !a.empty() && !b.empty() && (prefix(a, b) || prefix(b, a));
  };
  for (auto& e :
       LocateIssues(ValidateSpec(parsed.spec, options.completeness), file, parsed.lines)) {
    bool repeat = std::any_of(result.errors.begin(), result.errors.end(),
                              [&](const PolicyError& o) { return related(o.key, e.key); });
    if (!repeat) result.errors.push_back(std::move(e));
  }
  if (options.for_apply) {
    for (auto& e : AppliableErrors(yaml.size(), parsed)) result.errors.push_back(std::move(e));
  }
  std::stable_sort(result.errors.begin(), result.errors.end(),
                   [](const PolicyError& a, const PolicyError& b) { return a.line < b.line; });
  if (result.errors.empty()) result.policy = std::move(parsed);
  return result;
}

ParseResult ParsePolicyFile(const std::string& path, const ParseOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ParseResult result;
    result.errors.push_back({path, 0, "", "cannot read the file"});
    return result;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  return ParsePolicy(buf.str(), path, options);
}

}  // namespace preau::policy

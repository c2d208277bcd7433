#include "common/policy/policy_validator.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "common/policy/schedule.h"

namespace preau::policy {
namespace {

class Checker {
 public:
  Checker(const v1::PolicySpec& spec, Completeness completeness)
      : spec_(spec), effective_(completeness == Completeness::kEffective) {}

  std::vector<ValidationIssue> Run() {
    CheckWeek(spec_.schedule().school_hours(), "schedule.school_hours");
    CheckWeek(spec_.wifi().slots(), "wifi.slots");
    CheckHolidays();
    CheckCurfew();
    CheckPeriod(spec_.schedule().during_school_hours(), "schedule.during_school_hours");
    CheckPeriod(spec_.schedule().outside_school_hours(), "schedule.outside_school_hours");
    CheckWifi();
    CheckScreenLock();
    CheckUpdates();
    CheckApps();
    CheckTimeZone();
    CheckSlotsInsideCurfew(spec_.wifi().slots(), "wifi.slots", "the radio could never be used");
    CheckSlotsInsideCurfew(spec_.schedule().school_hours(), "schedule.school_hours",
                           "the device is locked then");
    return std::move(issues_);
  }

 private:
  void Add(std::string key, std::string message) {
    issues_.push_back({std::move(key), std::move(message)});
  }

  void CheckWeek(const v1::WeeklySchedule& week, const std::string& base) {
    for (int d = 1; d <= 7; ++d) {
      const v1::DaySlots* day = DaySlotsOf(week, d);
      if (day == nullptr) continue;
      std::string key = base + "." + std::string(WeekdayName(d));
      for (int i = 0; i < day->slots_size(); ++i) {
        const auto& s = day->slots(i);
        std::string k = key + "[" + std::to_string(i) + "]";
        if (s.start() >= static_cast<uint32_t>(kMinutesPerDay) || s.end() > kMinutesPerDay) {
          Add(k, "'" + FormatSlot(s) + "' is not within a day");
        } else if (s.end() <= s.start()) {
          Add(k, "'" + FormatSlot(s) +
                     "' ends before it starts (only the curfew and the update window may "
                     "cross midnight; split it into two days)");
        }
        for (int j = 0; j < i; ++j) {
          const auto& o = day->slots(j);
          if (s.start() < o.end() && o.start() < s.end()) {
            Add(k, "'" + FormatSlot(s) + "' overlaps '" + FormatSlot(o) + "' (" + key + "[" +
                       std::to_string(j) + "])");
          }
        }
      }
    }
  }

  static bool ValidDate(const std::string& d) {
    if (d.size() != 10 || d[4] != '-' || d[7] != '-') return false;
    for (int i : {0, 1, 2, 3, 5, 6, 8, 9}) {
      if (!isdigit(static_cast<unsigned char>(d[i]))) return false;
    }
    using namespace std::chrono;
    year_month_day ymd{year(std::stoi(d.substr(0, 4))),
                       month(static_cast<unsigned>(std::stoi(d.substr(5, 2)))),
                       day(static_cast<unsigned>(std::stoi(d.substr(8, 2))))};
    return ymd.ok();
  }

  void CheckHolidays() {
    const auto& list = spec_.schedule().holidays();
    for (int i = 0; i < list.items_size(); ++i) {
      const auto& h = list.items(i);
      std::string k = "schedule.holidays[" + std::to_string(i) + "]";
      bool from_ok = ValidDate(h.from()), to_ok = ValidDate(h.to());
      if (!from_ok) Add(k + ".from", "'" + h.from() + "' is not a date YYYY-MM-DD");
      if (!to_ok) Add(k + ".to", "'" + h.to() + "' is not a date YYYY-MM-DD");
      if (from_ok && to_ok && h.to() < h.from()) {
        Add(k + ".to",
            "holiday '" + h.name() + "' ends (" + h.to() + ") before it starts (" + h.from() + ")");
      }
    }
  }

  void CheckCurfew() {
    const auto& c = spec_.schedule().curfew();
    const std::string k = "schedule.curfew";
    if (c.has_enabled() && !c.enabled()) return;
    if (c.has_start() && c.start() >= static_cast<uint32_t>(kMinutesPerDay)) {
      Add(k + ".start", "'" + FormatMinute(c.start()) + "' is not a time of day");
    }
    if (c.has_end() && c.end() >= static_cast<uint32_t>(kMinutesPerDay)) {
      Add(k + ".end", "'" + FormatMinute(c.end()) + "' is not a time of day");
    }
    if (c.has_start() && c.has_end() && c.start() == c.end()) {
      Add(k + ".end", "the curfew starts and ends at " + FormatMinute(c.start()) +
                          " (a curfew of 0 or 24 hours; use enabled: false or lock mode)");
    }
    bool any = c.has_start() || c.has_end() || c.has_mode() || c.has_apps() || c.has_message();
    if (effective_ && any && (!c.has_start() || !c.has_end())) {
      Add(k, std::string("a curfew needs both start and end (") +
                 (c.has_start() ? "end" : "start") + " is missing)");
    }
    if (c.has_mode()) {
      if (c.mode() == v1::PERIOD_ANY) {
        Add(k + ".mode",
            "'any' during the curfew is no curfew; use 'lock' or 'listed_apps', "
            "or enabled: false");
      } else if (c.mode() == v1::PERIOD_LISTED_APPS && c.apps().items_size() == 0) {
        Add(k + ".apps", "mode listed_apps needs at least one app (or use mode lock)");
      }
    }
    if (c.has_apps() && c.apps().items_size() > 0 && c.has_mode() &&
        c.mode() != v1::PERIOD_LISTED_APPS) {
      Add(k + ".apps", "apps are only used with mode listed_apps");
    }
  }

  void CheckPeriod(const v1::PeriodRule& p, const std::string& k) {
    if (!p.has_mode()) {
      if (p.has_apps() && p.apps().items_size() > 0 && effective_) {
        Add(k + ".apps", "apps are only used with mode listed_apps (mode is not set)");
      }
      return;
    }
    if (p.mode() == v1::PERIOD_LISTED_APPS && p.apps().items_size() == 0) {
      Add(k + ".apps", "mode listed_apps needs at least one app (or use mode lock)");
    }
    if (p.mode() != v1::PERIOD_LISTED_APPS && p.apps().items_size() > 0) {
      Add(k + ".apps", "apps are only used with mode listed_apps");
    }
  }

  void CheckWifi() {
    const auto& w = spec_.wifi();
    if (w.has_idle_off_minutes() && w.idle_off_minutes() == 0) {
      Add("wifi.idle_off_minutes", "must be a positive number of minutes");
    }
    if (effective_ && w.has_mode() && w.mode() == v1::WIFI_SCHEDULED) {
      bool any_slot = false;
      for (int d = 1; d <= 7; ++d) {
        const v1::DaySlots* day = DaySlotsOf(w.slots(), d);
        if (day != nullptr && day->slots_size() > 0) any_slot = true;
      }
      if (!any_slot) {
        Add("wifi.mode",
            "scheduled, but wifi.slots has no slot: the radio would only come on "
            "on a teacher's demand (say mode: always_off to mean that)");
      }
    }
  }

  // Schedules are local times: a device must know which zone they are in.
  void CheckTimeZone() {
    if (!effective_ || spec_.has_timezone()) return;
    const auto& s = spec_.schedule();
    if (s.has_school_hours() || CurfewActive(s.curfew()) || s.has_holidays() ||
        spec_.wifi().has_slots() || spec_.updates().has_window()) {
      Add("timezone",
          "not set, but the policy has a schedule (times are local: say e.g. "
          "timezone: Europe/Paris)");
    }
  }

  void CheckScreenLock() {
    const auto& s = spec_.screen_lock();
    if (s.has_idle_minutes() && s.idle_minutes() == 0) {
      Add("screen_lock.idle_minutes", "must be a positive number of minutes");
    }
  }

  void CheckUpdates() {
    const auto& u = spec_.updates();
    for (int i = 0; i < u.days().days_size(); ++i) {
      if (u.days().days(i) < 1 || u.days().days(i) > 7) {
        Add("updates.days[" + std::to_string(i) + "]", "not a weekday");
      }
    }
    if (u.has_window()) {
      if (u.window().start() >= static_cast<uint32_t>(kMinutesPerDay) ||
          u.window().end() >= static_cast<uint32_t>(kMinutesPerDay)) {
        Add("updates.window", "'" + FormatSlot(u.window()) + "' is not within a day");
      } else if (u.window().start() == u.window().end()) {
        Add("updates.window", "'" + FormatSlot(u.window()) + "' is empty");
      }
    }
    if (effective_ && u.has_days() && !u.has_window()) {
      Add("updates", "days are set but no window (hours) is");
    }
  }

  void CheckAppList(const v1::StringList& list, const std::string& k) {
    std::set<std::string> seen;
    for (int i = 0; i < list.items_size(); ++i) {
      if (!seen.insert(list.items(i)).second) {
        Add(k + "[" + std::to_string(i) + "]", "'" + list.items(i) + "' is listed twice");
      }
    }
  }

  static bool Contains(const v1::StringList& list, const std::string& app) {
    return std::find(list.items().begin(), list.items().end(), app) != list.items().end();
  }

  // An app list used during a period must not name blocked or non-allowed apps, and must
  // let a kiosk app run.
  void CheckPeriodApps(const v1::StringList& apps, const std::string& k, bool listed_mode,
                       const std::string& period) {
    const auto& a = spec_.apps();
    for (int i = 0; i < apps.items_size(); ++i) {
      const std::string& app = apps.items(i);
      std::string ki = k + "[" + std::to_string(i) + "]";
      if (Contains(a.blocked(), app)) {
        Add(ki, "'" + app + "' is allowed " + period + " but blocked in apps.blocked");
      } else if (a.has_allowed() && !Contains(a.allowed(), app)) {
        Add(ki, "'" + app + "' is allowed " + period +
                    " but is not in apps.allowed, which limits the device to "
                    "its list at all times");
      }
    }
    const auto& kiosk = spec_.kiosk();
    if (listed_mode && kiosk.has_app() && !kiosk.app().empty() && !Contains(apps, kiosk.app())) {
      Add(k, "the kiosk app '" + kiosk.app() + "' is not in this list, so " + period +
                 " the device could run nothing");
    }
  }

  void CheckApps() {
    const auto& a = spec_.apps();
    CheckAppList(a.allowed(), "apps.allowed");
    CheckAppList(a.required(), "apps.required");
    CheckAppList(a.blocked(), "apps.blocked");
    for (int i = 0; i < a.required().items_size(); ++i) {
      const std::string& app = a.required().items(i);
      std::string k = "apps.required[" + std::to_string(i) + "]";
      if (Contains(a.blocked(), app)) {
        Add(k, "'" + app +
                   "' is both required and blocked (apps.blocked): it would be "
                   "installed and removed in turn");
      } else if (a.has_allowed() && !Contains(a.allowed(), app)) {
        Add(k, "'" + app +
                   "' is required but not in apps.allowed: it would be installed "
                   "and never usable");
      }
    }
    for (int i = 0; i < a.allowed().items_size(); ++i) {
      const std::string& app = a.allowed().items(i);
      if (Contains(a.blocked(), app)) {
        Add("apps.allowed[" + std::to_string(i) + "]",
            "'" + app + "' is both allowed and blocked (apps.blocked)");
      }
    }
    const auto& kiosk = spec_.kiosk();
    if (kiosk.has_app() && !kiosk.app().empty()) {
      if (Contains(a.blocked(), kiosk.app())) {
        Add("kiosk.app", "the kiosk app '" + kiosk.app() + "' is blocked in apps.blocked");
      } else if (a.has_allowed() && !Contains(a.allowed(), kiosk.app())) {
        Add("kiosk.app",
            "the kiosk app '" + kiosk.app() + "' is not in apps.allowed, so it could never run");
      }
    } else if (kiosk.has_url() && !kiosk.url().empty() && effective_) {
      Add("kiosk.url", "a kiosk url needs a kiosk app (the browser that shows it)");
    }
    const auto& s = spec_.schedule();
    CheckPeriodApps(s.during_school_hours().apps(), "schedule.during_school_hours.apps",
                    s.during_school_hours().mode() == v1::PERIOD_LISTED_APPS,
                    "during school hours");
    CheckPeriodApps(s.outside_school_hours().apps(), "schedule.outside_school_hours.apps",
                    s.outside_school_hours().mode() == v1::PERIOD_LISTED_APPS,
                    "outside school hours");
    if (!s.curfew().has_enabled() || s.curfew().enabled()) {
      CheckPeriodApps(s.curfew().apps(), "schedule.curfew.apps",
                      s.curfew().mode() == v1::PERIOD_LISTED_APPS, "during the curfew");
    }
  }

  // A slot that lies entirely within a locking curfew can never be used.
  void CheckSlotsInsideCurfew(const v1::WeeklySchedule& week, const std::string& base,
                              const std::string& consequence) {
    const auto& c = spec_.schedule().curfew();
    if (!CurfewActive(c)) return;
    if (c.has_mode() && c.mode() != v1::PERIOD_LOCK) return;
    for (int d = 1; d <= 7; ++d) {
      const v1::DaySlots* day = DaySlotsOf(week, d);
      if (day == nullptr) continue;
      for (int i = 0; i < day->slots_size(); ++i) {
        const auto& s = day->slots(i);
        if (s.end() <= s.start() || s.end() > kMinutesPerDay) continue;  // reported already
        bool inside = true;
        for (uint32_t m = s.start(); m < s.end(); ++m) {
          if (!CurfewCovers(c, static_cast<int>(m))) {
            inside = false;
            break;
          }
        }
        if (inside) {
          Add(base + "." + std::string(WeekdayName(d)) + "[" + std::to_string(i) + "]",
              "'" + FormatSlot(s) + "' lies entirely within the curfew (" +
                  FormatMinute(c.start()) + "-" + FormatMinute(c.end()) + "): " + consequence);
        }
      }
    }
  }

  const v1::PolicySpec& spec_;
  bool effective_;
  std::vector<ValidationIssue> issues_;
};

}  // namespace

std::vector<ValidationIssue> ValidateSpec(const v1::PolicySpec& spec, Completeness c) {
  return Checker(spec, c).Run();
}

}  // namespace preau::policy

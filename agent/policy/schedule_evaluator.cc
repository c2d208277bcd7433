#include "agent/policy/schedule_evaluator.h"

#include <algorithm>

#include "common/policy/schedule.h"

namespace preau::agent {
namespace {

using policy::FormatMinute;
using policy::FormatSlot;

std::vector<std::string> Items(const v1::StringList& list) {
  return {list.items().begin(), list.items().end()};
}

bool DayAllowed(const v1::DaySet& days, int weekday) {
  if (days.days_size() == 0) return true;
  return std::find(days.days().begin(), days.days().end(), static_cast<uint32_t>(weekday)) !=
         days.days().end();
}

bool InUpdateWindow(const v1::UpdateWindow& u, const policy::LocalTime& lt) {
  if (!u.has_window()) return true;
  int s = static_cast<int>(u.window().start()), e = static_cast<int>(u.window().end());
  int m = lt.minute_of_day;
  if (s < e) return m >= s && m < e && DayAllowed(u.days(), lt.weekday);
  int yesterday = lt.weekday == 1 ? 7 : lt.weekday - 1;  // the part after midnight
  return (m >= s && DayAllowed(u.days(), lt.weekday)) || (m < e && DayAllowed(u.days(), yesterday));
}

// The day slot of `week` covering `minute` on `weekday`, if any.
const v1::TimeSlot* CurrentSlot(const v1::WeeklySchedule& week, int weekday, int minute) {
  const v1::DaySlots* day = policy::DaySlotsOf(week, weekday);
  if (day == nullptr) return nullptr;
  for (const auto& s : day->slots()) {
    if (minute >= static_cast<int>(s.start()) && minute < static_cast<int>(s.end())) return &s;
  }
  return nullptr;
}

void EvaluateWifi(const v1::PolicySpec& spec, const policy::LocalTime& lt, bool holiday,
                  int64_t now_ms, const WifiInputs& in, Evaluation* out) {
  const v1::WifiRule& w = spec.wifi();
  DesiredState& st = out->state;
  const int64_t idle_ms = int64_t{w.idle_off_minutes()} * 60'000;  // 0: no idle timeout
  auto idle_since = [&](int64_t from) { return now_ms - std::max(from, in.last_activity_ms); };

  bool demand_allowed = !w.has_teacher_demand() || w.teacher_demand();
  bool on_by_demand = false;
  bool demand_time_over = false;
  if (demand_allowed && in.teacher_demand_since_ms) {
    if (in.teacher_demand_until_ms != 0 && now_ms >= in.teacher_demand_until_ms) {
      out->teacher_demand_expired = true;  // the activity's --for is over
      demand_time_over = true;
    } else if (idle_ms > 0 && idle_since(*in.teacher_demand_since_ms) >= idle_ms) {
      out->teacher_demand_expired = true;
    } else {
      on_by_demand = true;
    }
  }

  if (!w.has_mode()) {
    if (on_by_demand) {
      st.wifi_on = true;
      st.wifi_reason = "teacher demand";
    }
    return;
  }
  switch (w.mode()) {
    case v1::WIFI_ALWAYS_ON:
      st.wifi_on = true;
      st.wifi_reason = "always on";
      return;
    case v1::WIFI_ALWAYS_OFF:
      st.wifi_on = on_by_demand;
      st.wifi_reason = on_by_demand ? "teacher demand" : "always off";
      return;
    default:
      break;
  }
  // Scheduled.
  const v1::TimeSlot* slot =
      holiday ? nullptr : CurrentSlot(w.slots(), lt.weekday, lt.minute_of_day);
  if (slot != nullptr) {
    int64_t midnight_ms = now_ms - (int64_t{lt.minute_of_day} * 60 + lt.second) * 1000 -
                          ((now_ms % 1000) + 1000) % 1000;
    int64_t from = midnight_ms + int64_t{slot->start()} * 60'000;
    if (in.teacher_demand_since_ms && on_by_demand)
      from = std::max(from, *in.teacher_demand_since_ms);
    std::string name = std::string(policy::WeekdayName(lt.weekday)) + " " + FormatSlot(*slot);
    if (idle_ms == 0 || idle_since(from) < idle_ms) {
      st.wifi_on = true;
      st.wifi_reason = "slot " + name;
      return;
    }
    if (!on_by_demand) {
      st.wifi_on = false;
      st.wifi_reason = "idle " + std::to_string(w.idle_off_minutes()) + " min during slot " + name;
      return;
    }
  }
  if (on_by_demand) {
    st.wifi_on = true;
    st.wifi_reason = "teacher demand";
    return;
  }
  st.wifi_on = false;
  st.wifi_reason =
      demand_time_over ? "teacher demand ended (its time is over)"
      : out->teacher_demand_expired
          ? "teacher demand ended after " + std::to_string(w.idle_off_minutes()) + " idle min"
      : holiday ? "holiday"
                : "no scheduled activity";
}

}  // namespace

Evaluation EvaluatePolicy(const v1::PolicySpec& spec, const policy::TimeZoneRule& zone,
                          int64_t now_ms, const WifiInputs& wifi) {
  Evaluation out;
  DesiredState& st = out.state;
  st.has_policy = true;
  const policy::LocalTime lt = zone.ToLocal(now_ms);
  const v1::Schedule& sched = spec.schedule();
  const bool holiday = policy::IsHoliday(sched.holidays(), lt.Date());
  const bool curfew = policy::CurfewCovers(sched.curfew(), lt.minute_of_day);
  const bool school =
      !holiday && policy::DayCovers(sched.school_hours(), lt.weekday, lt.minute_of_day);

  st.required_apps = Items(spec.apps().required());
  st.blocked_apps = Items(spec.apps().blocked());
  st.screen_lock = spec.screen_lock();
  st.restrictions = spec.restrictions();
  st.web_filter = spec.has_web_filter() &&
                  (!spec.web_filter().has_enabled() || spec.web_filter().enabled());
  st.has_update_window = spec.updates().has_window();
  st.updates_allowed = InUpdateWindow(spec.updates(), lt);

  v1::PeriodMode mode = v1::PERIOD_ANY;
  const v1::StringList* period_apps = nullptr;
  if (curfew) {
    st.period = "curfew";
    mode = sched.curfew().has_mode() ? sched.curfew().mode() : v1::PERIOD_LOCK;
    period_apps = &sched.curfew().apps();
  } else {
    const v1::PeriodRule& rule =
        school ? sched.during_school_hours() : sched.outside_school_hours();
    st.period = school ? "school_hours" : holiday ? "holiday" : "outside_school_hours";
    if (rule.has_mode()) mode = rule.mode();
    period_apps = &rule.apps();
  }
  switch (mode) {
    case v1::PERIOD_LOCK:
      st.locked = true;
      if (curfew) {
        st.lock_message =
            sched.curfew().has_message()
                ? sched.curfew().message()
                : "Droit à la déconnexion : reprise à " + FormatMinute(sched.curfew().end()) + ".";
      } else {
        st.lock_message = "Hors temps scolaire : appareil verrouillé.";
      }
      break;
    case v1::PERIOD_LISTED_APPS:
      st.apps_restricted = true;
      st.allowed_apps = Items(*period_apps);
      break;
    default:
      st.apps_restricted = spec.apps().has_allowed();
      st.allowed_apps = Items(spec.apps().allowed());
      break;
  }
  if (!st.locked) {
    if (!spec.kiosk().app().empty()) {
      st.focus_app = spec.kiosk().app();
      st.focus_url = spec.kiosk().url();
    } else if (st.apps_restricted && st.allowed_apps.size() == 1) {
      st.focus_app = st.allowed_apps[0];
    }
  }
  EvaluateWifi(spec, lt, holiday, now_ms, wifi, &out);
  return out;
}

}  // namespace preau::agent

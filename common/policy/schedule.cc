#include "common/policy/schedule.h"

#include <array>
#include <cstdio>

namespace preau::policy {
namespace {
constexpr std::array<std::string_view, 7> kNames = {"monday", "tuesday",  "wednesday", "thursday",
                                                    "friday", "saturday", "sunday"};
}  // namespace

std::string_view WeekdayName(int d) { return d >= 1 && d <= 7 ? kNames[d - 1] : ""; }

std::optional<int> WeekdayFromName(std::string_view name) {
  for (int i = 0; i < 7; ++i) {
    if (kNames[i] == name) return i + 1;
  }
  return std::nullopt;
}

v1::DaySlots* MutableDaySlotsOf(v1::WeeklySchedule* w, int d) {
  switch (d) {
    case 1:
      return w->mutable_monday();
    case 2:
      return w->mutable_tuesday();
    case 3:
      return w->mutable_wednesday();
    case 4:
      return w->mutable_thursday();
    case 5:
      return w->mutable_friday();
    case 6:
      return w->mutable_saturday();
    case 7:
      return w->mutable_sunday();
  }
  return nullptr;
}

const v1::DaySlots* DaySlotsOf(const v1::WeeklySchedule& w, int d) {
  switch (d) {
    case 1:
      return w.has_monday() ? &w.monday() : nullptr;
    case 2:
      return w.has_tuesday() ? &w.tuesday() : nullptr;
    case 3:
      return w.has_wednesday() ? &w.wednesday() : nullptr;
    case 4:
      return w.has_thursday() ? &w.thursday() : nullptr;
    case 5:
      return w.has_friday() ? &w.friday() : nullptr;
    case 6:
      return w.has_saturday() ? &w.saturday() : nullptr;
    case 7:
      return w.has_sunday() ? &w.sunday() : nullptr;
  }
  return nullptr;
}

std::string FormatMinute(uint32_t minute) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02u:%02u", (minute / 60) % 100, minute % 60);
  return buf;
}

std::string FormatSlot(const v1::TimeSlot& slot) {
  return FormatMinute(slot.start()) + "-" + FormatMinute(slot.end());
}

bool SlotCoversSameDay(const v1::TimeSlot& slot, int minute) {
  int s = static_cast<int>(slot.start()), e = static_cast<int>(slot.end());
  if (s < e) return minute >= s && minute < e;
  return minute >= s || minute < e;
}

bool DayCovers(const v1::WeeklySchedule& week, int d, int minute) {
  const v1::DaySlots* day = DaySlotsOf(week, d);
  if (day == nullptr) return false;
  for (const auto& slot : day->slots()) {
    if (minute >= static_cast<int>(slot.start()) && minute < static_cast<int>(slot.end())) {
      return true;
    }
  }
  return false;
}

bool IsHoliday(const v1::HolidayList& holidays, const std::string& date) {
  for (const auto& h : holidays.items()) {
    if (date >= h.from() && date <= h.to()) return true;  // ISO dates sort as text
  }
  return false;
}

bool CurfewActive(const v1::Curfew& c) {
  return (!c.has_enabled() || c.enabled()) && c.has_start() && c.has_end() && c.start() != c.end();
}

bool CurfewCovers(const v1::Curfew& c, int minute) {
  if (!CurfewActive(c)) return false;
  v1::TimeSlot slot;
  slot.set_start(c.start());
  slot.set_end(c.end());
  return SlotCoversSameDay(slot, minute);
}

}  // namespace preau::policy

// Schedule helpers shared by the parser, the validator and the agent's policy engine: weekday
// names, "HH:MM" text, and the questions "is this minute inside this slot / this curfew /
// this holiday". Keeping them in one place means the server checks a schedule with exactly
// the arithmetic the agent will later use to enforce it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "preau/v1/policy_spec.pb.h"

namespace preau::policy {

constexpr int kMinutesPerDay = 24 * 60;

// "monday" … "sunday" for ISO weekdays 1..7; empty for anything else.
std::string_view WeekdayName(int iso_weekday);
// 1..7 for "monday" … "sunday"; nullopt for anything else.
std::optional<int> WeekdayFromName(std::string_view name);

// The slots of a weekday, or nullptr when that day is not set.
const v1::DaySlots* DaySlotsOf(const v1::WeeklySchedule& week, int iso_weekday);
v1::DaySlots* MutableDaySlotsOf(v1::WeeklySchedule* week, int iso_weekday);

std::string FormatMinute(uint32_t minute);         // 450 -> "07:30"
std::string FormatSlot(const v1::TimeSlot& slot);  // "08:30-11:30"

// Whether `minute` (0..1439) is inside the slot; a slot with end <= start crosses midnight
// and covers [start, 24:00) of its day and [00:00, end) of the next.
bool SlotCoversSameDay(const v1::TimeSlot& slot, int minute);
// Whether a day slot of `day` covers `minute` of that day (day slots never cross midnight).
bool DayCovers(const v1::WeeklySchedule& week, int iso_weekday, int minute);

// Whether the local date "YYYY-MM-DD" falls in one of the holidays (ends included).
bool IsHoliday(const v1::HolidayList& holidays, const std::string& date);

// Whether a curfew is switched on and complete (enabled not false, start and end set).
bool CurfewActive(const v1::Curfew& curfew);
// Whether the curfew covers `minute` of a day (the same every day).
bool CurfewCovers(const v1::Curfew& curfew, int minute);

}  // namespace preau::policy

// ReportData: what the authority's reports are made of, gathered once per report from
// the store — every device the operator may see (enrolled ones and those known only from
// stock-taking), with derived facts (school, active over the last 30 days, renewal due and
// why) and its usage over the window asked for — and the three report tables built from
// it (inventory, usage, compliance).
//
// Rules, stated once (the HTML report prints them too):
//  - active: at least one minute of screen-on time reported in the last 30 days;
//  - due for renewal: battery health below 70 %, or more than 5 years since purchase (or
//    enrolment when the purchase date is unknown), or less than 10 % storage free, or
//    marked "to retire" at stock-taking.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "preau/v1/usage.pb.h"
#include "server/reports/report_table.h"
#include "server/reports/usage_store.h"
#include "server/server_core.h"

namespace preau::server {

inline constexpr int kActiveWindowDays = 30;
inline constexpr int kRenewalBatteryHealth = 70;
inline constexpr int kRenewalAgeYears = 5;
inline constexpr int kRenewalFreePercent = 10;

struct ReportDevice {
  bool has_agent = true;
  std::string id;  // device id; "stock:SERIAL" for a device known from stock-taking only
  std::string name;
  std::string group;
  std::string school;  // the first two levels of the group: authority/school
  std::string model;
  std::string manufacturer;
  std::string kind;
  std::string os;
  std::string serial;
  std::string state;  // in_service, reusable, to_retire
  std::string purchased;
  int64_t enrolled_ms = 0;
  int64_t last_seen_ms = 0;
  int64_t battery_health = -1;  // percent; -1 unknown
  int64_t disk_total_bytes = 0;
  int64_t disk_free_bytes = 0;
  uint64_t policy_version = 0;
  uint64_t policy_issued = 0;  // the version last sent to it
  std::string policy_state;
  bool online = false;

  bool active = false;  // over the last 30 days
  int64_t active_days = 0;
  int64_t screen_on_minutes = 0;            // over the window
  std::vector<int64_t> category_minutes;    // by AppCategories() index, over the window
  std::map<std::string, int64_t> app_minutes;
  int64_t blocked_requests = 0;
  int64_t dropped_reports = 0;
  std::vector<std::string> renewal_reasons;  // French, empty when not due
};

struct ReportData {
  int64_t now_ms = 0;
  std::string since_day;  // first day of the usage window
  std::string today;
  int window_days = 30;
  std::string group;      // as asked; "" for all in scope
  std::string authority;  // the authority's name (meta)
  std::vector<ReportDevice> devices;
  std::map<std::string, int64_t> blocked_by_category;  // over the window
};

// Gathers the devices `op` may see under `group` and their usage since `since_seconds`
// ago (0: 30 days).
Result<ReportData> GatherReportData(ServerCore& core, UsageStore& usage,
                                    const OperatorRecord& op, const std::string& group,
                                    int64_t since_seconds);

ReportTable InventoryTable(const ReportData& data);
ReportTable UsageTable(const ReportData& data);
ReportTable ComplianceTable(const ReportData& data);
// For operators who may see counts only (the viewer role): one row per group, sums and
// counts, never a device id, name, serial or a device's own usage.
ReportTable CountsTable(const ReportData& data, v1::ReportKind kind);

// French label of a stock state ("en service", "réemployable", "à réformer").
std::string StockStateLabel(const std::string& state);
// French label of a device's policy state ("appliquée", "en échec", ...).
std::string PolicyStateLabel(const ReportDevice& d);

}  // namespace preau::server

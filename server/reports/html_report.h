// HtmlReport: the report for people who are not technical (elected officials, school
// heads): one self-contained HTML file — inline CSS, charts drawn here as inline SVG, no
// script, no external URL — in French. Every kind of report opens with the same overview
// (devices per school and model, used vs unused over the last 30 days, minutes per app
// category, battery health, free storage, devices due for renewal, with the rules used)
// and ends with the detailed table of the kind asked for.
#pragma once

#include <string>

#include "server/reports/report_data.h"
#include "server/reports/report_table.h"

namespace preau::server {

std::string HtmlReport(const ReportData& data, const ReportTable& detail);

// `s` escaped for HTML text and attribute values.
std::string HtmlEscape(const std::string& s);

}  // namespace preau::server

#include "server/reports/html_report.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "common/duration.h"
#include "server/reports/app_categories.h"

namespace preau::server {

namespace {

// Colour-blind-safe palette (Okabe-Ito), then greys for "other".
const char* const kPalette[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9",
                                "#D55E00", "#F0E442", "#000000", "#999999"};
constexpr size_t kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string Thousands(int64_t n) {
  std::string s = std::to_string(n), out;
  int count = 0;
  for (auto it = s.rbegin(); it != s.rend(); ++it) {
    if (count && count % 3 == 0 && *it != '-') out.insert(out.begin(), ' ');
    out.insert(out.begin(), *it);
    ++count;
  }
  return out;
}

struct Bar {
  std::string label;
  int64_t value;
  std::string color;
};

// Horizontal bars, one per label, with the value written at the end of each.
std::string BarChart(const std::string& id, const std::string& title,
                     const std::vector<Bar>& bars, const std::string& unit) {
  const int label_w = 230, chart_w = 560, row_h = 30, top = 10;
  int height = top * 2 + row_h * static_cast<int>(std::max<size_t>(bars.size(), 1));
  int64_t max = 1;
  for (const auto& b : bars) max = std::max(max, b.value);
  std::string svg = "<svg id=\"" + id + "\" class=\"chart\" role=\"img\" viewBox=\"0 0 " +
                    std::to_string(label_w + chart_w + 120) + " " + std::to_string(height) +
                    "\"><title>" + HtmlEscape(title) +
                    "</title>";
  int y = top;
  for (const auto& b : bars) {
    double w = b.value == 0 ? 0 : std::max(2.0, chart_w * static_cast<double>(b.value) / max);
    svg += "<text x=\"" + std::to_string(label_w - 8) + "\" y=\"" + std::to_string(y + 19) +
           "\" text-anchor=\"end\" class=\"lbl\">" + HtmlEscape(b.label) + "</text>";
    svg += "<rect x=\"" + std::to_string(label_w) + "\" y=\"" + std::to_string(y + 4) +
           "\" width=\"" + Num(w) + "\" height=\"" + std::to_string(row_h - 8) + "\" fill=\"" +
           b.color + "\" rx=\"3\"><title>" + HtmlEscape(b.label) + " : " +
           Thousands(b.value) + " " + unit + "</title></rect>";
    // French: "0 appareil", "1 appareil", "2 appareils".
    std::string shown = unit == "appareils" && b.value <= 1 ? "appareil" : unit;
    svg += "<text x=\"" + Num(label_w + w + 6) + "\" y=\"" + std::to_string(y + 19) +
           "\" class=\"val\">" + Thousands(b.value) + " " + HtmlEscape(shown) + "</text>";
    y += row_h;
  }
  if (bars.empty()) {
    svg += "<text x=\"10\" y=\"30\" class=\"lbl\">Aucune donnée</text>";
  }
  return svg + "</svg>";
}

// Horizontal stacked bars: one row per label, one segment per series, with a legend.
std::string StackedChart(const std::string& id, const std::string& title,
                         const std::vector<std::string>& rows,
                         const std::vector<std::string>& series,
                         const std::vector<std::string>& colors,
                         const std::vector<std::vector<int64_t>>& values) {
  const int label_w = 230, chart_w = 560, row_h = 30, top = 10;
  int legend_rows = static_cast<int>((series.size() + 2) / 3);
  int height = top * 2 + row_h * static_cast<int>(std::max<size_t>(rows.size(), 1)) +
               legend_rows * 22 + 10;
  int64_t max = 1;
  for (const auto& r : values) {
    int64_t sum = 0;
    for (int64_t v : r) sum += v;
    max = std::max(max, sum);
  }
  std::string svg = "<svg id=\"" + id + "\" class=\"chart\" role=\"img\" viewBox=\"0 0 " +
                    std::to_string(label_w + chart_w + 120) + " " + std::to_string(height) +
                    "\"><title>" + HtmlEscape(title) +
                    "</title>";
  int y = top;
  for (size_t r = 0; r < rows.size(); ++r) {
    svg += "<text x=\"" + std::to_string(label_w - 8) + "\" y=\"" + std::to_string(y + 19) +
           "\" text-anchor=\"end\" class=\"lbl\">" + HtmlEscape(rows[r]) + "</text>";
    double x = label_w;
    int64_t sum = 0;
    for (size_t s = 0; s < series.size(); ++s) {
      int64_t v = values[r][s];
      sum += v;
      if (v == 0) continue;
      double w = chart_w * static_cast<double>(v) / max;
      svg += "<rect x=\"" + Num(x) + "\" y=\"" + std::to_string(y + 4) + "\" width=\"" +
             Num(w) + "\" height=\"" + std::to_string(row_h - 8) + "\" fill=\"" + colors[s] +
             "\"><title>" + HtmlEscape(rows[r] + " — " + series[s]) + " : " + Thousands(v) +
             "</title></rect>";
      x += w;
    }
    svg += "<text x=\"" + Num(x + 6) + "\" y=\"" + std::to_string(y + 19) + "\" class=\"val\">" +
           Thousands(sum) + "</text>";
    y += row_h;
  }
  if (rows.empty()) {
    svg += "<text x=\"10\" y=\"30\" class=\"lbl\">Aucune donnée</text>";
    y += row_h;
  }
  y += 10;
  for (size_t s = 0; s < series.size(); ++s) {
    int col = static_cast<int>(s % 3), line = static_cast<int>(s / 3);
    int lx = 20 + col * 290, ly = y + line * 22;
    svg += "<rect x=\"" + std::to_string(lx) + "\" y=\"" + std::to_string(ly) +
           "\" width=\"14\" height=\"14\" fill=\"" + colors[s] + "\"/>";
    std::string name = series[s].size() > 40 ? series[s].substr(0, 37) + "…" : series[s];
    svg += "<text x=\"" + std::to_string(lx + 20) + "\" y=\"" + std::to_string(ly + 12) +
           "\" class=\"lbl\">" + HtmlEscape(name) + "</text>";
  }
  return svg + "</svg>";
}

std::string SchoolLabel(const std::string& school) {
  return school.empty() ? "(sans école)" : school;
}

std::string ModelsChart(const ReportData& data) {
  std::map<std::string, int64_t> model_count;
  for (const auto& d : data.devices) model_count[d.model.empty() ? "inconnu" : d.model]++;
  std::vector<std::pair<std::string, int64_t>> models(model_count.begin(), model_count.end());
  std::stable_sort(models.begin(), models.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  const size_t kShown = kPaletteSize - 1;
  std::vector<std::string> series;
  for (size_t i = 0; i < models.size() && i < kShown; ++i) series.push_back(models[i].first);
  bool others = models.size() > kShown;
  if (others) series.push_back("autres modèles");
  std::map<std::string, size_t> series_index;
  for (size_t i = 0; i < series.size(); ++i) series_index[series[i]] = i;
  std::map<std::string, std::vector<int64_t>> per_school;
  for (const auto& d : data.devices) {
    auto& row = per_school[SchoolLabel(d.school)];
    row.resize(series.size());
    auto it = series_index.find(d.model.empty() ? "inconnu" : d.model);
    row[it == series_index.end() ? series.size() - 1 : it->second]++;
  }
  std::vector<std::string> rows, colors;
  std::vector<std::vector<int64_t>> values;
  for (auto& [school, v] : per_school) {
    rows.push_back(school);
    values.push_back(v);
  }
  for (size_t i = 0; i < series.size(); ++i) {
    colors.push_back(others && i + 1 == series.size() ? "#999999" : kPalette[i % kPaletteSize]);
  }
  return StackedChart("chart-models", "Appareils par école et par modèle", rows, series, colors,
                      values);
}

std::string ActivityChart(const ReportData& data) {
  std::map<std::string, std::vector<int64_t>> per_school;
  for (const auto& d : data.devices) {
    auto& row = per_school[SchoolLabel(d.school)];
    row.resize(3);
    row[!d.has_agent ? 2 : d.active ? 0 : 1]++;
  }
  std::vector<std::string> rows;
  std::vector<std::vector<int64_t>> values;
  for (auto& [school, v] : per_school) {
    rows.push_back(school);
    values.push_back(v);
  }
  return StackedChart("chart-activity", "Appareils utilisés et inutilisés sur les 30 derniers jours",
                      rows, {"utilisés", "inutilisés", "sans agent (inventaire)"},
                      {"#009E73", "#D55E00", "#999999"}, values);
}

std::string CategoryChart(const ReportData& data) {
  const auto& cats = AppCategories();
  std::vector<int64_t> minutes(cats.size());
  for (const auto& d : data.devices) {
    for (size_t i = 0; i < d.category_minutes.size(); ++i) minutes[i] += d.category_minutes[i];
  }
  std::vector<Bar> bars;
  for (size_t i = 0; i < cats.size(); ++i) {
    bars.push_back({cats[i].label, (minutes[i] + 30) / 60, kPalette[i % kPaletteSize]});
  }
  return BarChart("chart-categories", "Temps d'utilisation par catégorie d'application", bars,
                  "h");
}

std::string BatteryChart(const ReportData& data) {
  std::vector<Bar> bars = {{"moins de 50 %", 0, "#D55E00"},
                           {"de 50 à 69 %", 0, "#E69F00"},
                           {"de 70 à 84 %", 0, "#56B4E9"},
                           {"85 % et plus", 0, "#009E73"},
                           {"sans batterie ou inconnue", 0, "#999999"}};
  for (const auto& d : data.devices) {
    int64_t h = d.battery_health;
    bars[h < 0 ? 4 : h < 50 ? 0 : h < kRenewalBatteryHealth ? 1 : h < 85 ? 2 : 3].value++;
  }
  return BarChart("chart-battery", "Santé des batteries (capacité restante)", bars, "appareils");
}

std::string StorageChart(const ReportData& data) {
  std::vector<Bar> bars = {{"moins de 10 % libre", 0, "#D55E00"},
                           {"de 10 à 24 % libre", 0, "#E69F00"},
                           {"de 25 à 49 % libre", 0, "#56B4E9"},
                           {"50 % libre et plus", 0, "#009E73"},
                           {"inconnu", 0, "#999999"}};
  for (const auto& d : data.devices) {
    if (d.disk_total_bytes <= 0) {
      bars[4].value++;
      continue;
    }
    int64_t p = d.disk_free_bytes * 100 / d.disk_total_bytes;
    bars[p < kRenewalFreePercent ? 0 : p < 25 ? 1 : p < 50 ? 2 : 3].value++;
  }
  return BarChart("chart-storage", "Espace de stockage libre", bars, "appareils");
}

std::string RenewalChart(const ReportData& data) {
  std::vector<Bar> bars = {{"batterie usée (< 70 %)", 0, "#D55E00"},
                           {"plus de 5 ans", 0, "#E69F00"},
                           {"stockage saturé (< 10 %)", 0, "#CC79A7"},
                           {"marqués à réformer", 0, "#999999"}};
  for (const auto& d : data.devices) {
    for (const auto& r : d.renewal_reasons) {
      if (r.rfind("batterie", 0) == 0) bars[0].value++;
      else if (r.rfind("plus de 5", 0) == 0) bars[1].value++;
      else if (r.rfind("stockage", 0) == 0) bars[2].value++;
      else bars[3].value++;
    }
  }
  return BarChart("chart-renewal", "Appareils à renouveler, par motif", bars, "appareils");
}

std::string TableHtml(const ReportTable& t, size_t max_rows) {
  std::string out = "<div class=\"scroll\"><table><thead><tr>";
  for (const auto& c : t.columns) out += "<th>" + HtmlEscape(c.label) + "</th>";
  out += "</tr></thead><tbody>";
  size_t n = std::min(max_rows, t.rows.size());
  for (size_t r = 0; r < n; ++r) {
    out += "<tr>";
    for (size_t i = 0; i < t.columns.size(); ++i) {
      const ReportValue& v = t.rows[r][i];
      bool num = v.type == ReportValue::Type::kInt;
      out += num ? "<td class=\"n\">" : "<td>";
      out += HtmlEscape(v.Display()) + "</td>";
    }
    out += "</tr>";
  }
  out += "</tbody></table></div>";
  if (t.rows.size() > n) {
    out += "<p class=\"note\">" + Thousands(static_cast<int64_t>(t.rows.size() - n)) +
           " lignes de plus dans l'export CSV ou JSON du même rapport.</p>";
  }
  return out;
}

constexpr const char* kCss = R"css(
body{font-family:"DejaVu Sans",Arial,Helvetica,sans-serif;color:#1b1b1b;margin:0;background:#f4f5f7}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:28px;margin:0 0 4px} h2{font-size:20px;margin:0 0 8px}
.sub{color:#555;margin:0 0 20px}
.kpis{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:20px}
.kpi{background:#fff;border-radius:8px;padding:14px 18px;flex:1 1 180px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
.kpi b{display:block;font-size:30px} .kpi span{color:#555}
section{background:#fff;border-radius:8px;padding:18px 20px;margin-bottom:18px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
svg.chart{width:100%;height:auto;display:block}
svg .lbl{font-size:13px;fill:#1b1b1b} svg .val{font-size:12px;fill:#444}
.note{color:#555;font-size:13px}
.scroll{overflow-x:auto} table{border-collapse:collapse;font-size:12px;width:100%}
th,td{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;white-space:nowrap}
th{background:#eef1f5} td.n{text-align:right}
)css";

}  // namespace

std::string HtmlEscape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') {
          out += "?";
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string HtmlReport(const ReportData& data, const ReportTable& detail) {
  int64_t enrolled = 0, active = 0, stock = 0, renewal = 0, screen_minutes = 0;
  for (const auto& d : data.devices) {
    if (d.has_agent) {
      ++enrolled;
      if (d.active) ++active;
    } else {
      ++stock;
    }
    if (!d.renewal_reasons.empty()) ++renewal;
    screen_minutes += d.screen_on_minutes;
  }
  std::string h = "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\">"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                  "<title>" + HtmlEscape(detail.title + " — " + data.authority) + "</title>"
                  "<style>" + kCss + "</style></head><body><main>";
  h += "<h1>" + HtmlEscape(detail.title) + "</h1>";
  h += "<p class=\"sub\">" + HtmlEscape(data.authority) +
       (data.group.empty() ? std::string(" — tout le parc") : " — " + HtmlEscape(data.group)) +
       " — rapport établi le " + HtmlEscape(FormatLocalTime(data.now_ms).substr(0, 10)) +
       ", usage du " + data.since_day + " au " + data.today + "</p>";

  auto kpi = [](int64_t n, const std::string& what) {
    return "<div class=\"kpi\"><b>" + Thousands(n) + "</b><span>" + what + "</span></div>";
  };
  h += "<div class=\"kpis\">" + kpi(enrolled, "appareils gérés") +
       kpi(active, "utilisés ces 30 derniers jours") +
       kpi(enrolled - active, "inutilisés ces 30 derniers jours") +
       kpi(stock, "recensés sans agent") + kpi(renewal, "à renouveler") +
       kpi((screen_minutes + 30) / 60, "heures d'écran sur la période") + "</div>";

  h += "<section><h2>Appareils par école et par modèle</h2>" + ModelsChart(data) + "</section>";
  h += "<section><h2>Appareils utilisés et inutilisés</h2>" + ActivityChart(data) +
       "<p class=\"note\">Un appareil est « utilisé » s'il a eu au moins une minute d'écran "
       "allumé dans les 30 derniers jours. Les appareils « sans agent » sont ceux recensés par "
       "l'inventaire, sans remontée d'usage.</p></section>";
  h += "<section><h2>Temps d'utilisation par catégorie d'application</h2>" +
       CategoryChart(data) +
       "<p class=\"note\">Heures au premier plan, tous appareils confondus, du " +
       data.since_day + " au " + data.today +
       ". Chiffres agrégés par appareil et par jour : aucun site visité ni aucune identité "
       "d'élève n'est collecté.</p></section>";
  h += "<section><h2>Santé des batteries</h2>" + BatteryChart(data) + "</section>";
  h += "<section><h2>Stockage libre</h2>" + StorageChart(data) + "</section>";
  h += "<section><h2>Appareils à renouveler</h2>" + RenewalChart(data) +
       "<p class=\"note\">Règle : un appareil est à renouveler si la santé de sa batterie est "
       "inférieure à 70 %, s'il a plus de 5 ans (depuis son achat, ou son inscription si la "
       "date d'achat est inconnue), s'il lui reste moins de 10 % de stockage libre, ou s'il a "
       "été marqué « à réformer » lors de l'inventaire.</p>";
  ReportTable due;
  due.columns = {{"name", "Appareil"}, {"school", "École"}, {"model", "Modèle"},
                 {"reason", "Motif"}};
  for (const auto& d : data.devices) {
    if (d.renewal_reasons.empty()) continue;
    std::string reasons;
    for (const auto& r : d.renewal_reasons) reasons += (reasons.empty() ? "" : ", ") + r;
    due.rows.push_back({ReportValue::Text(d.name.empty() ? d.id : d.name),
                        ReportValue::Text(SchoolLabel(d.school)), ReportValue::Text(d.model),
                        ReportValue::Text(reasons)});
  }
  if (!due.rows.empty()) h += TableHtml(due, 200);
  h += "</section>";
  h += "<section><h2>Détail : " + HtmlEscape(detail.title) + "</h2>" + TableHtml(detail, 500) +
       "</section>";
  h += "<p class=\"note\">Produit par Préau. Données hébergées par la collectivité.</p>";
  h += "</main></body></html>\n";
  return h;
}

}  // namespace preau::server

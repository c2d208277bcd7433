#include "server/reports/stock_import.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "server/reports/civil_date.h"
#include "server/store/store.h"

namespace preau::server {

namespace {
constexpr size_t kMaxRows = 100'000;
constexpr size_t kMaxFieldBytes = 500;

// Splits CSV text into records of fields; `lines` gets each record's first line number.
Status SplitCsv(const std::string& text, char sep, const std::string& file,
                std::vector<std::vector<std::string>>* records, std::vector<int>* lines) {
  std::vector<std::string> record;
  std::string field;
  bool quoted = false, field_started = false;
  int line = 1, record_line = 1;
  auto end_field = [&] {
    record.push_back(field);
    field.clear();
    field_started = false;
  };
  auto end_record = [&] {
    end_field();
    bool blank = record.size() == 1 && record[0].empty();
    if (!blank) {
      records->push_back(record);
      lines->push_back(record_line);
    }
    record.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"' && !field_started) {
      quoted = field_started = true;
    } else if (c == sep) {
      end_field();
    } else if (c == '\r') {
      continue;
    } else if (c == '\n') {
      end_record();
      ++line;
      record_line = line;
    } else {
      field += c;
      field_started = true;
    }
    if (field.size() > kMaxFieldBytes) {
      return InvalidArgument(file + ":" + std::to_string(line) + ": a field is longer than 500 bytes");
    }
  }
  if (quoted) return InvalidArgument(file + ":" + std::to_string(record_line) + ": a quote is never closed");
  if (!field.empty() || !record.empty()) end_record();
  return Status::Ok();
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// Header names (English and French, accents dropped by the spelling we accept) -> field.
const std::map<std::string, std::string>& HeaderNames() {
  static const std::map<std::string, std::string> kNames = {
      {"serial", "serial"},          {"numero_serie", "serial"},
      {"numéro_série", "serial"},    {"n° de série", "serial"},
      {"model", "model"},            {"modele", "model"},
      {"modèle", "model"},           {"state", "state"},
      {"etat", "state"},             {"état", "state"},  {"État", "state"},
      {"name", "name"},              {"nom", "name"},
      {"manufacturer", "manufacturer"}, {"fabricant", "manufacturer"},
      {"kind", "kind"},              {"type", "kind"},
      {"group", "group"},            {"groupe", "group"},
      {"purchased", "purchased"},    {"achat", "purchased"},
      {"battery_health", "battery_health"}, {"sante_batterie", "battery_health"},
      {"disk_total_gb", "disk_total_gb"}, {"stockage_go", "disk_total_gb"},
      {"disk_free_gb", "disk_free_gb"}, {"libre_go", "disk_free_gb"},
      {"notes", "notes"},
  };
  return kNames;
}

Result<int64_t> ParseNumber(const std::string& v, int64_t max, const std::string& where) {
  if (v.empty()) return int64_t{-1};
  int64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9' || n > max) {
      return InvalidArgument(where + ": '" + v + "' is not a number from 0 to " + std::to_string(max));
    }
    n = n * 10 + (c - '0');
  }
  if (n > max) return InvalidArgument(where + ": " + v + " is more than " + std::to_string(max));
  return n;
}
}  // namespace

std::string NormalizeStockState(const std::string& text) {
  std::string s = Lower(Trim(text));
  for (char& c : s) {
    if (c == '_' || c == '-') c = ' ';
  }
  if (s == "in service" || s == "en service") return "in_service";
  if (s == "reusable" || s == "réemployable" || s == "reemployable" || s == "réutilisable" ||
      s == "reutilisable") {
    return "reusable";
  }
  if (s == "to retire" || s == "à réformer" || s == "a reformer" || s == "à retirer" ||
      s == "a retirer") {
    return "to_retire";
  }
  return "";
}

Result<std::vector<StockDevice>> ParseStockCsv(const std::string& csv_in,
                                               const std::string& file_name) {
  std::string file = file_name.empty() ? "stock.csv" : file_name;
  std::string csv = csv_in;
  if (csv.rfind("\xEF\xBB\xBF", 0) == 0) csv.erase(0, 3);  // a spreadsheet's UTF-8 BOM
  size_t eol = csv.find('\n');
  std::string header_line = csv.substr(0, eol);
  size_t commas = std::count(header_line.begin(), header_line.end(), ',');
  size_t semis = std::count(header_line.begin(), header_line.end(), ';');
  char sep = semis > commas ? ';' : ',';

  std::vector<std::vector<std::string>> records;
  std::vector<int> lines;
  PREAU_RETURN_IF_ERROR(SplitCsv(csv, sep, file, &records, &lines));
  if (records.empty()) return InvalidArgument(file + ": empty file; expected a header row (serial,model,state,...)");
  if (records.size() - 1 > kMaxRows) return InvalidArgument(file + ": more than 100000 rows");

  std::map<std::string, size_t> col;
  for (size_t i = 0; i < records[0].size(); ++i) {
    std::string h = Lower(Trim(records[0][i]));
    auto it = HeaderNames().find(h);
    if (it == HeaderNames().end()) {
      return InvalidArgument(file + ":1: unknown column '" + records[0][i] +
                             "' (expected serial, model, state, name, manufacturer, kind, "
                             "group, purchased, battery_health, disk_total_gb, disk_free_gb, "
                             "notes)");
    }
    if (col.count(it->second)) return InvalidArgument(file + ":1: column '" + it->second + "' given twice");
    col[it->second] = i;
  }
  for (const char* required : {"serial", "model", "state"}) {
    if (!col.count(required)) return InvalidArgument(file + ":1: missing required column '" + std::string(required) + "'");
  }

  std::vector<StockDevice> out;
  std::map<std::string, int> seen;
  for (size_t r = 1; r < records.size(); ++r) {
    const auto& rec = records[r];
    std::string at = file + ":" + std::to_string(lines[r]);
    auto get = [&](const std::string& key) -> std::string {
      auto it = col.find(key);
      if (it == col.end() || it->second >= rec.size()) return "";
      return Trim(rec[it->second]);
    };
    StockDevice d;
    d.serial = get("serial");
    if (d.serial.empty()) return InvalidArgument(at + ": column 'serial' is empty");
    if (seen.count(d.serial)) {
      return InvalidArgument(at + ": serial '" + d.serial + "' already on line " + std::to_string(seen[d.serial]));
    }
    seen[d.serial] = lines[r];
    d.model = get("model");
    if (d.model.empty()) return InvalidArgument(at + ": column 'model' is empty");
    d.state = NormalizeStockState(get("state"));
    if (d.state.empty()) {
      return InvalidArgument(at + ": column 'state': '" + get("state") +
                             "' is not one of: in service, reusable, to retire");
    }
    d.name = get("name");
    d.manufacturer = get("manufacturer");
    d.kind = get("kind");
    d.group = get("group");
    if (!d.group.empty()) {
      Status st = ValidateGroupPath(d.group);
      if (!st.ok()) return InvalidArgument(at + ": column 'group': " + st.message());
    }
    d.purchased = get("purchased");
    if (!d.purchased.empty() && !CivilDate::Parse(d.purchased)) {
      return InvalidArgument(at + ": column 'purchased': '" + d.purchased + "' is not a date (YYYY-MM-DD)");
    }
    PREAU_ASSIGN_OR_RETURN(d.battery_health, ParseNumber(get("battery_health"), 100, at + ": column 'battery_health'"));
    PREAU_ASSIGN_OR_RETURN(int64_t total, ParseNumber(get("disk_total_gb"), 100000, at + ": column 'disk_total_gb'"));
    PREAU_ASSIGN_OR_RETURN(int64_t free, ParseNumber(get("disk_free_gb"), 100000, at + ": column 'disk_free_gb'"));
    if (total >= 0 && free > total) return InvalidArgument(at + ": disk_free_gb is more than disk_total_gb");
    d.disk_total_bytes = total < 0 ? 0 : total << 30;
    d.disk_free_bytes = free < 0 || total < 0 ? 0 : free << 30;
    d.notes = get("notes");
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace preau::server

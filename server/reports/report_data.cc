#include "server/reports/report_data.h"

#include <set>

#include "common/duration.h"
#include "server/admin/authz.h"
#include "server/reports/app_categories.h"
#include "server/reports/civil_date.h"

namespace preau::server {

namespace {
std::string SchoolOf(const std::string& group) {
  size_t first = group.find('/');
  if (first == std::string::npos) return group;
  size_t second = group.find('/', first + 1);
  return second == std::string::npos ? group : group.substr(0, second);
}

std::string DateOf(int64_t unix_ms) {
  return unix_ms == 0 ? "" : CivilDate::FromUnixMs(unix_ms).ToString();
}

// Versions last issued to each device by the policy domain (its table, read only).
std::map<std::string, uint64_t> IssuedPolicies(Store& store) {
  std::map<std::string, uint64_t> out;
  store.Locked([&](SqlDb& db) {
    auto s = db.Prepare("SELECT device_id, version FROM policy_bundles");
    if (!s.ok()) return;  // no policy domain in this build
    for (;;) {
      auto row = s->Step();
      if (!row.ok() || !*row) break;
      out[s->Text(0)] = static_cast<uint64_t>(s->Int(1));
    }
  });
  return out;
}

void DecideRenewal(ReportDevice& d, const CivilDate& today) {
  if (d.battery_health >= 0 && d.battery_health < kRenewalBatteryHealth) {
    d.renewal_reasons.push_back("batterie à " + std::to_string(d.battery_health) + " %");
  }
  std::string since = !d.purchased.empty() ? d.purchased : DateOf(d.enrolled_ms);
  if (auto start = CivilDate::Parse(since)) {
    if (start->DaysSinceEpoch() < today.MinusMonths(12 * kRenewalAgeYears).DaysSinceEpoch()) {
      d.renewal_reasons.push_back("plus de 5 ans (depuis " + since + ")");
    }
  }
  if (d.disk_total_bytes > 0 && d.disk_free_bytes * 100 < d.disk_total_bytes * kRenewalFreePercent) {
    d.renewal_reasons.push_back("stockage libre " +
                                std::to_string(d.disk_free_bytes * 100 / d.disk_total_bytes) +
                                " %");
  }
  if (d.state == "to_retire") d.renewal_reasons.push_back("marqué à réformer");
}

std::string Join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}
}  // namespace

std::string StockStateLabel(const std::string& state) {
  if (state == "in_service") return "en service";
  if (state == "reusable") return "réemployable";
  if (state == "to_retire") return "à réformer";
  return state;
}

std::string PolicyStateLabel(const ReportDevice& d) {
  if (!d.has_agent) return "sans agent";
  if (d.policy_state.empty() && d.policy_version == 0) {
    return d.policy_issued > 0 ? "en attente" : "aucune politique";
  }
  if (d.policy_state.rfind("refused", 0) == 0) return "refusée";
  if (d.policy_state.rfind("failed", 0) == 0) return "en échec";
  if (d.policy_state.rfind("not supported", 0) == 0) return "non prise en charge";
  if (d.policy_issued > d.policy_version) return "en attente";
  if (d.policy_state == "applied") return "appliquée";
  return d.policy_state;
}

Result<ReportData> GatherReportData(ServerCore& core, UsageStore& usage,
                                    const OperatorRecord& op, const std::string& group,
                                    int64_t since_seconds) {
  if (since_seconds < 0) return InvalidArgument("--since must be positive");
  ReportData data;
  data.now_ms = core.Now();
  data.group = group;
  auto authority = core.store->GetMeta("authority_name");
  data.authority = authority.ok() ? *authority : "Préau";
  CivilDate today = CivilDate::FromUnixMs(data.now_ms);
  data.today = today.ToString();
  data.window_days = since_seconds == 0 ? 30 : static_cast<int>((since_seconds + 86399) / 86400);
  data.since_day = today.MinusDays(data.window_days).ToString();
  std::string active_since = today.MinusDays(kActiveWindowDays).ToString();

  PREAU_ASSIGN_OR_RETURN(auto devices, core.store->ListDevices(group, false));
  PREAU_ASSIGN_OR_RETURN(auto stock, usage.ListStock());
  PREAU_ASSIGN_OR_RETURN(auto dropped, usage.Dropped());
  PREAU_ASSIGN_OR_RETURN(auto days, usage.Days(std::min(data.since_day, active_since)));
  auto issued = IssuedPolicies(*core.store);
  std::map<std::string, const StockDevice*> stock_by_serial;
  for (const auto& s : stock) stock_by_serial[s.serial] = &s;

  std::map<std::string, size_t> index;
  std::set<std::string> enrolled_serials;
  size_t categories = AppCategories().size();
  for (const auto& rec : devices) {
    if (!InScope(op, rec.group)) continue;
    ReportDevice d;
    d.id = rec.id;
    d.name = rec.name;
    d.group = rec.group;
    d.school = SchoolOf(rec.group);
    v1::Inventory inv;
    inv.ParseFromString(rec.inventory);
    d.model = inv.model();
    d.manufacturer = inv.manufacturer();
    d.kind = inv.device_kind();
    d.os = inv.os_name().empty() ? "" : inv.os_name() + " " + inv.os_version();
    d.serial = inv.serial();
    d.state = "in_service";
    d.enrolled_ms = rec.enrolled_ms;
    d.last_seen_ms = rec.last_seen_ms;
    if (inv.has_battery() && inv.battery().present()) d.battery_health = inv.battery().health_percent();
    for (const auto& disk : inv.disks()) {
      d.disk_total_bytes += static_cast<int64_t>(disk.total_bytes());
      d.disk_free_bytes += static_cast<int64_t>(disk.free_bytes());
    }
    d.policy_version = rec.policy_version;
    d.policy_state = rec.policy_state;
    auto it = issued.find(rec.id);
    if (it != issued.end()) d.policy_issued = it->second;
    d.online = core.connections.Online(rec.id);
    d.category_minutes.assign(categories, 0);
    auto dr = dropped.find(rec.id);
    if (dr != dropped.end()) d.dropped_reports = dr->second;
    // Stock-taking may know its purchase date and state.
    auto st = d.serial.empty() ? stock_by_serial.end() : stock_by_serial.find(d.serial);
    if (st != stock_by_serial.end()) {
      d.purchased = st->second->purchased;
      d.state = st->second->state;
      enrolled_serials.insert(d.serial);
    }
    index[d.id] = data.devices.size();
    data.devices.push_back(std::move(d));
  }
  for (const auto& s : stock) {
    if (enrolled_serials.count(s.serial)) continue;
    if (!group.empty() && !PathWithin(s.group, group)) continue;
    if (!InScope(op, s.group)) continue;
    ReportDevice d;
    d.has_agent = false;
    d.id = "stock:" + s.serial;
    d.name = s.name;
    d.group = s.group;
    d.school = SchoolOf(s.group);
    d.model = s.model;
    d.manufacturer = s.manufacturer;
    d.kind = s.kind;
    d.serial = s.serial;
    d.state = s.state;
    d.purchased = s.purchased;
    d.battery_health = s.battery_health;
    d.disk_total_bytes = s.disk_total_bytes;
    d.disk_free_bytes = s.disk_free_bytes;
    d.category_minutes.assign(categories, 0);
    data.devices.push_back(std::move(d));
  }

  for (const auto& day : days) {
    auto it = index.find(day.device_id);
    if (it == index.end()) continue;
    ReportDevice& d = data.devices[it->second];
    if (day.day >= active_since && day.screen_on_minutes > 0) d.active = true;
    if (day.day < data.since_day) continue;
    if (day.screen_on_minutes > 0) ++d.active_days;
    d.screen_on_minutes += day.screen_on_minutes;
    for (const auto& a : day.detail.apps()) {
      d.category_minutes[CategoryOfApp(a.app())] += a.foreground_minutes();
      d.app_minutes[a.app()] += a.foreground_minutes();
    }
    for (const auto& b : day.detail.blocked()) {
      d.blocked_requests += b.count();
      data.blocked_by_category[b.category()] += b.count();
    }
  }
  for (auto& d : data.devices) DecideRenewal(d, today);
  return data;
}

ReportTable InventoryTable(const ReportData& data) {
  ReportTable t;
  t.title = "Inventaire du parc";
  t.columns = {{"id", "Identifiant"},
               {"source", "Source"},
               {"name", "Nom"},
               {"group", "Groupe"},
               {"school", "École"},
               {"kind", "Type"},
               {"manufacturer", "Fabricant"},
               {"model", "Modèle"},
               {"serial", "N° de série"},
               {"os", "Système"},
               {"state", "État"},
               {"purchased", "Achat"},
               {"enrolled", "Inscrit le"},
               {"last_seen", "Vu le"},
               {"online", "En ligne"},
               {"active_30d", "Utilisé (30 j)"},
               {"battery_health_percent", "Santé batterie %"},
               {"disk_total_gib", "Stockage Gio"},
               {"disk_free_percent", "Libre %"},
               {"renewal_due", "À renouveler"},
               {"renewal_reason", "Motif"}};
  using V = ReportValue;
  for (const auto& d : data.devices) {
    t.rows.push_back({
        V::Text(d.id), V::Text(d.has_agent ? "agent" : "inventaire"), V::Text(d.name),
        V::Text(d.group), V::Text(d.school), V::Text(d.kind), V::Text(d.manufacturer),
        V::Text(d.model), V::Text(d.serial), V::Text(d.os), V::Text(StockStateLabel(d.state)),
        V::Text(d.purchased), V::Text(DateOf(d.enrolled_ms)),
        d.last_seen_ms ? V::Text(FormatLocalTime(d.last_seen_ms)) : V::Empty(),
        d.has_agent ? V::Bool(d.online) : V::Empty(),
        d.has_agent ? V::Bool(d.active) : V::Empty(),
        d.battery_health >= 0 ? V::Int(d.battery_health) : V::Empty(),
        d.disk_total_bytes > 0 ? V::Int((d.disk_total_bytes + (1 << 29)) >> 30) : V::Empty(),
        d.disk_total_bytes > 0 ? V::Int(d.disk_free_bytes * 100 / d.disk_total_bytes)
                               : V::Empty(),
        V::Bool(!d.renewal_reasons.empty()), V::Text(Join(d.renewal_reasons, "; "))});
  }
  return t;
}

ReportTable UsageTable(const ReportData& data) {
  ReportTable t;
  t.title = "Usage des appareils (du " + data.since_day + " au " + data.today + ")";
  t.columns = {{"id", "Identifiant"},           {"name", "Nom"},
               {"group", "Groupe"},             {"school", "École"},
               {"model", "Modèle"},             {"active_days", "Jours d'usage"},
               {"screen_on_minutes", "Écran allumé (min)"}};
  for (const auto& c : AppCategories()) {
    t.columns.push_back({"minutes_" + c.key, c.label + " (min)"});
  }
  t.columns.push_back({"blocked_requests", "Requêtes bloquées"});
  t.columns.push_back({"reports_lost", "Rapports perdus"});
  using V = ReportValue;
  for (const auto& d : data.devices) {
    if (!d.has_agent) continue;
    std::vector<V> row = {V::Text(d.id),     V::Text(d.name),       V::Text(d.group),
                          V::Text(d.school), V::Text(d.model),      V::Int(d.active_days),
                          V::Int(d.screen_on_minutes)};
    for (int64_t m : d.category_minutes) row.push_back(V::Int(m));
    row.push_back(V::Int(d.blocked_requests));
    row.push_back(V::Int(d.dropped_reports));
    t.rows.push_back(std::move(row));
  }
  return t;
}

ReportTable ComplianceTable(const ReportData& data) {
  ReportTable t;
  t.title = "Conformité aux politiques";
  t.columns = {{"id", "Identifiant"},
               {"name", "Nom"},
               {"group", "Groupe"},
               {"school", "École"},
               {"online", "En ligne"},
               {"last_seen", "Vu le"},
               {"policy_issued", "Version envoyée"},
               {"policy_version", "Version appliquée"},
               {"status", "Statut"},
               {"compliant", "Conforme"},
               {"detail", "Détail"}};
  using V = ReportValue;
  for (const auto& d : data.devices) {
    if (!d.has_agent) continue;
    std::string status = PolicyStateLabel(d);
    t.rows.push_back({V::Text(d.id), V::Text(d.name), V::Text(d.group), V::Text(d.school),
                      V::Bool(d.online),
                      d.last_seen_ms ? V::Text(FormatLocalTime(d.last_seen_ms)) : V::Empty(),
                      V::Int(static_cast<int64_t>(d.policy_issued)),
                      V::Int(static_cast<int64_t>(d.policy_version)), V::Text(status),
                      V::Bool(status == "appliquée"), V::Text(d.policy_state)});
  }
  return t;
}

ReportTable CountsTable(const ReportData& data, v1::ReportKind kind) {
  ReportTable t;
  t.title = "Synthèse par groupe (effectifs seulement)";
  t.columns = {{"group", "Groupe"}, {"devices", "Appareils"}};
  switch (kind) {
    case v1::REPORT_KIND_INVENTORY:
      t.columns.insert(t.columns.end(), {{"with_agent", "Avec agent"},
                                         {"active_30d", "Utilisés (30 j)"},
                                         {"renewal_due", "À renouveler"}});
      break;
    case v1::REPORT_KIND_USAGE:
      t.columns.insert(t.columns.end(), {{"active_days", "Jours d'usage"},
                                         {"screen_on_minutes", "Écran allumé (min)"},
                                         {"blocked_requests", "Requêtes bloquées"}});
      break;
    default:
      t.columns.insert(t.columns.end(), {{"applied", "Conformes"},
                                         {"not_applied", "Non conformes ou en attente"}});
      break;
  }
  struct Sums {
    int64_t devices = 0, with_agent = 0, active = 0, renewal = 0, days = 0, minutes = 0,
            blocked = 0, applied = 0;
  };
  std::map<std::string, Sums> by_group;
  for (const auto& d : data.devices) {
    Sums& s = by_group[d.group];
    ++s.devices;
    s.with_agent += d.has_agent;
    s.active += d.active;
    s.renewal += !d.renewal_reasons.empty();
    s.days += d.active_days;
    s.minutes += d.screen_on_minutes;
    s.blocked += d.blocked_requests;
    s.applied += d.has_agent && PolicyStateLabel(d) == "appliquée";
  }
  using V = ReportValue;
  for (const auto& [group, s] : by_group) {
    std::vector<V> row = {V::Text(group), V::Int(s.devices)};
    switch (kind) {
      case v1::REPORT_KIND_INVENTORY:
        row.insert(row.end(), {V::Int(s.with_agent), V::Int(s.active), V::Int(s.renewal)});
        break;
      case v1::REPORT_KIND_USAGE:
        row.insert(row.end(), {V::Int(s.days), V::Int(s.minutes), V::Int(s.blocked)});
        break;
      default:
        row.insert(row.end(), {V::Int(s.applied), V::Int(s.with_agent - s.applied)});
        break;
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

}  // namespace preau::server

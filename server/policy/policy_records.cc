#include "server/policy/policy_records.h"

#include <sstream>

namespace preau::server {

std::string ChainText(const std::vector<int64_t>& chain) {
  std::string out;
  for (int64_t r : chain) out += (out.empty() ? "" : ",") + std::to_string(r);
  return out;
}

std::vector<int64_t> ParseChain(const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(std::stoll(item));
  }
  return out;
}

Result<std::vector<PolicyVersionRecord>> PolicyRecords::Versions(
    const std::vector<std::string>& groups) {
  return store_.Locked([&](SqlDb& db) -> Result<std::vector<PolicyVersionRecord>> {
    std::string sql =
        "SELECT revision, group_path, name, version, file, source, spec, rollout_percent, "
        "applied_by, applied_ms FROM policy_versions";
    if (!groups.empty()) {
      sql += " WHERE group_path IN (";
      for (size_t i = 0; i < groups.size(); ++i) sql += i ? ",?" : "?";
      sql += ")";
    }
    sql += " ORDER BY revision DESC";
    PREAU_ASSIGN_OR_RETURN(auto s, db.Prepare(sql));
    for (size_t i = 0; i < groups.size(); ++i) s.Bind(static_cast<int>(i + 1), groups[i]);
    std::vector<PolicyVersionRecord> out;
    std::map<int64_t, size_t> staged;  // revision -> index, for versions with a pilot
    while (true) {
      PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      PolicyVersionRecord r;
      r.revision = s.Int(0);
      r.group = s.Text(1);
      r.name = s.Text(2);
      r.version = static_cast<uint64_t>(s.Int(3));
      r.file = s.Text(4);
      r.source = s.Text(5);
      r.spec = s.Blob(6);
      r.rollout_percent = static_cast<uint32_t>(s.Int(7));
      r.applied_by = s.Text(8);
      r.applied_ms = s.Int(9);
      if (r.rollout_percent < 100) staged[r.revision] = out.size();
      out.push_back(std::move(r));
    }
    for (auto& [revision, index] : staged) {
      PREAU_ASSIGN_OR_RETURN(auto p,
                             db.Prepare("SELECT device_id FROM policy_pilot WHERE revision=?"));
      p.Bind(1, revision);
      while (true) {
        PREAU_ASSIGN_OR_RETURN(bool row, p.Step());
        if (!row) break;
        out[index].pilot.insert(p.Text(0));
      }
    }
    return out;
  });
}

Result<int64_t> PolicyRecords::NextRevision() {
  return store_.Locked([&](SqlDb& db) -> Result<int64_t> {
    PREAU_ASSIGN_OR_RETURN(auto s,
                           db.Prepare("SELECT COALESCE(MAX(revision), 0) FROM policy_versions"));
    PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
    return row ? s.Int(0) + 1 : 1;
  });
}

namespace {
Status InsertPilot(SqlDb& db, int64_t revision, const std::set<std::string>& pilot) {
  for (const auto& id : pilot) {
    PREAU_ASSIGN_OR_RETURN(
        auto s, db.Prepare("INSERT INTO policy_pilot(revision, device_id) VALUES(?,?) "
                           "ON CONFLICT DO NOTHING"));
    PREAU_RETURN_IF_ERROR(s.Bind(1, revision).Bind(2, id).Run());
  }
  return Status::Ok();
}
}  // namespace

Result<int64_t> PolicyRecords::AddVersion(const PolicyVersionRecord& r) {
  return store_.Locked([&](SqlDb& db) -> Result<int64_t> {
    int64_t revision = 0;
    Status st = db.Transaction([&]() -> Status {
      PREAU_ASSIGN_OR_RETURN(
          auto s, db.Prepare("INSERT INTO policy_versions(group_path, name, version, file, "
                             "source, spec, rollout_percent, applied_by, applied_ms) "
                             "VALUES(?,?,?,?,?,?,?,?,?) RETURNING revision"));
      s.Bind(1, r.group).Bind(2, r.name).Bind(3, static_cast<int64_t>(r.version)).Bind(4, r.file);
      s.Bind(5, r.source).BindBlob(6, r.spec).Bind(7, static_cast<int64_t>(r.rollout_percent));
      s.Bind(8, r.applied_by).Bind(9, r.applied_ms);
      PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) return Internal("storing a policy version returned no revision");
      revision = s.Int(0);
      return InsertPilot(db, revision, r.pilot);
    });
    if (!st.ok()) return st.Context("storing policy '" + r.name + "' for " + r.group);
    return revision;
  });
}

Status PolicyRecords::Widen(int64_t revision, uint32_t percent,
                            const std::set<std::string>& pilot) {
  return store_.Locked([&](SqlDb& db) {
    return db.Transaction([&]() -> Status {
      PREAU_ASSIGN_OR_RETURN(
          auto s, db.Prepare("UPDATE policy_versions SET rollout_percent=? WHERE revision=?"));
      PREAU_RETURN_IF_ERROR(s.Bind(1, static_cast<int64_t>(percent)).Bind(2, revision).Run());
      return InsertPilot(db, revision, pilot);
    });
  });
}

Result<std::optional<IssuedBundle>> PolicyRecords::Bundle(const std::string& device_id) {
  return store_.Locked([&](SqlDb& db) -> Result<std::optional<IssuedBundle>> {
    PREAU_ASSIGN_OR_RETURN(
        auto s, db.Prepare("SELECT version, chain, signed, issued_ms FROM policy_bundles "
                           "WHERE device_id=?"));
    s.Bind(1, device_id);
    PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::optional<IssuedBundle>();
    IssuedBundle b;
    b.device_id = device_id;
    b.version = static_cast<uint64_t>(s.Int(0));
    b.chain = ParseChain(s.Text(1));
    b.signed_bundle = s.Blob(2);
    b.issued_ms = s.Int(3);
    return std::optional<IssuedBundle>(std::move(b));
  });
}

Result<std::map<std::string, IssuedBundle>> PolicyRecords::Bundles() {
  return store_.Locked([&](SqlDb& db) -> Result<std::map<std::string, IssuedBundle>> {
    PREAU_ASSIGN_OR_RETURN(
        auto s, db.Prepare("SELECT device_id, version, chain, issued_ms FROM policy_bundles"));
    std::map<std::string, IssuedBundle> out;
    while (true) {
      PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      IssuedBundle b;
      b.device_id = s.Text(0);
      b.version = static_cast<uint64_t>(s.Int(1));
      b.chain = ParseChain(s.Text(2));
      b.issued_ms = s.Int(3);
      out[b.device_id] = std::move(b);
    }
    return out;
  });
}

Status PolicyRecords::SaveBundles(const std::vector<IssuedBundle>& bundles) {
  if (bundles.empty()) return Status::Ok();
  return store_.Locked([&](SqlDb& db) {
    return db.Transaction([&]() -> Status {
      for (const auto& b : bundles) {
        PREAU_ASSIGN_OR_RETURN(
            auto s, db.Prepare("INSERT INTO policy_bundles(device_id, version, chain, signed, "
                               "issued_ms) VALUES(?,?,?,?,?) ON CONFLICT (device_id) DO UPDATE "
                               "SET version=excluded.version, chain=excluded.chain, "
                               "signed=excluded.signed, issued_ms=excluded.issued_ms"));
        s.Bind(1, b.device_id).Bind(2, static_cast<int64_t>(b.version)).Bind(3, ChainText(b.chain));
        s.BindBlob(4, b.signed_bundle).Bind(5, b.issued_ms);
        PREAU_RETURN_IF_ERROR(s.Run());
      }
      return Status::Ok();
    });
  });
}

Status PolicyRecords::SaveCompliance(const ComplianceRecord& r, const std::string& report_bytes) {
  return store_.Locked([&](SqlDb& db) -> Status {
    PREAU_ASSIGN_OR_RETURN(
        auto s, db.Prepare(
            "INSERT INTO policy_compliance(device_id, version, accepted, reason, report, "
            "reported_ms, unsupported) VALUES(?,?,?,?,?,?,?) ON CONFLICT(device_id, version) "
            "DO UPDATE SET accepted=excluded.accepted, reason=excluded.reason, "
            "report=excluded.report, reported_ms=excluded.reported_ms, "
            "unsupported=excluded.unsupported "
            // A replay of the bundle a device holds is refused; it says nothing against the
            // bundle it accepted under that version.
            "WHERE excluded.accepted = 1 OR policy_compliance.accepted = 0"));
    s.Bind(1, r.device_id).Bind(2, static_cast<int64_t>(r.version)).Bind(3, r.accepted ? 1 : 0);
    s.Bind(4, r.reason).BindBlob(5, report_bytes).Bind(6, r.reported_ms).Bind(7, r.unsupported);
    return s.Run();
  });
}

Result<std::map<std::pair<std::string, uint64_t>, ComplianceRecord>> PolicyRecords::Compliance() {
  using Map = std::map<std::pair<std::string, uint64_t>, ComplianceRecord>;
  return store_.Locked([&](SqlDb& db) -> Result<Map> {
    PREAU_ASSIGN_OR_RETURN(
        auto s, db.Prepare("SELECT device_id, version, accepted, reason, reported_ms, "
                           "unsupported FROM policy_compliance"));
    Map out;
    while (true) {
      PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      ComplianceRecord r;
      r.device_id = s.Text(0);
      r.version = static_cast<uint64_t>(s.Int(1));
      r.accepted = s.Int(2) != 0;
      r.reason = s.Text(3);
      r.reported_ms = s.Int(4);
      r.unsupported = s.Text(5);
      out[{r.device_id, r.version}] = std::move(r);
    }
    return out;
  });
}

Result<uint64_t> PolicyRecords::AcceptedVersion(const std::string& device_id) {
  return store_.Locked([&](SqlDb& db) -> Result<uint64_t> {
    PREAU_ASSIGN_OR_RETURN(
        auto s, db.Prepare("SELECT COALESCE(MAX(version), 0) FROM policy_compliance "
                           "WHERE device_id=? AND accepted=1"));
    s.Bind(1, device_id);
    PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
    return row ? static_cast<uint64_t>(s.Int(0)) : 0;
  });
}

}  // namespace preau::server

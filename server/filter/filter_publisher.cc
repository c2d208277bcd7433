#include "server/filter/filter_publisher.h"

#include <algorithm>

#include <malloc.h>

#include <cstdio>
#include <filesystem>

#include "common/files.h"
#include "server/catalog/artifact_sink.h"
#include "server/fleet/device_service.h"

namespace preau::server {

namespace {

constexpr uint64_t kMaxArtifactBytes = 4ull << 30;

std::string Describe(const std::map<std::string, filter::Ut1Description>& descriptions,
                     const std::string& name) {
  auto it = descriptions.find(name);
  if (it == descriptions.end()) return "";
  const filter::Ut1Description& d = it->second;
  if (!d.desc_fr.empty()) return d.desc_fr;
  if (!d.name_fr.empty()) return d.name_fr;
  return d.desc_en.empty() ? d.name_en : d.desc_en;
}

// One category's line in an import's summary.
void Summarize(const filter::Ut1HashedCategory& cat, size_t max_reasons,
               v1::FilterVersion& into) {
  auto* c = into.add_categories();
  c->set_name(cat.name);
  c->set_white(cat.IsWhite());
  c->set_domains(cat.domain_hashes.size());
  c->set_domain_lines(cat.domain_lines);
  c->set_urls(cat.urls.size());
  c->set_url_lines(cat.url_lines);
  c->set_skipped(cat.skipped_count);
  for (size_t i = 0; i < cat.skipped.size() && i < max_reasons; ++i) {
    c->add_skipped_reasons(cat.skipped[i].file + " " + cat.skipped[i].reason);
  }
  into.set_domains(into.domains() + cat.domain_hashes.size());
  into.set_urls(into.urls() + cat.urls.size());
  into.set_skipped(into.skipped() + cat.skipped_count);
}

// Why an import must not replace `current` without --force: it holds no domain at all, or
// a category that had at least kMinDomainsWatched domains loses more than half of them (or
// disappears). A truncated download or the wrong folder looks like that, and would turn
// filtering off on every device. Empty when the import looks sane.
constexpr uint64_t kMinDomainsWatched = 20;
std::string ImportLooksWrong(const v1::FilterVersion& next,
                             const std::optional<FilterImportRecord>& current) {
  if (next.domains() == 0 && next.urls() == 0) {
    return "the folder holds no valid domain or URL: devices would filter nothing";
  }
  if (!current) return "";
  std::map<std::string, uint64_t> now;
  for (const auto& c : next.categories()) now[c.name()] = c.domains();
  std::vector<std::string> losses;
  for (const auto& c : current->summary.categories()) {
    if (c.domains() < kMinDomainsWatched) continue;
    auto it = now.find(c.name());
    uint64_t after = it == now.end() ? 0 : it->second;
    if (after * 2 >= c.domains()) continue;
    losses.push_back(c.name() + " " + std::to_string(c.domains()) + " -> " +
                     (it == now.end() ? std::string("missing") : std::to_string(after)));
  }
  if (losses.empty()) return "";
  std::string out = "compared with the current version " + std::to_string(current->version) +
                    ", categories would lose most of their domains (";
  for (size_t i = 0; i < losses.size() && i < 5; ++i) out += (i ? ", " : "") + losses[i];
  if (losses.size() > 5) out += ", and " + std::to_string(losses.size() - 5) + " more";
  return out + ")";
}

// Gives the memory a large build freed back to the system: the server idles for days
// between imports, and without this glibc keeps the freed heap (hundreds of MB after the
// whole UT1 set) resident.
void ReleaseFreedMemory() { malloc_trim(0); }

}  // namespace

ImportClaim::~ImportClaim() { running_.store(false); }

FilterPublisher::FilterPublisher(ServerCore& core, FilterRecords& records,
                                 PolicyRecords& policies, FilterPublisherOptions options)
    : core_(core), records_(records), policies_(policies), options_(options) {}

FilterPublisher::~FilterPublisher() { Stop(); }

void FilterPublisher::Start() {
  auto holds = records_.DeviceHolds();
  if (!holds.ok()) {
    std::fprintf(stderr, "preau-server: filter: reading what devices hold: %s\n",
                 holds.status().message().c_str());
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (started_) return;
  started_ = true;
  if (holds.ok()) {
    for (const auto& [device, version] : *holds) {
      DeviceMemo& m = memo_[device];
      if (m.held == 0) m.held = version;  // a hello since construction knows better
      m.saved = version;
    }
  }
  worker_ = std::thread([this] { Run(); });
}

void FilterPublisher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  std::lock_guard<std::mutex> lock(import_mu_);
  if (import_thread_.joinable()) import_thread_.join();
}

filter::FilterProfile FilterPublisher::KnownOnly(const filter::FilterProfile& p,
                                                 const filter::Snapshot& full,
                                                 std::vector<std::string>* unknown) {
  std::set<std::string> known;
  for (const auto& c : full.categories()) known.insert(c.name);
  filter::FilterProfile out = p;
  out.blocked_categories.clear();
  for (const auto& c : p.blocked_categories) {
    if (known.count(c)) {
      out.blocked_categories.push_back(c);
    } else if (unknown) {
      unknown->push_back(c);
    }
  }
  return out;
}

Result<std::pair<std::string, uint64_t>> FilterPublisher::StoreArtifact(const std::string& bytes) {
  PREAU_ASSIGN_OR_RETURN(auto sink, ArtifactSink::Create(core_.data_dir, kMaxArtifactBytes));
  PREAU_RETURN_IF_ERROR(sink->Append(bytes));
  PREAU_ASSIGN_OR_RETURN(std::string sha, sink->Commit());
  return std::make_pair(sha, static_cast<uint64_t>(bytes.size()));
}

Result<std::unique_ptr<ImportClaim>> FilterPublisher::ClaimImport() {
  bool expected = false;
  if (!import_running_.compare_exchange_strong(expected, true)) {
    return FailedPrecondition("an import is already running: try again when it has finished "
                              "(`preau filter list` shows the versions)");
  }
  return std::unique_ptr<ImportClaim>(new ImportClaim(import_running_));
}

void FilterPublisher::ImportAsync(std::unique_ptr<ImportClaim> claim, std::string dir,
                                  std::string source, std::string operator_name, bool force,
                                  std::function<void(Result<v1::FilterVersion>)> done,
                                  std::function<Status(const std::function<Status()>&)> in_call) {
  std::lock_guard<std::mutex> lock(import_mu_);
  // The claim proves the previous import is over; its thread is at most returning.
  if (import_thread_.joinable()) import_thread_.join();
  import_thread_ = std::thread([this, claim = std::move(claim), dir = std::move(dir),
                                source = std::move(source), op = std::move(operator_name),
                                force, done = std::move(done), in_call = std::move(in_call)]() mutable {
    Result<v1::FilterVersion> version = Internal("the import did not run");
    auto work = [&]() -> Status {
      version = ImportFolder(dir, source, op, force);
      return version.status();
    };
    (void)(in_call ? in_call(work) : work());
    claim.reset();  // before `done`: the client may start the next import as soon as it hears
    done(std::move(version));
  });
}

Result<v1::FilterVersion> FilterPublisher::ImportFolder(const std::string& dir,
                                                        const std::string& source,
                                                        const std::string& operator_name,
                                                        bool force) {
  // Read one category at a time, keeping only hashes (8 bytes a domain): the whole
  // published set is 5.8 million names.
  v1::FilterVersion summary;
  filter::SnapshotContents all;  // every category and URL rule, no profile: the full set
  std::vector<std::vector<uint64_t>> hashes;
  std::map<std::string, filter::Ut1Description> descriptions;
  size_t max_reasons = options_.max_reasons_per_category;
  PREAU_RETURN_IF_ERROR(filter::ReadUt1Hashed(
      dir, max_reasons,
      [&](filter::Ut1HashedCategory& cat) -> Status {
        if (all.categories.size() == 256) {
          return InvalidArgument("more than 256 categories (a snapshot numbers them in a byte)");
        }
        auto id = static_cast<uint8_t>(all.categories.size());
        all.categories.push_back({cat.name, cat.IsWhite()});
        Summarize(cat, max_reasons, summary);
        for (auto& u : cat.urls) all.urls.emplace_back(id, std::move(u));
        hashes.push_back(std::move(cat.domain_hashes));
        if (filter::KeepsNames(cat.name)) {
          // A small list (doh) the agents resolve: its names go in plain form too.
          PREAU_ASSIGN_OR_RETURN(std::string text,
                                 ReadFile(dir + "/" + cat.name + "/domains"));
          filter::Ut1Category plain;
          filter::ParseDomainsText(text, plain);
          for (auto& d : plain.domains) all.names.emplace_back(id, std::move(d));
        }
        return Status::Ok();
      },
      &descriptions));
  if (all.categories.empty()) {
    return InvalidArgument("the folder holds no category (no sub-folder with a `domains` "
                           "file): is it the UT1 folder?");
  }
  for (auto& c : *summary.mutable_categories()) c.set_description(Describe(descriptions, c.name()));
  if (!force) {
    PREAU_ASSIGN_OR_RETURN(auto current, records_.CurrentImport());
    std::string wrong = ImportLooksWrong(summary, current);
    if (!wrong.empty()) {
      return FailedPrecondition("import refused: " + wrong +
                                "; nothing changed. Check the folder, or import it anyway "
                                "with --force");
    }
  }
  size_t total = 0;
  for (const auto& h : hashes) total += h.size();
  all.entries.reserve(total);
  for (size_t id = 0; id < hashes.size(); ++id) {
    for (uint64_t h : hashes[id]) all.entries.push_back({h, static_cast<uint8_t>(id)});
    std::vector<uint64_t>().swap(hashes[id]);
  }

  {
    std::lock_guard<std::mutex> build(build_mu_);
    PREAU_ASSIGN_OR_RETURN(auto current, records_.CurrentImport());
    all.version = current ? current->version + 1 : 1;
    PREAU_ASSIGN_OR_RETURN(std::string bytes, filter::BuildSnapshot(std::move(all)));
    PREAU_ASSIGN_OR_RETURN(auto stored, StoreArtifact(bytes));
    auto parsed = filter::Snapshot::Parse(bytes);
    std::string().swap(bytes);
    FilterImportRecord rec;
    rec.sha256 = stored.first;
    rec.size = stored.second;
    rec.summary = std::move(summary);
    PREAU_ASSIGN_OR_RETURN(summary, AddCurrent(std::move(rec), source, operator_name,
                                               parsed.ok() ? *parsed : nullptr));
  }
  Published(summary.version());
  return summary;
}

Result<v1::FilterVersion> FilterPublisher::AddCurrent(
    FilterImportRecord rec, const std::string& source, const std::string& operator_name,
    std::shared_ptr<const filter::Snapshot> parsed) {
  rec.source = source;
  rec.summary.set_source(source);
  rec.summary.set_imported_by(operator_name);
  rec.summary.set_imported_unix_ms(core_.Now());
  rec.summary.set_sha256(rec.sha256);
  rec.summary.set_size(rec.size);
  rec.imported_by = operator_name;
  rec.imported_ms = core_.Now();
  PREAU_ASSIGN_OR_RETURN(uint64_t version, records_.AddImport(rec));
  v1::FilterVersion summary = std::move(rec.summary);
  summary.set_version(version);
  summary.set_current(true);
  std::lock_guard<std::mutex> lock(cache_mu_);
  full_ = std::move(parsed);
  full_version_ = full_ ? version : 0;
  return summary;
}

void FilterPublisher::Published(uint64_t version) {
  ReleaseFreedMemory();
  QueueAllOnline();
  auto purged = Purge();
  if (!purged.ok()) {
    std::fprintf(stderr, "preau-server: filter purge after version %llu: %s\n",
                 static_cast<unsigned long long>(version), purged.status().message().c_str());
  }
}

Result<v1::FilterVersion> FilterPublisher::Rollback(uint64_t version,
                                                    const std::string& operator_name) {
  v1::FilterVersion summary;
  {
    std::lock_guard<std::mutex> build(build_mu_);
    PREAU_ASSIGN_OR_RETURN(auto imports, records_.Imports());  // newest first
    auto it = std::find_if(imports.begin(), imports.end(),
                           [&](const FilterImportRecord& r) { return r.version == version; });
    if (it == imports.end()) {
      return NotFound("no filter version " + std::to_string(version) +
                      " (`preau filter list` shows the versions)");
    }
    if (it == imports.begin()) {
      return FailedPrecondition("version " + std::to_string(version) + " is already current");
    }
    if (it - imports.begin() >= static_cast<std::ptrdiff_t>(kKeptImports)) {
      return FailedPrecondition("the lists of version " + std::to_string(version) +
                                " are no longer kept (the server keeps the last " +
                                std::to_string(kKeptImports) +
                                " versions): import that folder again");
    }
    // The old full set becomes current again under a new, higher version: devices only
    // ever move forward, and get it as they would any import.
    auto loaded = filter::Snapshot::LoadFile(ArtifactPath(core_.data_dir, it->sha256));
    if (!loaded.ok()) {
      return FailedPrecondition("the lists of version " + std::to_string(version) +
                                " cannot be read back: import that folder again");
    }
    FilterImportRecord rec;
    rec.sha256 = it->sha256;
    rec.size = it->size;
    rec.summary = it->summary;
    PREAU_ASSIGN_OR_RETURN(summary,
                           AddCurrent(std::move(rec),
                                      "rollback to version " + std::to_string(version) + " (" +
                                          it->source + ")",
                                      operator_name, *loaded));
  }
  Published(summary.version());
  return summary;
}

Result<FilterPurge> FilterPublisher::Purge() {
  // Under the build lock: no delta is being made from a snapshot about to go.
  std::lock_guard<std::mutex> build(build_mu_);
  FilterPurge out;
  PREAU_ASSIGN_OR_RETURN(auto imports, records_.Imports());  // newest first
  if (imports.empty()) return out;
  uint64_t current = imports[0].version;
  uint64_t previous = imports.size() > 1 ? imports[1].version : current;
  std::set<uint64_t> held;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, memo] : memo_) held.insert(memo.held);
  }
  PREAU_ASSIGN_OR_RETURN(auto snapshots, records_.Snapshots());
  std::vector<uint64_t> gone;
  for (const auto& s : snapshots) {
    bool recent = s.import_version == current || s.import_version == previous;
    if (!recent && !held.count(s.version)) gone.push_back(s.version);
  }
  // Rows first, files after: whoever reads a row from now on finds no file to miss.
  PREAU_ASSIGN_OR_RETURN(std::vector<std::string> shas, records_.RemoveSnapshots(gone));
  out.snapshots = gone.size();
  // The last kKeptImports full sets stay, for `filter rollback`; a rollback's row names
  // the same full set as the version it went back to.
  PREAU_ASSIGN_OR_RETURN(std::set<std::string> in_use, records_.ArtifactsInUse());
  for (size_t i = 0; i < imports.size(); ++i) {
    if (i < kKeptImports) {
      in_use.insert(imports[i].sha256);
    } else {
      shas.push_back(imports[i].sha256);
    }
  }
  std::set<std::string> unique(shas.begin(), shas.end());
  for (const auto& sha : unique) {
    if (in_use.count(sha) || sha.empty()) continue;
    std::error_code ec;
    if (std::filesystem::remove(ArtifactPath(core_.data_dir, sha), ec)) ++out.files;
    if (ec) {
      std::fprintf(stderr, "preau-server: filter purge: removing artifact %s: %s\n",
                   sha.c_str(), ec.message().c_str());
    }
  }
  return out;
}

Result<std::pair<std::shared_ptr<const filter::Snapshot>, uint64_t>> FilterPublisher::Current() {
  PREAU_ASSIGN_OR_RETURN(auto current, records_.CurrentImport());
  using Out = std::pair<std::shared_ptr<const filter::Snapshot>, uint64_t>;
  if (!current) return Out{nullptr, 0};
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (full_ && full_version_ == current->version) return Out{full_, full_version_};
  }
  PREAU_ASSIGN_OR_RETURN(auto loaded,
                         filter::Snapshot::LoadFile(ArtifactPath(core_.data_dir, current->sha256)));
  std::lock_guard<std::mutex> lock(cache_mu_);
  full_ = loaded;
  full_version_ = current->version;
  return Out{full_, full_version_};
}

Result<FilterSnapshotRecord> FilterPublisher::EnsureSnapshot(const ResolvedFilterProfile& rp,
                                                             uint64_t import_version,
                                                             const filter::Snapshot& full) {
  filter::FilterProfile profile = KnownOnly(rp.profile, full, nullptr);
  std::string key = ProfileKey(profile);
  PREAU_ASSIGN_OR_RETURN(auto existing, records_.SnapshotFor(key, import_version));
  if (existing) return *existing;
  std::lock_guard<std::mutex> build(build_mu_);
  PREAU_ASSIGN_OR_RETURN(existing, records_.SnapshotFor(key, import_version));
  if (existing) return *existing;

  PREAU_ASSIGN_OR_RETURN(uint64_t version, records_.NextSnapshotVersion());
  // Never below the clock (in ms): a server whose database was restored from a backup
  // must not hand out again a number that a device holds for other content (it would be
  // taken as "up to date"); versions made after the restore are above any made before.
  version = std::max<uint64_t>(version, static_cast<uint64_t>(std::max<int64_t>(core_.Now(), 0)));
  using Stored = std::pair<std::string, uint64_t>;
  Result<Stored> stored = [&]() -> Result<Stored> {  // the bytes are freed before the trim
    PREAU_ASSIGN_OR_RETURN(std::string bytes, filter::CutSnapshot(full, profile, version));
    return StoreArtifact(bytes);
  }();
  ReleaseFreedMemory();
  if (!stored.ok()) return stored.status();
  FilterSnapshotRecord rec{version, import_version, key, stored->first, stored->second,
                           core_.Now()};
  PREAU_RETURN_IF_ERROR(records_.AddSnapshot(rec));
  return rec;
}

Result<std::optional<FilterDeltaRecord>> FilterPublisher::EnsureDelta(
    const FilterSnapshotRecord& base, const FilterSnapshotRecord& target) {
  PREAU_ASSIGN_OR_RETURN(auto existing, records_.Delta(base.version, target.version));
  if (existing) return existing;
  std::string base_path = ArtifactPath(core_.data_dir, base.sha256);
  if (!std::filesystem::exists(base_path)) return std::optional<FilterDeltaRecord>();
  std::lock_guard<std::mutex> build(build_mu_);
  PREAU_ASSIGN_OR_RETURN(auto from, filter::Snapshot::LoadFile(base_path));
  PREAU_ASSIGN_OR_RETURN(auto to,
                         filter::Snapshot::LoadFile(ArtifactPath(core_.data_dir, target.sha256)));
  PREAU_ASSIGN_OR_RETURN(std::string delta, filter::MakeDelta(*from, *to));
  // A delta as large as the snapshot saves nothing (a profile that changed entirely).
  if (delta.size() >= target.size) return std::optional<FilterDeltaRecord>();
  PREAU_ASSIGN_OR_RETURN(auto stored, StoreArtifact(delta));
  FilterDeltaRecord rec{base.version, target.version, stored.first, stored.second};
  PREAU_RETURN_IF_ERROR(records_.AddDelta(rec));
  return std::optional<FilterDeltaRecord>(rec);
}

Result<std::optional<v1::FilterUpdate>> FilterPublisher::UpdateFor(const std::string& device_id,
                                                                   uint64_t held_version) {
  using Out = std::optional<v1::FilterUpdate>;
  PREAU_ASSIGN_OR_RETURN(auto current, Current());
  if (!current.first) return Out();
  PREAU_ASSIGN_OR_RETURN(ResolvedFilterProfile profile, DeviceFilterProfile(policies_, device_id));
  PREAU_ASSIGN_OR_RETURN(FilterSnapshotRecord target,
                         EnsureSnapshot(profile, current.second, *current.first));
  if (target.version == held_version) return Out();
  v1::FilterUpdate update;
  update.set_version(target.version);
  update.set_fail_closed(profile.fail_closed);
  update.set_sha256(target.sha256);
  update.set_size(target.size);
  if (held_version != 0) {
    PREAU_ASSIGN_OR_RETURN(auto base, records_.SnapshotByVersion(held_version));
    if (base) {
      auto delta = EnsureDelta(*base, target);
      if (!delta.ok()) {
        std::fprintf(stderr, "preau-server: filter delta %llu -> %llu: %s (sending it whole)\n",
                     static_cast<unsigned long long>(held_version),
                     static_cast<unsigned long long>(target.version),
                     delta.status().message().c_str());
      } else if (*delta) {
        update.set_base_version(held_version);
        update.set_sha256((*delta)->sha256);
        update.set_size((*delta)->size);
      }
    }
  }
  return Out(std::move(update));
}

void FilterPublisher::OnHello(const std::string& device_id, uint64_t held_version) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    DeviceMemo& m = memo_[device_id];
    m.held = held_version;
    if (m.held != m.saved) unsaved_.insert(device_id);
  }
  Queue(device_id);
}

uint64_t FilterPublisher::HeldBy(const std::string& device_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = memo_.find(device_id);
  return it == memo_.end() ? 0 : it->second.held;
}

void FilterPublisher::Queue(const std::string& device_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!queued_.insert(device_id).second) return;
    queue_.push_back(device_id);
  }
  cv_.notify_all();
}

void FilterPublisher::QueueAllOnline() {
  auto devices = core_.store->ListDevices("", /*include_retired=*/false);
  if (!devices.ok()) return;
  for (const auto& d : *devices) {
    if (core_.connections.Online(d.id)) Queue(d.id);
  }
}

void FilterPublisher::Deliver(const std::string& device_id) {
  if (!core_.connections.Online(device_id)) return;
  uint64_t held = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    held = memo_[device_id].held;
  }
  auto bundle = policies_.Bundle(device_id);
  auto update = UpdateFor(device_id, held);
  if (!update.ok()) {
    std::fprintf(stderr, "preau-server: filter for %s: %s\n", device_id.c_str(),
                 update.status().message().c_str());
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    memo_[device_id].bundle_version = bundle.ok() && *bundle ? (*bundle)->version : 0;
  }
  if (!*update) return;
  v1::ServerMessage msg;
  *msg.mutable_filter() = std::move(**update);
  core_.connections.Send(device_id, msg);
}

void FilterPublisher::Recheck() {
  auto bundles = policies_.Bundles();
  if (!bundles.ok()) return;
  std::vector<std::string> changed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, memo] : memo_) {
      auto it = bundles->find(id);
      uint64_t v = it == bundles->end() ? 0 : it->second.version;
      if (v != memo.bundle_version) changed.push_back(id);
    }
  }
  for (const auto& id : changed) {
    if (core_.connections.Online(id)) Queue(id);
  }
}

void FilterPublisher::SaveHolds() {
  std::vector<std::pair<std::string, uint64_t>> changed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& device : unsaved_) {
      const DeviceMemo& m = memo_[device];
      if (m.held != m.saved) changed.emplace_back(device, m.held);
    }
    unsaved_.clear();
  }
  if (changed.empty()) return;
  Status st = records_.SaveDeviceHolds(changed, core_.Now());
  std::lock_guard<std::mutex> lock(mu_);
  if (!st.ok()) {
    std::fprintf(stderr, "preau-server: filter: recording what devices hold: %s\n",
                 st.message().c_str());
    for (const auto& [device, version] : changed) unsaved_.insert(device);  // next time
    return;
  }
  for (const auto& [device, version] : changed) memo_[device].saved = version;
}

void FilterPublisher::Run() {
  auto next_recheck = std::chrono::steady_clock::now() + options_.recheck_interval;
  uint64_t delivered = 0;
  while (true) {
    std::string device;
    bool idle = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      idle = queue_.empty();
    }
    if (idle) SaveHolds();  // between bursts of hellos: one transaction for the burst
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_until(lock, next_recheck, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) break;
      if (!queue_.empty()) {
        device = queue_.front();
        queue_.pop_front();
        queued_.erase(device);
      }
    }
    if (!device.empty()) {
      Deliver(device);
      if (++delivered % 512 == 0) SaveHolds();  // a long storm of hellos
      continue;
    }
    Recheck();
    next_recheck = std::chrono::steady_clock::now() + options_.recheck_interval;
  }
  SaveHolds();
}

}  // namespace preau::server

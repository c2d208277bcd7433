#include "agent/apps/apps_feature.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <set>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

#include "agent/core/state_store.h"

namespace preau::agent {

namespace asio = boost::asio;

namespace {

constexpr const char* kCatalogKey = "apps.catalog";
constexpr const char* kManagedKey = "apps.managed";
constexpr const char* kPartialSuffix = ".part";

}  // namespace

bool PlatformAccepts(const std::string& kind, const std::string& app_platform) {
  if (app_platform.empty() || app_platform == "any" || kind == "sim") return true;
  if (kind == "linux") return app_platform == "linux" || app_platform == "web";
  return app_platform == kind;
}

std::string AppsDirFor(const std::string& state_dir, const std::string& device_id) {
  if (state_dir.empty() || state_dir == kInMemoryState) {
    return (std::filesystem::temp_directory_path() / ("preau-apps-" + device_id)).string();
  }
  return state_dir + "/apps";
}

std::unique_ptr<AppsFeature> MakeAppsFeature(const std::string& state_dir,
                                             std::function<void()> on_apps_changed) {
  AppsOptions opts;
  // Empty: Start picks the per-device temporary folder, once the device id is known.
  if (!state_dir.empty() && state_dir != kInMemoryState) opts.dir = AppsDirFor(state_dir, "");
  opts.on_apps_changed = std::move(on_apps_changed);
  return std::make_unique<AppsFeature>(std::move(opts));
}

AppsFeature::AppsFeature(AppsOptions opts) : opts_(std::move(opts)) {
  if (opts_.max_parallel == 0) opts_.max_parallel = 1;
}

AppsFeature::~AppsFeature() {
  for (auto& [id, job] : jobs_) job->fetcher->Cancel();
  for (auto& [id, job] : jobs_) {
    if (job->thread.joinable()) job->thread.join();
  }
}

std::string AppsFeature::PartialPath(const std::string& sha256) const {
  return opts_.dir + "/" + sha256 + kPartialSuffix;
}

void AppsFeature::Start(AgentContext& ctx) {
  ctx_ = &ctx;
  const Identity& id = ctx.identity();
  // The folder is made when the first download starts: most agents of a simulated fleet
  // never download anything and should leave nothing behind.
  if (opts_.dir.empty()) opts_.dir = AppsDirFor("", id.device_id);

  retry_timer_ = std::make_unique<asio::steady_timer>(ctx.strand());

  if (auto c = ctx.state().Get(kCatalogKey); c.ok() && *c) catalog_.ParseFromString(**c);
  if (auto m = ctx.state().Get(kManagedKey); m.ok() && *m) {
    v1::AppStatusReport saved;
    if (saved.ParseFromString(**m)) {
      for (const auto& app : saved.apps()) managed_[app.app_id()] = app;
    }
  }
  Reconcile();
}

void AppsFeature::FillHello(v1::Hello* hello) { hello->set_catalog_version(catalog_.version()); }

bool AppsFeature::OnServerMessage(const v1::ServerMessage& msg) {
  if (!msg.has_catalog()) return false;
  catalog_ = msg.catalog();
  Status st = ctx_->state().Put(kCatalogKey, catalog_.SerializeAsString());
  if (!st.ok()) {
    std::fprintf(stderr, "preau-agent: apps: saving the catalogue: %s\n", st.message().c_str());
  }
  Reconcile();
  return true;
}

void AppsFeature::OnConnected() {
  // Back online: whatever failed for want of the server is worth trying now.
  auto now = std::chrono::steady_clock::now();
  for (auto& [id, f] : failures_) f.retry_at = now;
  Reconcile();
}

void AppsFeature::Stop() {
  stopping_ = true;
  alive_->store(false);
  if (retry_timer_) retry_timer_->cancel();
  for (auto& [id, job] : jobs_) job->fetcher->Cancel();
  for (auto& [id, job] : jobs_) {
    if (job->thread.joinable()) job->thread.join();
  }
  jobs_.clear();
}

void AppsFeature::Reconcile() {
  if (stopping_ || !ctx_) return;
  auto now = std::chrono::steady_clock::now();
  Platform& platform = ctx_->platform();
  const bool can_install = platform.GetCapabilities().app_install;
  std::set<std::string> in_catalog;
  for (const auto& app : catalog_.apps()) {
    in_catalog.insert(app.app_id());
    if (!app.required() || !can_install || !PlatformAccepts(platform.Kind(), app.platform())) {
      continue;
    }
    auto m = managed_.find(app.app_id());
    if (m != managed_.end() && m->second.sha256() == app.sha256()) continue;
    auto e = external_.find(app.app_id());
    if (e != external_.end() && e->second.sha256() == app.sha256()) continue;
    if (jobs_.count(app.app_id())) continue;  // its end runs Reconcile again
    auto f = failures_.find(app.app_id());
    if (f != failures_.end() && f->second.retry_at > now) continue;
    bool queued = false;
    for (auto& q : queue_) {
      if (q.app_id() == app.app_id()) {
        q = app;
        queued = true;
      }
    }
    if (!queued) queue_.push_back(app);
  }
  for (auto it = external_.begin(); it != external_.end();) {
    it = in_catalog.count(it->first) ? std::next(it) : external_.erase(it);
  }
  for (auto it = failures_.begin(); it != failures_.end();) {
    bool keep = in_catalog.count(it->first) || managed_.count(it->first);
    it = keep ? std::next(it) : failures_.erase(it);
  }
  // Apps this feature installed that left the catalogue go away.
  std::vector<std::string> to_remove;
  for (const auto& [id, m] : managed_) {
    if (in_catalog.count(id) || jobs_.count(id)) continue;
    auto f = failures_.find(id);
    if (f != failures_.end() && f->second.retry_at > now) continue;
    to_remove.push_back(id);
  }
  for (const auto& id : to_remove) RemoveApp(id);
  StartJobs();
  DropStalePartials();
  Report();
}

void AppsFeature::StartJobs() {
  while (jobs_.size() < opts_.max_parallel && !queue_.empty()) {
    v1::AssignedApp app = std::move(queue_.front());
    queue_.pop_front();
    // Still wanted as queued? (The catalogue may have changed meanwhile.)
    bool wanted = false;
    for (const auto& c : catalog_.apps()) {
      if (c.app_id() == app.app_id() && c.required() && c.sha256() == app.sha256()) wanted = true;
    }
    auto m = managed_.find(app.app_id());
    if (!wanted || jobs_.count(app.app_id()) ||
        (m != managed_.end() && m->second.sha256() == app.sha256())) {
      continue;
    }
    std::error_code ec;
    if (std::filesystem::create_directories(opts_.dir, ec)) ::chmod(opts_.dir.c_str(), 0700);
    auto job = std::make_unique<Job>();
    job->app = app;
    job->fetcher = std::make_unique<PackageFetcher>(ctx_->channel(), opts_.fetch);
    job->bytes_done = std::make_shared<std::atomic<uint64_t>>(0);
    PackageFetcher* fetcher = job->fetcher.get();
    job->thread = std::thread([this, app, fetcher, done = job->bytes_done] {
      RunJob(app, fetcher, done);
    });
    jobs_[app.app_id()] = std::move(job);
  }
}

// On the job's own thread: download, verify, install; the outcome goes back to the strand.
void AppsFeature::RunJob(v1::AssignedApp app, PackageFetcher* fetcher,
                         std::shared_ptr<std::atomic<uint64_t>> bytes_done) {
  const std::string path = PartialPath(app.sha256());
  Status st = fetcher->Fetch(app.sha256(), app.size(), path,
                             [&](uint64_t n) { bytes_done->store(n); });
  if (fetcher->resumed_from() > 0) ++stats_.resumed_downloads;
  stats_.bytes_fetched += fetcher->bytes_received();
  if (st.code() == Code::kDataLoss) ++stats_.hash_failures;
  if (st.ok()) {
    st = ctx_->platform().InstallApp(app.app_id(), app.version(), path).Context("install");
    if (st.ok() || st.code() == Code::kAlreadyExists) ::unlink(path.c_str());
  }
  std::weak_ptr<std::atomic<bool>> alive = alive_;
  asio::post(ctx_->strand(), [this, alive, id = app.app_id(), st] {
    auto a = alive.lock();
    if (a && *a) OnJobDone(id, st);
  });
}

void AppsFeature::OnJobDone(const std::string& app_id, const Status& st) {
  auto it = jobs_.find(app_id);
  if (it == jobs_.end()) return;
  if (it->second->thread.joinable()) it->second->thread.join();  // it is returning
  v1::AssignedApp app = it->second->app;
  jobs_.erase(it);
  if (st.ok()) {
    v1::AppStatus m;
    m.set_app_id(app.app_id());
    m.set_version(app.version());
    m.set_state("installed");
    m.set_sha256(app.sha256());
    m.set_updated_unix_ms(ctx_->clock().NowUnixMs());
    managed_[app.app_id()] = m;
    SaveManaged();
    failures_.erase(app.app_id());
    ++stats_.installs;
    if (opts_.on_apps_changed) opts_.on_apps_changed();
  } else if (st.code() == Code::kAlreadyExists) {
    v1::AppStatus e;
    e.set_app_id(app.app_id());
    e.set_version(app.version());
    e.set_state("installed");
    e.set_detail(st.message() + " (installed from elsewhere, not managed by the store)");
    e.set_sha256(app.sha256());
    e.set_updated_unix_ms(ctx_->clock().NowUnixMs());
    external_[app.app_id()] = e;
    failures_.erase(app.app_id());
  } else {
    Fail(app.app_id(), st);
  }
  Reconcile();
}

void AppsFeature::RemoveApp(const std::string& app_id) {
  Status st = ctx_->platform().RemoveApp(app_id);
  if (!st.ok()) {
    Fail(app_id, st.Context("remove"));
    return;
  }
  v1::AppStatus r = managed_[app_id];
  r.set_state("removed");
  r.set_updated_unix_ms(ctx_->clock().NowUnixMs());
  removed_[app_id] = r;
  managed_.erase(app_id);
  failures_.erase(app_id);
  SaveManaged();
  ++stats_.removals;
  if (opts_.on_apps_changed) opts_.on_apps_changed();
}

void AppsFeature::Fail(const std::string& app_id, const Status& st) {
  Failure& f = failures_[app_id];
  ++f.count;
  f.reason = st.message();
  ++stats_.failures;
  using std::chrono::milliseconds;
  int64_t delay = opts_.retry_min.count() << std::min(f.count - 1, 16);
  if (delay > opts_.retry_max.count() || delay <= 0) delay = opts_.retry_max.count();
  // A damaged download was deleted: fetching it again at once is the remedy.
  if (st.code() == Code::kDataLoss && f.count == 1) delay = 0;
  f.retry_at = std::chrono::steady_clock::now() + milliseconds(delay);
  std::fprintf(stderr, "preau-agent: apps: %s: %s (retry in %lld ms)\n", app_id.c_str(),
               f.reason.c_str(), static_cast<long long>(delay));
  ArmRetry();
}

void AppsFeature::ArmRetry() {
  if (failures_.empty() || stopping_) return;
  auto earliest = std::chrono::steady_clock::time_point::max();
  for (const auto& [id, f] : failures_) earliest = std::min(earliest, f.retry_at);
  retry_timer_->expires_at(earliest);
  std::weak_ptr<std::atomic<bool>> alive = alive_;
  retry_timer_->async_wait(
      asio::bind_executor(ctx_->strand(), [this, alive](boost::system::error_code ec) {
        auto a = alive.lock();
        if (ec || !a || !*a) return;
        Reconcile();
      }));
}

void AppsFeature::SaveManaged() {
  v1::AppStatusReport saved;
  for (const auto& [id, m] : managed_) *saved.add_apps() = m;
  Status st = ctx_->state().Put(kManagedKey, saved.SerializeAsString());
  if (!st.ok()) {
    std::fprintf(stderr, "preau-agent: apps: saving installed apps: %s\n", st.message().c_str());
  }
}

void AppsFeature::Report() {
  Platform& platform = ctx_->platform();
  const bool can_install = platform.GetCapabilities().app_install;
  v1::AgentMessage msg;
  v1::AppStatusReport* r = msg.mutable_app_status();
  std::set<std::string> listed;
  for (const auto& app : catalog_.apps()) {
    v1::AppStatus* s = r->add_apps();
    s->set_app_id(app.app_id());
    s->set_version(app.version());
    listed.insert(app.app_id());
    auto m = managed_.find(app.app_id());
    auto f = failures_.find(app.app_id());
    auto j = jobs_.find(app.app_id());
    if (!can_install || !PlatformAccepts(platform.Kind(), app.platform())) {
      s->set_state("unsupported");
      s->set_detail(!can_install ? "this platform cannot install apps"
                                 : "a " + app.platform() + " package; this is a " +
                                       platform.Kind() + " device");
    } else if (auto e = external_.find(app.app_id());
               e != external_.end() && e->second.sha256() == app.sha256()) {
      *s = e->second;
    } else if (m != managed_.end() && (m->second.sha256() == app.sha256() || !app.required())) {
      s->set_version(m->second.version());
      s->set_state("installed");
      s->set_sha256(m->second.sha256());
    } else if (!app.required()) {
      s->set_state("available");
    } else if (j != jobs_.end()) {
      s->set_state("downloading");
      s->set_bytes_done(j->second->bytes_done->load());
      if (m != managed_.end()) s->set_detail("upgrading from " + m->second.version());
    } else if (f != failures_.end()) {
      s->set_state("failed");
      s->set_detail(f->second.reason + " (attempt " + std::to_string(f->second.count) +
                    ", retrying with backoff)");
    } else {
      s->set_state("pending");
    }
  }
  for (const auto& [id, m] : managed_) {
    if (listed.count(id)) continue;
    v1::AppStatus* s = r->add_apps();
    *s = m;
    auto f = failures_.find(id);
    s->set_state(f != failures_.end() ? "failed" : "installed");
    if (f != failures_.end()) s->set_detail(f->second.reason);
  }
  for (const auto& [id, s] : removed_) {
    if (!listed.count(id) && !managed_.count(id)) *r->add_apps() = s;
  }
  removed_.clear();
  std::string key = r->SerializeAsString();
  if (key == last_report_) return;
  last_report_ = key;
  ctx_->SendReliable(std::move(msg), "app_status", /*replace_kind=*/true);
}

void AppsFeature::DropStalePartials() {
  std::set<std::string> keep;
  for (const auto& app : catalog_.apps()) keep.insert(app.sha256() + kPartialSuffix);
  for (const auto& [id, job] : jobs_) keep.insert(job->app.sha256() + kPartialSuffix);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(opts_.dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 5 && name.ends_with(kPartialSuffix) && !keep.count(name)) {
      std::filesystem::remove(entry.path(), ec);
    }
  }
}

}  // namespace preau::agent

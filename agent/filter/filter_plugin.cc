#include "agent/filter/filter_plugin.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <boost/asio/post.hpp>

#include "agent/filter/doh_addresses.h"
#include "common/files.h"
#include "common/filter/url_rules.h"

namespace preau::agent {

namespace asio = boost::asio;

namespace {

constexpr const char* kFailClosedKey = "filter.fail_closed";

}  // namespace

std::string FilterDirFor(const std::string& state_dir, const std::string& device_id) {
  if (state_dir.empty() || state_dir == kInMemoryState) {
    return (std::filesystem::temp_directory_path() / ("preau-filter-" + device_id)).string();
  }
  return state_dir + "/filter";
}

FilterPlugin::FilterPlugin(std::shared_ptr<TeacherState> teacher, FilterPluginOptions options)
    : teacher_(std::move(teacher)), options_(std::move(options)) {}

FilterPlugin::~FilterPlugin() {
  alive_->store(false);
  if (fetcher_) fetcher_->Cancel();
  if (worker_.joinable()) worker_.join();
  if (self_test_.joinable()) self_test_.join();
}

void FilterPlugin::Start(AgentContext& ctx) {
  if (options_.listen.empty()) {
    if (options_.link) {
      options_.link->SetOutcome({v1::RULE_NOT_SUPPORTED,
                                 "the web filter's resolver does not run on this device"});
    }
    return;
  }
  ctx_ = &ctx;
  const Identity& id = ctx.identity();
  dir_ = options_.dir.empty() ? FilterDirFor("", id.device_id) : options_.dir;
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  ::chmod(dir_.c_str(), 0700);
  retry_timer_ = std::make_unique<asio::steady_timer>(ctx.strand());

  auto listen = ParseListenAddress(options_.listen);
  if (!listen.ok()) {
    std::fprintf(stderr, "preau-agent: filter: %s\n", listen.status().message().c_str());
    return;
  }
  listen_host_ = listen->first;
  if (options_.system) system_ = std::make_unique<FilterSystemPath>(*options_.system);
  DnsResolverOptions ro = options_.resolver;
  ro.listen_address = listen->first;
  ro.listen_port = listen->second;
  ro.upstreams = options_.upstreams;
  if (ro.upstreams.empty() && system_) ro.upstreams = system_->OriginalUpstreams(listen->first);
  if (system_ && options_.system->firewall) ro.upstream_mark = kAgentSocketMark;
  ro.clock = &ctx.clock();
  upstreams_ = ro.upstreams;
  auto fc = ctx.state().Get(kFailClosedKey);
  ro.fail_mode = fc.ok() && *fc && **fc == "0" ? FailMode::kOpen : FailMode::kClosed;
  fail_open_ = ro.fail_mode == FailMode::kOpen;
  resolver_ = std::make_unique<DnsResolver>(ctx.strand().get_inner_executor().context(), ro);

  LoadPersisted();  // before serving: a restarted device filters from its first answer
  Status st = resolver_->Start();
  if (!st.ok()) {
    std::fprintf(stderr, "preau-agent: filter: %s\n", st.message().c_str());
    resolver_error_ = st.message();
    resolver_.reset();
  }
  if (system_ && system_->Engaged() && !options_.guard_command.empty()) {
    // Restarted while in the path (after a crash, or a stop with fail closed): the fail
    // mode must hold again from now on.
    auto guard = StartFilterGuard(options_.guard_command);
    if (guard.ok()) guard_ = *guard;
    else std::fprintf(stderr, "preau-agent: filter: %s\n", guard.status().message().c_str());
  }
  if (options_.link) {
    std::weak_ptr<std::atomic<bool>> alive = alive_;
    options_.link->OnWant([this, alive, &ctx] {
      auto a = alive.lock();
      if (!a || !*a) return;
      asio::post(ctx.strand(), [this, alive] {
        auto still = alive.lock();
        if (still && *still) SyncSystemPath();
      });
    });
    if (options_.link->wanted()) asio::post(ctx.strand(), [this] { SyncSystemPath(); });
  }
  if (!resolver_) return;
  if (system_) {
    doh_timer_ = std::make_unique<asio::steady_timer>(ctx.strand());
    ArmDohTimer();
  }
  if (teacher_) {
    std::weak_ptr<std::atomic<bool>> alive = alive_;
    teacher_->OnAllowedSitesChange([this, alive, &ctx] {
      auto a = alive.lock();
      if (!a || !*a) return;
      asio::post(ctx.strand(), [this, alive] {
        auto still = alive.lock();
        if (still && *still) ApplyOverrides();
      });
    });
    ApplyOverrides();
    teacher_->SetUrlCheck([this, alive, teacher = teacher_.get(),
                           clock = &ctx.clock()](const std::string& url) -> std::string {
      auto a = alive.lock();
      if (!a || !*a) return "";
      filter::Decision d = DecideUrl(url);
      if (!d.blocked) return "";
      auto parts = filter::SplitUrl(url);
      if (parts && teacher->IsSiteAllowed(parts->host, clock->NowUnixMs())) return "";
      return d.ToString();
    });
  }
}

void FilterPlugin::LoadPersisted() {
  std::error_code ec;
  if (!std::filesystem::exists(SnapshotPath(), ec)) return;
  auto snap = filter::Snapshot::LoadFile(SnapshotPath());
  if (!snap.ok()) {
    // A damaged file is worth nothing: the hello will say 0 and get a full snapshot.
    std::fprintf(stderr, "preau-agent: filter: dropping the saved snapshot: %s\n",
                 snap.status().message().c_str());
    std::filesystem::remove(SnapshotPath(), ec);
    return;
  }
  held_ = *snap;
  {
    std::lock_guard<std::mutex> lock(mu_);
    snapshot_ = held_;
  }
  version_ = held_->version();
  resolver_->UpdateSnapshot(held_);
}

void FilterPlugin::ApplyOverrides() {
  if (!resolver_ || !teacher_) return;
  std::vector<AllowOverride> overrides;
  for (const auto& s : teacher_->AllowedSites()) overrides.push_back({s.domain, s.until_unix_ms});
  Status st = resolver_->SetAllowOverrides(overrides);
  if (!st.ok()) std::fprintf(stderr, "preau-agent: filter: teacher's allowed sites: %s\n", st.message().c_str());
}

void FilterPlugin::FillHello(v1::Hello* hello) {
  if (resolver_) hello->set_filter_version(version_.load());
}

bool FilterPlugin::OnServerMessage(const v1::ServerMessage& msg) {
  if (!msg.has_filter()) return false;
  if (!resolver_ || stopping_) return true;
  const v1::FilterUpdate& u = msg.filter();
  if (u.version() == version_.load()) return true;
  wanted_ = u;
  resolver_->SetFailMode(u.fail_closed() ? FailMode::kClosed : FailMode::kOpen);
  fail_open_ = !u.fail_closed();
  if (system_ && system_->Engaged()) {
    Status recorded = system_->SetFailOpen(fail_open_);
    if (!recorded.ok()) std::fprintf(stderr, "preau-agent: filter: %s\n", recorded.message().c_str());
  }
  Status st = ctx_->state().Put(kFailClosedKey, u.fail_closed() ? "1" : "0");
  if (!st.ok()) std::fprintf(stderr, "preau-agent: filter: saving the fail mode: %s\n", st.message().c_str());
  backoff_ = std::chrono::milliseconds(0);
  StartFetch();
  return true;
}

void FilterPlugin::OnConnected() {
  if (wanted_ && !fetching_) StartFetch();
}

void FilterPlugin::StartFetch() {
  if (fetching_ || !wanted_ || stopping_) return;
  if (worker_.joinable()) worker_.join();  // the previous fetch has already posted its end
  fetching_ = true;
  v1::FilterUpdate update = *wanted_;
  fetcher_ = std::make_unique<PackageFetcher>(ctx_->channel(), FetchOptions{});
  std::weak_ptr<std::atomic<bool>> alive = alive_;
  Strand& strand = ctx_->strand();
  PackageFetcher* fetcher = fetcher_.get();
  std::string path = dir_ + "/" + update.sha256() + ".part";
  SnapshotPtr base = held_;
  worker_ = std::thread([this, update, fetcher, path, base, alive, &strand] {
    Status st = fetcher->Fetch(update.sha256(), update.size(), path, [](uint64_t) {});
    Result<SnapshotPtr> next = st.ok() ? Prepare(update, path, base) : Result<SnapshotPtr>(st);
    if (st.ok()) {
      std::error_code ec;
      std::filesystem::remove(path, ec);
    }
    asio::post(strand, [this, update, alive, next = std::move(next)]() mutable {
      auto a = alive.lock();
      if (a && *a) OnFetched(update, std::move(next));
    });
  });
}

Result<FilterPlugin::SnapshotPtr> FilterPlugin::Prepare(const v1::FilterUpdate& update,
                                                        const std::string& path,
                                                        const SnapshotPtr& base) const {
  SnapshotPtr next;
  if (update.base_version() != 0) {
    if (!base || base->version() != update.base_version()) {
      return FailedPrecondition("a delta on version " + std::to_string(update.base_version()) +
                                " came, but this device holds version " +
                                std::to_string(base ? base->version() : 0));
    }
    PREAU_ASSIGN_OR_RETURN(std::string delta, ReadFile(path));
    PREAU_ASSIGN_OR_RETURN(next, filter::ApplyDelta(*base, delta));
  } else {
    PREAU_ASSIGN_OR_RETURN(next, filter::Snapshot::LoadFile(path));  // no extra copy
  }
  if (next->version() != update.version()) {
    return DataLoss("the snapshot holds version " + std::to_string(next->version()) +
                    ", not " + std::to_string(update.version()) + " as announced");
  }
  PREAU_RETURN_IF_ERROR(next->WriteFile(SnapshotPath()));
  return next;
}

void FilterPlugin::OnFetched(const v1::FilterUpdate& update, Result<SnapshotPtr> next) {
  fetching_ = false;
  if (stopping_) return;
  bool newer_wanted = wanted_ && wanted_->sha256() != update.sha256();
  if (next.ok()) {
    Install(update, std::move(*next));
    if (!newer_wanted) wanted_.reset();
    backoff_ = std::chrono::milliseconds(0);
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_error_.clear();
    }
    ctx_->Resync();  // the server learns the version we hold (the base of the next delta)
  } else if (!newer_wanted) {
    const Status& st = next.status();
    // A delta on a base we no longer hold, or a snapshot the server has since purged (a
    // newer import came: the file is gone, or no longer one a device may fetch), cannot be
    // retried: ask for what we need now.
    if (st.code() == Code::kFailedPrecondition || st.code() == Code::kNotFound ||
        st.code() == Code::kPermissionDenied) {
      wanted_.reset();
      ctx_->Resync();
    }
    Retry(st.message());
    return;
  }
  if (newer_wanted) StartFetch();
}

void FilterPlugin::Install(const v1::FilterUpdate& update, SnapshotPtr next) {
  held_ = next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    snapshot_ = next;
  }
  resolver_->UpdateSnapshot(next);
  version_ = next->version();
  updates_applied_++;
  if (update.base_version() != 0) deltas_applied_++;
}

void FilterPlugin::Retry(const std::string& why) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_error_ = why;
  }
  std::fprintf(stderr, "preau-agent: filter update: %s\n", why.c_str());
  if (!wanted_ || stopping_) return;
  backoff_ = backoff_.count() == 0 ? options_.retry_min
                                   : std::min(backoff_ * 2, options_.retry_max);
  retry_timer_->expires_after(backoff_);
  std::weak_ptr<std::atomic<bool>> alive = alive_;
  retry_timer_->async_wait([this, alive](const boost::system::error_code& ec) {
    auto a = alive.lock();
    if (ec || !a || !*a) return;
    StartFetch();
  });
}

void FilterPlugin::Stop() {
  stopping_ = true;
  alive_->store(false);
  if (retry_timer_) retry_timer_->cancel();
  if (doh_timer_) doh_timer_->cancel();
  if (fetcher_) fetcher_->Cancel();
  if (worker_.joinable()) worker_.join();
  if (self_test_.joinable()) self_test_.join();
  doh_cancel_.store(true);
  if (doh_thread_.joinable()) doh_thread_.join();
  if (resolver_) resolver_->Stop();
  // The system is left as it is: the guard (or the unit's ExecStopPost) applies the fail
  // mode once this process is gone.
}

void FilterPlugin::OnRetired() {
  if (retired_) return;
  retired_ = true;
  std::fprintf(stderr, "preau-agent: filter: this device was retired\n");
  SyncSystemPath();
}

void FilterPlugin::SyncSystemPath() {
  if (stopping_ || !options_.link) return;
  std::optional<bool> wanted = options_.link->wanted();
  if (retired_) wanted = false;
  if (!wanted) return;
  if (!*wanted) {
    if (system_ && system_->Engaged()) {
      Status st = system_->Disengage();
      if (!st.ok()) {
        std::fprintf(stderr, "preau-agent: filter: putting the system back: %s\n", st.message().c_str());
      } else {
        std::fprintf(stderr, "preau-agent: filter: out of the system's DNS path (restored)\n");
      }
    }
    return;
  }
  if (!resolver_) {
    options_.link->SetOutcome({v1::RULE_FAILED, "resolver down: " + resolver_error_});
    return;
  }
  if (!system_) {
    options_.link->SetOutcome(
        {v1::RULE_FAILED, "the agent does not manage this device's DNS path (no agent.conf "
                          "system integration here), so nothing sends queries to the filter"});
    return;
  }
  // Once in the path the agent does not fight whoever changed resolv.conf or the firewall
  // since: the self-test finds it and the rule reports it, naming the cause, so that the
  // authority sees it (switching the filter off and on puts the agent back).
  if (!system_->Engaged()) {
    Status st = system_->Engage(listen_host_, fail_open_);
    if (!st.ok()) {
      options_.link->SetOutcome({v1::RULE_FAILED, "not in the DNS path: " + st.message()});
      return;
    }
    std::fprintf(stderr, "preau-agent: filter: in the system's DNS path at %s\n",
                 listen_host_.c_str());
  }
  if (!options_.guard_command.empty() && !FilterGuardAlive(guard_)) {
    auto guard = StartFilterGuard(options_.guard_command);
    if (guard.ok()) guard_ = *guard;
    else std::fprintf(stderr, "preau-agent: filter: %s\n", guard.status().message().c_str());
  }
  StartSelfTest();
}

void FilterPlugin::ArmDohTimer() {
  doh_timer_->expires_after(std::chrono::seconds(5));
  std::weak_ptr<std::atomic<bool>> alive = alive_;
  doh_timer_->async_wait([this, alive](const boost::system::error_code& ec) {
    auto a = alive.lock();
    if (ec || !a || !*a || stopping_) return;
    bool in_path = !retired_ && options_.link && options_.link->wanted() == true &&
                   system_->Engaged();
    if (in_path && resolver_ && !self_testing_ && broken_since_ &&
        std::chrono::steady_clock::now() - *broken_since_ >= options_.repair_after) {
      // Reported as failed for a while now: put the resolver and the table back.
      std::fprintf(stderr, "preau-agent: filter: back in the DNS path after: %s\n",
                   options_.link->outcome().reason.c_str());
      Status st = system_->Engage(listen_host_, fail_open_);
      if (!st.ok()) std::fprintf(stderr, "preau-agent: filter: %s\n", st.message().c_str());
      broken_since_ = std::chrono::steady_clock::now();  // at most one repair per period
      StartSelfTest();
    } else if (in_path && resolver_ &&
               (resolver_->DohNamesSeen().size() != doh_names_at_test_ ||
                version_.load() != version_at_test_ ||
                listed_doh_generation_.load() != listed_doh_generation_at_test_)) {
      StartSelfTest();
    }
    if (in_path && resolver_ && !doh_resolving_.load() && held_ && !upstreams_.empty() &&
        (held_->version() != listed_doh_version_ ||
         std::chrono::steady_clock::now() - listed_doh_at_ >= options_.doh_refresh)) {
      StartListedDohRefresh();
    }
    ArmDohTimer();
  });
}

void FilterPlugin::StartListedDohRefresh() {
  if (doh_thread_.joinable()) doh_thread_.join();  // finished: doh_resolving_ is false
  SnapshotPtr snapshot = held_;
  listed_doh_version_ = snapshot->version();
  listed_doh_at_ = std::chrono::steady_clock::now();
  std::string upstream = upstreams_.front();
  uint32_t mark = options_.system && options_.system->firewall ? kAgentSocketMark : 0;
  doh_resolving_.store(true);
  doh_thread_ = std::thread([this, snapshot, upstream, mark] {
    std::vector<std::string> got = ResolveDohAddresses(snapshot->NamesIn("doh"), *snapshot,
                                                       upstream, mark, 1000, 32, &doh_cancel_);
    {
      std::lock_guard<std::mutex> lock(doh_mu_);
      listed_doh_addresses_ = std::move(got);
    }
    ++listed_doh_generation_;  // the timer runs a self-test, which loads them
    doh_resolving_.store(false);
  });
}

void FilterPlugin::StartSelfTest() {
  if (self_testing_ || stopping_) return;
  if (self_test_.joinable()) self_test_.join();  // the previous one has posted its end
  self_testing_ = true;
  SelfTestOptions o;
  o.name = SelfTestName(ctx_->identity().device_id, ctx_->clock().NowUnixMs());
  o.outside_resolver = options_.self_test_resolver;
  if (o.outside_resolver.empty() && !upstreams_.empty()) o.outside_resolver = upstreams_.front();
  uint64_t before = resolver_->Stats().self_tests;
  std::weak_ptr<std::atomic<bool>> alive = alive_;
  Strand& strand = ctx_->strand();
  FilterSystemPath* system = system_.get();
  std::string host = listen_host_;
  std::vector<std::string> candidates = WellKnownDohEndpoints();
  std::vector<std::string> seen = resolver_->DohNamesSeen();
  doh_names_at_test_ = seen.size();
  version_at_test_ = version_.load();
  listed_doh_generation_at_test_ = listed_doh_generation_.load();
  candidates.insert(candidates.end(), seen.begin(), seen.end());
  SnapshotPtr snapshot = held_;
  std::string upstream = upstreams_.empty() ? "" : upstreams_.front();
  uint32_t mark = options_.system && options_.system->firewall ? kAgentSocketMark : 0;
  self_test_ = std::thread([this, o, before, alive, &strand, system, host, candidates, snapshot,
                            upstream, mark] {
    if (snapshot && !upstream.empty()) {
      std::vector<std::string> addresses =
          ResolveDohAddresses(candidates, *snapshot, upstream, mark);
      {
        std::lock_guard<std::mutex> lock(doh_mu_);
        addresses.insert(addresses.end(), listed_doh_addresses_.begin(),
                         listed_doh_addresses_.end());
      }
      std::sort(addresses.begin(), addresses.end());
      addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
      Status doh = system->SetDohAddresses(host, std::move(addresses));
      if (!doh.ok()) std::fprintf(stderr, "preau-agent: filter: DoH addresses: %s\n", doh.message().c_str());
    }
    SelfTestProbe probe = RunSelfTestProbe(o);
    Status check = system->Check(host);
    asio::post(strand, [this, alive, o, before, probe, check] {
      auto a = alive.lock();
      if (a && *a) FinishSelfTest(o.name, before, probe, check);
    });
  });
}

void FilterPlugin::FinishSelfTest(const std::string& name, uint64_t seen_before,
                                  const SelfTestProbe& probe, const Status& check) {
  self_testing_ = false;
  if (!resolver_ || stopping_) return;
  DnsResolverStats stats = resolver_->Stats();
  bool reached = stats.self_tests > seen_before && stats.last_self_test == name;
  std::string outside = options_.self_test_resolver.empty() && !upstreams_.empty()
                            ? upstreams_.front() : options_.self_test_resolver;
  WebFilterLink::Outcome o;
  o.outcome = v1::RULE_FAILED;
  if (!check.ok()) {
    o.reason = check.message();
  } else if (!held_) {
    // In the path but with no lists, the resolver filters nothing: not applied until the
    // server's snapshot is in force (its arrival starts another self-test).
    o.reason = std::string("no filter lists yet: the server's snapshot has not arrived (") +
               (fail_open_ ? "names resolve unfiltered meanwhile)" : "names are refused meanwhile)");
  } else if (!reached) {
    o.reason = "another resolver is in the path: " + name + " asked through the system's "
               "resolver did not reach the agent" +
               (probe.resolved ? " (something else answered it)" : " (" + probe.resolve_error + ")");
  } else if (outside.empty()) {
    o.reason = "no outside resolver to test the firewall against (no upstream known; set "
               "self_test_resolver in agent.conf)";
  } else if (probe.outside_answered) {
    o.reason = "firewall missing: " + outside + " answered a direct query on port 53";
  } else {
    o.outcome = v1::RULE_APPLIED;
    // No name or hour in the reason: a new hour must not look like a change.
    o.reason = "in the DNS path; a direct query to " + outside +
               (probe.outside_refused ? " was refused" : " got no answer");
  }
  if (o.outcome == v1::RULE_APPLIED) {
    broken_since_.reset();
  } else if (!broken_since_) {
    broken_since_ = std::chrono::steady_clock::now();
  }
  options_.link->SetOutcome(o);
}

uint16_t FilterPlugin::port() const { return resolver_ ? resolver_->port() : 0; }

std::map<std::string, uint64_t> FilterPlugin::BlockedCounts() const {
  return resolver_ ? resolver_->BlockedCounts() : std::map<std::string, uint64_t>{};
}

DnsResolverStats FilterPlugin::Stats() const {
  return resolver_ ? resolver_->Stats() : DnsResolverStats{};
}

filter::Decision FilterPlugin::DecideUrl(const std::string& url) const {
  std::shared_ptr<const filter::Snapshot> snap;
  {
    std::lock_guard<std::mutex> lock(mu_);
    snap = snapshot_;
  }
  if (!snap) return {};
  return snap->DecideUrl(url);
}

std::string FilterPlugin::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

}  // namespace preau::agent

namespace preau::agent {

std::unique_ptr<FilterPlugin> MakeFilterPlugin(std::shared_ptr<TeacherState> teacher,
                                               std::shared_ptr<WebFilterLink> link,
                                               const std::string& dns_listen,
                                               const std::string& state_dir,
                                               const AgentConfig* config,
                                               std::vector<std::string> guard_command) {
  FilterPluginOptions o;
  o.listen = dns_listen;
  o.link = std::move(link);
  bool on_disk = !state_dir.empty() && state_dir != kInMemoryState;
  if (on_disk) o.dir = FilterDirFor(state_dir, "");
  if (config && on_disk) {
    o.upstreams = config->upstreams;
    o.self_test_resolver = config->self_test_resolver;
    o.repair_after = std::chrono::seconds(config->repair_after_seconds);
    auto system = SystemPathOptionsFrom(*config, o.dir);
    if (system.ok()) o.system = *system;  // the config was checked when it was read
    o.guard_command = std::move(guard_command);
  }
  return std::make_unique<FilterPlugin>(std::move(teacher), std::move(o));
}

}  // namespace preau::agent

#include "server/fleet/replicas.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <tuple>

#include "common/pki.h"
#include "server/store/postgres_db.h"

namespace preau::server {

namespace {
constexpr const char* kRelayChannel = "preau_relay";  // payload: the replica to read its rows
constexpr const char* kAckChannel = "preau_ack";      // payload: see AckPayload
// NOTIFY's payload must stay under 8000 bytes.
constexpr size_t kMaxNotifyBytes = 7900;
// Rows for a replica that never read them (it died) are dropped after this.
constexpr int64_t kRelayKeepMs = 60'000;
// A device that left keeps a row with no replica this long, so that every replica reads
// that it left; so long too are a dead replica's rows kept (they count offline at once).
constexpr int64_t kGoneKeepMs = 60'000;
// Each read of the changed presence rows goes back this far before the last one: a row
// is stamped when written and seen once committed, a little later.
constexpr int64_t kChangesOverlapMs = 5'000;
// The store's clock in ms: every replica stamps and compares with the same clock.
#define PREAU_DB_NOW_MS "(extract(epoch from clock_timestamp()) * 1000)::bigint"

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string DefaultName() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "server");
  return std::string(host) + "-" + std::to_string(getpid()) + "-" + pki::RandomHex(3);
}

// "origin \t device \t command \t result \t detail": text only (a payload may not hold NUL).
std::string AckPayload(const std::string& origin, const std::string& device_id,
                       const v1::CommandAck& ack) {
  std::string head = origin + "\t" + device_id + "\t" + ack.command_id() + "\t" +
                     std::to_string(static_cast<int>(ack.result())) + "\t";
  if (head.size() + ack.detail().size() > kMaxNotifyBytes) return head;  // the store has it
  return head + ack.detail();
}
}  // namespace

Result<std::unique_ptr<Replicas>> Replicas::Start(ReplicaOptions opts, Connections& connections,
                                                  const Clock& clock, AckHandler on_ack) {
  if (opts.name.empty()) opts.name = DefaultName();
  PREAU_ASSIGN_OR_RETURN(auto db, PostgresDb::Connect(opts.store_url));
  std::unique_ptr<Replicas> r(
      new Replicas(std::move(opts), connections, clock, std::move(on_ack), std::move(db)));
  if (pipe2(r->wake_, O_NONBLOCK | O_CLOEXEC) != 0) {
    return Internal("creating the replica's wake-up pipe failed");
  }
  // Before any stream is let in: a store that refuses us is an error at start, not later.
  PREAU_RETURN_IF_ERROR(r->Heartbeat());
  PREAU_RETURN_IF_ERROR(r->RefreshSnapshot(/*full=*/true));
  connections.SetRemote(r.get());
  r->thread_ = std::thread([p = r.get()] { p->Loop(); });
  return r;
}

Replicas::Replicas(ReplicaOptions opts, Connections& connections, const Clock& clock,
                   AckHandler on_ack, std::unique_ptr<PostgresDb> db)
    : opts_(std::move(opts)),
      connections_(connections),
      clock_(clock),
      on_ack_(std::move(on_ack)),
      db_(std::move(db)) {}

void Replicas::Stop() {
  stop_ = true;
  if (thread_.joinable()) {
    Wake();
    thread_.join();
  }
}

Replicas::~Replicas() {
  connections_.SetRemote(nullptr);
  Stop();
  if (db_) {
    (void)Flush();
    // Not alive any more: the others count its devices offline at their next read.
    for (const char* sql : {"DELETE FROM replica_heartbeats WHERE replica = ?",
                            "DELETE FROM device_presence WHERE replica = ?"}) {
      auto del = db_->Prepare(sql);
      if (del.ok()) {
        del->Bind(1, opts_.name);
        (void)del->Run();
      }
    }
  }
  for (int fd : wake_) {
    if (fd >= 0) ::close(fd);
  }
}

void Replicas::Wake() {
  char c = 1;
  (void)!::write(wake_[1], &c, 1);  // a full pipe already wakes the thread
}

void Replicas::Joined(const std::string& device_id) {
  std::lock_guard<std::mutex> lock(mu_);
  presence_.emplace_back(device_id, true);
  remote_.erase(device_id);  // here now, whatever the last snapshot said
  Wake();
}

void Replicas::Left(const std::string& device_id) {
  std::lock_guard<std::mutex> lock(mu_);
  presence_.emplace_back(device_id, false);
  Wake();
}

const std::string* Replicas::HolderLocked(const std::string& device_id) const {
  auto it = remote_.find(device_id);
  if (it == remote_.end() || alive_.count(it->second) == 0) return nullptr;
  return &it->second;
}

bool Replicas::Online(const std::string& device_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return HolderLocked(device_id) != nullptr;
}

bool Replicas::Send(const std::string& device_id, const v1::ServerMessage& msg) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string* holder = HolderLocked(device_id);
  if (!holder) return false;
  relay_.push_back({*holder, device_id, msg.SerializeAsString(), -1});
  Wake();
  return true;
}

bool Replicas::Close(const std::string& device_id, const grpc::Status& status) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string* holder = HolderLocked(device_id);
  if (!holder) return false;
  relay_.push_back({*holder, device_id, status.error_message(),
                    static_cast<int>(status.error_code())});
  Wake();
  return true;
}

void Replicas::ShareAck(const std::string& device_id, const v1::CommandAck& ack) {
  std::lock_guard<std::mutex> lock(mu_);
  acks_.push_back(AckPayload(opts_.name, device_id, ack));
  Wake();
}

void Replicas::Loop() {
  int64_t next_heartbeat = SteadyMs() + opts_.heartbeat_ms;
  int64_t next_snapshot = SteadyMs() + opts_.snapshot_ms;
  int64_t next_full = SteadyMs() + opts_.full_snapshot_ms;
  int64_t last_error_log = 0;
  auto report = [&](const Status& st, const char* what) {
    if (st.ok()) return;
    // A store that is down says so every 10 s, not on every turn of the loop.
    if (SteadyMs() - last_error_log < 10'000) return;
    last_error_log = SteadyMs();
    std::fprintf(stderr, "preau-server: replica %s: %s: %s\n", opts_.name.c_str(), what,
                 st.message().c_str());
  };
  while (!stop_) {
    report(Flush(), "writing presence and relays");
    if (SteadyMs() >= next_snapshot) {
      bool full = SteadyMs() >= next_full;
      report(RefreshSnapshot(full), "reading the other replicas' devices");
      next_snapshot = SteadyMs() + opts_.snapshot_ms;
      if (full) next_full = SteadyMs() + opts_.full_snapshot_ms;
    }
    if (SteadyMs() >= next_heartbeat) {
      report(Heartbeat(), "refreshing presence");
      next_heartbeat = SteadyMs() + opts_.heartbeat_ms;
    }
    // Before sleeping: a notification that came while a query ran is already in libpq's
    // buffer, and the socket will not wake us for it (it waited up to a second).
    auto notes = db_->TakeNotifications();
    report(notes.status(), "reading notifications");
    if (notes.ok() && !notes->empty()) {
      bool relayed = false;
      for (const auto& n : *notes) {
        if (n.channel == kRelayChannel && n.payload == opts_.name) relayed = true;
        if (n.channel == kAckChannel) OnAckNotice(n.payload);
      }
      if (relayed) report(TakeRelayed(), "taking relayed messages");
      continue;  // what that queued is written, and what came meanwhile read, at once
    }
    int64_t wait = std::clamp<int64_t>(std::min(next_heartbeat, next_snapshot) - SteadyMs(), 0, 1000);
    pollfd fds[2] = {{wake_[0], POLLIN, 0}, {db_->Socket(), POLLIN, 0}};
    ::poll(fds, fds[1].fd >= 0 ? 2 : 1, static_cast<int>(wait));
    char buf[256];
    while (::read(wake_[0], buf, sizeof buf) > 0) {
    }
  }
}

Status Replicas::Listen() {
  return db_->Exec(std::string("LISTEN ") + kRelayChannel + "; LISTEN " + kAckChannel);
}

Status Replicas::Flush() {
  std::vector<std::pair<std::string, bool>> presence;
  std::vector<Relay> relay;
  std::vector<std::string> acks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    presence.swap(presence_);
    relay.swap(relay_);
    acks.swap(acks_);
  }
  if (presence.empty() && relay.empty() && acks.empty()) return Status::Ok();
  int64_t now = clock_.NowUnixMs();
  auto write = [&]() -> Status {
    for (const auto& [device_id, joined] : presence) {
      // A device that left keeps its row with no replica (read as gone by the others).
      PREAU_ASSIGN_OR_RETURN(
          auto s, db_->Prepare(joined ? "INSERT INTO device_presence(device_id, replica, "
                                        "changed_ms) VALUES (?1, ?2, " PREAU_DB_NOW_MS ") "
                                        "ON CONFLICT(device_id) DO UPDATE SET replica = "
                                        "excluded.replica, changed_ms = excluded.changed_ms"
                                      : "UPDATE device_presence SET replica = '', changed_ms = "
                                        PREAU_DB_NOW_MS " WHERE device_id = ?1 AND replica = ?2"));
      s.Bind(1, device_id).Bind(2, opts_.name);
      PREAU_RETURN_IF_ERROR(s.Run());
    }
    std::set<std::string> to_wake;
    for (const auto& r : relay) {
      PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare("INSERT INTO replica_relay(replica, device_id, "
                                                  "body, close_code, created_ms) VALUES "
                                                  "(?, ?, ?, ?, ?)"));
      s.Bind(1, r.replica).Bind(2, r.device_id).BindBlob(3, r.body).Bind(4, r.close_code);
      s.Bind(5, now);
      PREAU_RETURN_IF_ERROR(s.Run());
      to_wake.insert(r.replica);
    }
    // NOTIFY inside the transaction: the other replica hears of the rows once they are there.
    auto notify = [&](const char* channel, const std::string& payload) -> Status {
      PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare("SELECT pg_notify(?, ?)"));
      s.Bind(1, std::string(channel)).Bind(2, payload);
      return s.Step().status();
    };
    for (const auto& replica : to_wake) PREAU_RETURN_IF_ERROR(notify(kRelayChannel, replica));
    for (const auto& payload : acks) PREAU_RETURN_IF_ERROR(notify(kAckChannel, payload));
    return Status::Ok();
  };
  Status st = db_->Transaction(write);  // run again by SqlDb if it met another replica's
  if (!st.ok()) {
    // Presence must not be lost (a device would stay offline, or online, wrongly): it is
    // tried again on the next turn. Relays and acks are best effort (see RemoteDevices).
    std::lock_guard<std::mutex> lock(mu_);
    presence_.insert(presence_.begin(), presence.begin(), presence.end());
  }
  return st;
}

Status Replicas::Heartbeat() {
  // LISTEN again each time: a connection that was lost and opened again listens anew.
  PREAU_RETURN_IF_ERROR(Listen());
  PREAU_ASSIGN_OR_RETURN(auto beat, db_->Prepare("INSERT INTO replica_heartbeats(replica, expires_ms) "
                                                 "VALUES (?1, " PREAU_DB_NOW_MS " + ?2) "
                                                 "ON CONFLICT(replica) DO UPDATE SET "
                                                 "expires_ms = excluded.expires_ms"));
  beat.Bind(1, opts_.name).Bind(2, opts_.presence_ttl_ms);
  PREAU_RETURN_IF_ERROR(beat.Run());
  // What no replica needs any more: devices gone for a while, replicas dead for a while
  // (their devices counted offline since their heartbeat expired), relays never read.
  for (const char* sql :
       {"DELETE FROM device_presence WHERE replica = '' AND changed_ms < " PREAU_DB_NOW_MS " - ?",
        "DELETE FROM device_presence WHERE replica IN (SELECT replica FROM replica_heartbeats "
        "WHERE expires_ms < " PREAU_DB_NOW_MS " - ?)",
        "DELETE FROM replica_heartbeats WHERE expires_ms < " PREAU_DB_NOW_MS " - ?"}) {
    PREAU_ASSIGN_OR_RETURN(auto purge, db_->Prepare(sql));
    purge.Bind(1, kGoneKeepMs);
    PREAU_RETURN_IF_ERROR(purge.Run());
  }
  PREAU_ASSIGN_OR_RETURN(auto stale, db_->Prepare("DELETE FROM replica_relay WHERE created_ms < ?"));
  stale.Bind(1, clock_.NowUnixMs() - kRelayKeepMs);
  PREAU_RETURN_IF_ERROR(stale.Run());
  // A notice missed while the connection was down: the rows are still there.
  return TakeRelayed();
}

Status Replicas::RefreshSnapshot(bool full) {
  PREAU_ASSIGN_OR_RETURN(auto clock, db_->Prepare("SELECT " PREAU_DB_NOW_MS));
  PREAU_ASSIGN_OR_RETURN(bool has_now, clock.Step());
  if (!has_now) return Internal("the store did not say what time it is");
  const int64_t db_now = clock.Int(0);
  PREAU_ASSIGN_OR_RETURN(auto live, db_->Prepare("SELECT replica FROM replica_heartbeats "
                                                 "WHERE expires_ms > ?"));
  live.Bind(1, db_now);
  std::unordered_set<std::string> alive;
  while (true) {
    PREAU_ASSIGN_OR_RETURN(bool row, live.Step());
    if (!row) break;
    alive.insert(live.Text(0));
  }
  PREAU_ASSIGN_OR_RETURN(auto q, db_->Prepare(full ? "SELECT device_id, replica FROM device_presence "
                                                     "WHERE replica <> ''"
                                                   : "SELECT device_id, replica FROM device_presence "
                                                     "WHERE changed_ms > ?"));
  if (!full) q.Bind(1, changes_since_ms_);
  std::vector<std::pair<std::string, std::string>> rows;
  while (true) {
    PREAU_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    rows.emplace_back(q.Text(0), q.Text(1));
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (full) remote_.clear();
  for (auto& [device_id, replica] : rows) {
    // Gone, or ours (Connections knows its own devices).
    if (replica.empty() || replica == opts_.name) {
      remote_.erase(device_id);
    } else {
      remote_[device_id] = std::move(replica);
    }
  }
  alive_.swap(alive);
  changes_since_ms_ = db_now - kChangesOverlapMs;
  return Status::Ok();
}

Status Replicas::TakeRelayed() {
  PREAU_ASSIGN_OR_RETURN(auto q, db_->Prepare("DELETE FROM replica_relay WHERE replica = ? "
                                              "RETURNING id, device_id, body, close_code"));
  q.Bind(1, opts_.name);
  std::vector<std::tuple<int64_t, std::string, std::string, int>> rows;
  while (true) {
    PREAU_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    rows.emplace_back(q.Int(0), q.Text(1), q.Blob(2), static_cast<int>(q.Int(3)));
  }
  std::sort(rows.begin(), rows.end());  // in the order they were sent
  for (const auto& [id, device_id, body, close_code] : rows) {
    if (close_code >= 0) {
      connections_.CloseHere(device_id,
                             grpc::Status(static_cast<grpc::StatusCode>(close_code), body));
      continue;
    }
    v1::ServerMessage msg;
    // Not here (any more): it finds what it must have when it says hello again.
    if (msg.ParseFromString(body)) (void)connections_.SendHere(device_id, msg);
  }
  return Status::Ok();
}

void Replicas::OnAckNotice(const std::string& payload) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (int i = 0; i < 4; ++i) {
    size_t tab = payload.find('\t', start);
    if (tab == std::string::npos) return;  // not ours
    parts.push_back(payload.substr(start, tab - start));
    start = tab + 1;
  }
  if (parts[0] == opts_.name || !on_ack_) return;  // our own, already heard
  v1::CommandAck ack;
  ack.set_command_id(parts[2]);
  ack.set_result(static_cast<v1::AckResult>(std::atoi(parts[3].c_str())));
  ack.set_detail(payload.substr(start));
  on_ack_(parts[1], ack);
}

}  // namespace preau::server

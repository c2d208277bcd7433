#include "server/reports/usage_ingest.h"

#include "server/reports/civil_date.h"

#include <future>

namespace preau::server {

namespace {
Status CheckName(const std::string& name, const std::string& what, const std::string& day) {
  if (name.empty()) return InvalidArgument("usage of " + day + ": empty " + what);
  if (name.size() > kMaxNameBytes) {
    return InvalidArgument("usage of " + day + ": " + what + " longer than 200 bytes");
  }
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20) {
      return InvalidArgument("usage of " + day + ": control character in " + what);
    }
  }
  return Status::Ok();
}
}  // namespace

Status ValidateUsageBatch(const v1::UsageBatch& batch, int64_t now_ms) {
  const std::string latest = CivilDate::FromUnixMs(now_ms + kMaxLocalAheadOfUtcMs).ToString();
  if (batch.days_size() > kMaxDaysPerBatch) {
    return InvalidArgument("usage batch holds " + std::to_string(batch.days_size()) +
                           " days; at most 400 per batch");
  }
  for (const auto& d : batch.days()) {
    if (!CivilDate::Parse(d.day())) {
      return InvalidArgument("usage day '" + d.day() + "' is not a date (YYYY-MM-DD)");
    }
    if (d.day() > latest) {
      return InvalidArgument("usage of " + d.day() + " is dated after the server's date (" +
                             CivilDate::FromUnixMs(now_ms).ToString() +
                             " UTC): the device's clock is ahead; set it right");
    }
    if (d.screen_on_minutes() > kMinutesPerDay) {
      return InvalidArgument("usage of " + d.day() + ": screen_on_minutes over 1440");
    }
    if (d.apps_size() > kMaxAppsPerDay) {
      return InvalidArgument("usage of " + d.day() + ": more than 500 apps");
    }
    if (d.blocked_size() > kMaxCategoriesPerDay) {
      return InvalidArgument("usage of " + d.day() + ": more than 200 blocked categories");
    }
    for (const auto& a : d.apps()) {
      PREAU_RETURN_IF_ERROR(CheckName(a.app(), "app id", d.day()));
      if (a.app().find('/') != std::string::npos) {
        return InvalidArgument("usage of " + d.day() + ": app id '" + a.app() +
                               "' looks like a path or address; send the app's id");
      }
      if (a.foreground_minutes() > kMinutesPerDay) {
        return InvalidArgument("usage of " + d.day() + ": " + a.app() + " over 1440 minutes");
      }
    }
    for (const auto& b : d.blocked()) {
      PREAU_RETURN_IF_ERROR(CheckName(b.category(), "blocked category", d.day()));
      // Counts per category only: a name with a dot or a slash would be a site visited.
      if (b.category().find_first_of("./:") != std::string::npos) {
        return InvalidArgument("usage of " + d.day() + ": blocked category '" + b.category() +
                               "' looks like a site name; only filter categories are kept");
      }
    }
  }
  return Status::Ok();
}

void UsageIngest::OnMessageAsync(const std::string& device_id, const v1::AgentMessage& msg,
                                 std::function<void(const Status&)> done) {
  if (msg.id().empty() || msg.id().size() > 128) {
    done(InvalidArgument("a usage batch needs an id of 1 to 128 bytes"));
    return;
  }
  if (Status st = ValidateUsageBatch(msg.usage(), core_.Now()); !st.ok()) {
    done(st);
    return;
  }
  auto mine = std::make_unique<Pending>();
  mine->msg = msg;
  mine->usage = {device_id, mine->msg.id(), &mine->msg.usage()};
  mine->done = std::move(done);
  std::unique_lock<std::mutex> lock(mu_);
  queue_.push_back(std::move(mine));
  if (committing_) return;  // the running commit loop will take it
  committing_ = true;
  while (!queue_.empty()) {
    std::vector<std::unique_ptr<Pending>> batch;
    batch.swap(queue_);
    lock.unlock();
    std::vector<IncomingUsage> rows;
    rows.reserve(batch.size());
    for (const auto& p : batch) rows.push_back(p->usage);
    int64_t now = core_.Now();
    std::string cutoff =
        CivilDate::FromUnixMs(now).MinusMonths(retention_months_.load()).ToString();
    Status st = store_.StoreBatches(rows, cutoff, now);
    for (const auto& p : batch) p->done(st);
    lock.lock();
    stats_.batches += batch.size();
    ++stats_.transactions;
  }
  committing_ = false;
}

Status UsageIngest::OnMessage(const std::string& device_id, const v1::AgentMessage& msg) {
  std::promise<Status> stored;
  OnMessageAsync(device_id, msg, [&stored](const Status& st) { stored.set_value(st); });
  return stored.get_future().get();
}

UsageIngest::Stats UsageIngest::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace preau::server

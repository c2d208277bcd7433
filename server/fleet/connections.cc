#include "server/fleet/connections.h"

#include <algorithm>

namespace preau::server {

std::string Connections::Add(const std::string& device_id, const std::string& peer,
                             std::shared_ptr<DeviceLink> link) {
  std::shared_ptr<DeviceLink> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = links_[device_id];
    std::string& slot_peer = peers_[device_id];
    if (slot && slot_peer != peer) return slot_peer.empty() ? "another connection" : slot_peer;
    old = std::move(slot);
    slot = std::move(link);
    slot_peer = peer;
    foreground_.erase(device_id);  // the new stream says it again
    // Under the lock, so that the replicas hear comings and goings in the order they
    // happened (a Left after the next Joined would leave a connected device offline).
    if (auto* remote = remote_.load()) remote->Joined(device_id);
  }
  if (old) old->Close(grpc::Status(grpc::StatusCode::ABORTED, "replaced by a newer stream"));
  return "";
}

void Connections::Remove(const std::string& device_id, const DeviceLink* link) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = links_.find(device_id);
    if (it == links_.end() || it->second.get() != link) return;
    links_.erase(it);
    peers_.erase(device_id);
    clones_.erase(device_id);
    foreground_.erase(device_id);
    if (auto* remote = remote_.load()) remote->Left(device_id);
  }
}

bool Connections::SetForegroundApp(const std::string& device_id, const DeviceLink* link,
                                   const std::string& app) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = links_.find(device_id);
  if (it == links_.end() || it->second.get() != link) return false;
  if (app.empty()) return foreground_.erase(device_id) > 0;
  std::string& slot = foreground_[device_id];
  if (slot == app) return false;
  slot = app;
  return true;
}

std::string Connections::ForegroundApp(const std::string& device_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = foreground_.find(device_id);
  return it == foreground_.end() ? "" : it->second;
}

bool Connections::ConfirmClone(const std::string& device_id, int64_t now_ms,
                               int64_t confirm_ms, int64_t interval_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto link = links_.find(device_id);
  if (link == links_.end()) return false;
  CloneSuspicion& c = clones_[device_id];
  if (c.first != link->second.get()) c = {link->second.get(), now_ms, 0};
  if (now_ms - c.since_ms < confirm_ms) return false;
  if (c.reported_ms != 0 && now_ms - c.reported_ms < interval_ms) return false;
  c.reported_ms = now_ms;
  return true;
}

std::shared_ptr<DeviceLink> Connections::Find(const std::string& device_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = links_.find(device_id);
  return it == links_.end() ? nullptr : it->second;
}

bool Connections::Online(const std::string& device_id) const {
  if (Find(device_id)) return true;
  auto* remote = remote_.load();
  return remote && remote->Online(device_id);
}

bool Connections::Send(const std::string& device_id, const v1::ServerMessage& msg) {
  if (SendHere(device_id, msg)) return true;
  auto* remote = remote_.load();
  return remote && remote->Send(device_id, msg);
}

void Connections::Close(const std::string& device_id, const grpc::Status& status) {
  if (auto link = Find(device_id)) {
    link->Close(status);
  } else if (auto* remote = remote_.load()) {
    remote->Close(device_id, status);
  }
}

bool Connections::SendHere(const std::string& device_id, const v1::ServerMessage& msg) {
  auto link = Find(device_id);
  if (!link) return false;
  link->Send(msg);
  return true;
}

void Connections::CloseHere(const std::string& device_id, const grpc::Status& status) {
  if (auto link = Find(device_id)) link->Close(status);
}

void Connections::ShareAck(const std::string& device_id, const v1::CommandAck& ack) {
  if (auto* remote = remote_.load()) remote->ShareAck(device_id, ack);
}

void Connections::CloseAll(const grpc::Status& status, double per_second) {
  std::vector<std::shared_ptr<DeviceLink>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, link] : links_) all.push_back(link);
    closed_ = true;
    reopen_ = std::chrono::steady_clock::now() +
              std::chrono::milliseconds(per_second > 0 ? static_cast<int64_t>(
                                                             1000.0 * all.size() / per_second)
                                                       : 0);
  }
  for (size_t i = 0; i < all.size(); ++i) {
    if (per_second > 0) {
      // The first right away (1 ms: a hint of 0 means none), the others in turn.
      all[i]->CloseUntil(status, 1 + static_cast<int64_t>(1000.0 * i / per_second));
    } else {
      all[i]->Close(status);
    }
  }
}

int64_t Connections::ClosedFor() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!closed_) return 0;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  reopen_ - std::chrono::steady_clock::now())
                  .count();
  return std::max<int64_t>(1, left);
}

size_t Connections::Count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return links_.size();
}

}  // namespace preau::server

#include "server/catalog/catalog_publisher.h"

#include <cstdio>
#include <map>

#include "common/pki.h"
#include "server/policy/policy_publisher.h"

namespace preau::server {

uint64_t CatalogVersion(const v1::CatalogUpdate& update) {
  if (update.apps_size() == 0) return 0;
  std::string content;
  for (const auto& app : update.apps()) content += app.SerializeAsString() + '\n';
  std::string hex = pki::Sha256Hex(content);
  uint64_t v = std::stoull(hex.substr(0, 15), nullptr, 16);  // 60 bits: safe in JSON too
  return v == 0 ? 1 : v;
}

Result<v1::CatalogUpdate> CatalogPublisher::Resolve(const std::string& group) {
  std::vector<std::string> chain = GroupChain(group);
  PREAU_ASSIGN_OR_RETURN(auto rows, store_.AssignmentsAt(chain));
  // Rows come farthest group first: a closer group's assignment overwrites the app's entry.
  std::map<std::string, v1::AssignedApp> apps;
  for (const auto& r : rows) {
    const v1::AppMetadata& m = r.version.metadata();
    v1::AssignedApp a;
    a.set_app_id(m.name());
    a.set_version(m.version());
    a.set_sha256(r.version.sha256());
    a.set_size(r.version.size());
    a.set_required(r.assignment.required());
    a.set_platform(m.platform());
    a.set_title(m.title().empty() ? m.name() : m.title());
    apps[m.name()] = std::move(a);
  }
  v1::CatalogUpdate update;
  for (auto& [name, app] : apps) *update.add_apps() = std::move(app);
  update.set_version(CatalogVersion(update));
  return update;
}

void CatalogPublisher::OnHello(const std::string& device_id, uint64_t held_version) {
  auto device = core_.store->GetDevice(device_id);
  if (!device.ok()) return;
  auto update = Resolve(device->group);
  if (!update.ok()) {
    std::fprintf(stderr, "preau-server: catalogue of %s: %s\n", device_id.c_str(),
                 update.status().message().c_str());
    return;
  }
  if (update->version() == held_version) return;
  v1::ServerMessage msg;
  *msg.mutable_catalog() = std::move(update).value();
  core_.connections.Send(device_id, msg);
}

void CatalogPublisher::PushToGroup(const std::string& group) {
  auto devices = core_.store->ListDevices(group, /*include_retired=*/false);
  if (!devices.ok()) return;
  std::map<std::string, v1::ServerMessage> by_group;  // one resolution per group
  for (const auto& d : *devices) {
    if (!core_.connections.Online(d.id)) continue;
    auto it = by_group.find(d.group);
    if (it == by_group.end()) {
      auto update = Resolve(d.group);
      if (!update.ok()) continue;
      v1::ServerMessage msg;
      *msg.mutable_catalog() = std::move(update).value();
      it = by_group.emplace(d.group, std::move(msg)).first;
    }
    core_.connections.Send(d.id, it->second);
  }
}

}  // namespace preau::server

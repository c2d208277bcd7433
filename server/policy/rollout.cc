#include "server/policy/rollout.h"

#include <algorithm>
#include <utility>

#include "common/pki.h"

namespace preau::server {

size_t RolloutCount(size_t devices, uint32_t percent) {
  if (percent >= 100) return devices;
  return (devices * percent + 99) / 100;
}

std::string RolloutOrderKey(const std::string& policy_name, const std::string& device_id) {
  return pki::Sha256Hex(policy_name + "/" + device_id);
}

std::set<std::string> SelectRollout(const std::string& policy_name,
                                    const std::vector<std::string>& group_devices,
                                    uint32_t percent, const std::set<std::string>& already) {
  std::vector<std::pair<std::string, std::string>> ordered;  // (order key, device id)
  ordered.reserve(group_devices.size());
  for (const auto& id : group_devices) ordered.emplace_back(RolloutOrderKey(policy_name, id), id);
  std::sort(ordered.begin(), ordered.end());
  std::set<std::string> picked = already;
  size_t in_group = 0;  // `already` may name devices that have left the group since
  for (const auto& id : group_devices) in_group += already.count(id);
  size_t want = RolloutCount(group_devices.size(), percent);
  for (const auto& [key, id] : ordered) {
    if (in_group >= want) break;
    if (picked.insert(id).second) ++in_group;
  }
  return picked;
}

}  // namespace preau::server

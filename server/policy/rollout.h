// Rollout: which devices of a group a staged rollout reaches.
//
// The rule, stated once: a rollout of P % over a group of N devices (the group and every
// group below it, retired devices excluded) reaches ceil(P × N / 100) of them — 10 % of 20
// is 2, 10 % of 25 is 3, and any P > 0 reaches at least one device. The devices are taken
// in a stable order: ascending SHA-256 of "<policy name>/<device id>" (hex). The order
// depends on the policy's name, not its version, so every version of a policy pilots on
// the same devices, and widening a rollout only adds devices: those already picked stay.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace preau::server {

// ceil(percent × devices / 100), percent in 0..100.
size_t RolloutCount(size_t devices, uint32_t percent);

// The key that orders devices for `policy_name`'s rollouts.
std::string RolloutOrderKey(const std::string& policy_name, const std::string& device_id);

// `already` (kept whole) plus the first devices of `group_devices` in rollout order until
// RolloutCount(group_devices.size(), percent) are picked.
std::set<std::string> SelectRollout(const std::string& policy_name,
                                    const std::vector<std::string>& group_devices,
                                    uint32_t percent, const std::set<std::string>& already);

}  // namespace preau::server

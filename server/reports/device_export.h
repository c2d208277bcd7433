// DeviceExport: everything the server holds about one device, as one JSON object, for a
// GDPR right-of-access request (`preau devices export ID`): its row (identity, group,
// dates, policy state), its last inventory, its usage days and batch ids, what its agent
// said it dropped, its stock-taking record, the policy bundle last issued to it and its
// compliance reports, the class commands addressed to it, and the audit lines that name
// it. Only rows keyed by this device's id (or its serial, for stock-taking) are read, so
// nothing of another device can appear.
#pragma once

#include <string>

#include "server/reports/usage_store.h"
#include "server/server_core.h"

namespace preau::server {

Result<std::string> ExportDeviceJson(ServerCore& core, UsageStore& usage,
                                     const DeviceRecord& device);

}  // namespace preau::server

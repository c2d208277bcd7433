#include "server/reports/reports.h"

namespace preau::server {

Status RegisterReports(DomainRegistry& registry) {
  auto* d = registry.Keep(std::make_shared<ReportsDomain>(registry.core()));
  PREAU_ASSIGN_OR_RETURN(auto policy, d->usage.GetRetention());
  d->ingest.SetRetentionMonths(policy.usage_months);
  registry.AddService(&d->service);
  registry.AddFeature(d);
  d->retention.Start();
  return Status::Ok();
}

ReportsDomain* FindReportsDomain(ServerCore& core) {
  for (DeviceFeature* f : core.features) {
    if (auto* d = dynamic_cast<ReportsDomain*>(f)) return d;
  }
  return nullptr;
}

}  // namespace preau::server

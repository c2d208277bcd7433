#include "server/reports/reports.h"

#include <cstdio>

namespace preau::server {

ReportsDomain::~ReportsDomain() {
  retention.Stop();
  // How well the group commit grouped: operators read it at shutdown, the benchmark too.
  auto s = ingest.stats();
  if (s.transactions > 0) {
    std::fprintf(stderr, "preau-server: usage ingest stored %llu batches in %llu transactions\n",
                 static_cast<unsigned long long>(s.batches),
                 static_cast<unsigned long long>(s.transactions));
  }
}

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

#include "server/domains.h"

#include "server/catalog/catalog_service.h"
#include "server/classroom/classroom.h"
#include "server/console/console.h"
#include "server/filter/filter_service.h"
#include "server/policy/policy_service.h"
#include "server/reports/reports.h"

// One include and one line per domain.

namespace preau::server {

Status RegisterDomains(DomainRegistry& registry) {
  PREAU_ASSIGN_OR_RETURN(ClassCommands* classes, RegisterClassroom(registry));
  PREAU_RETURN_IF_ERROR(RegisterConsole(registry, *classes));
  PREAU_RETURN_IF_ERROR(RegisterPolicyDomain(registry));
  PREAU_RETURN_IF_ERROR(RegisterCatalogDomain(registry));
  PREAU_RETURN_IF_ERROR(RegisterReports(registry));
  PREAU_RETURN_IF_ERROR(RegisterFilterDomain(registry));
  return Status::Ok();
}

}  // namespace preau::server

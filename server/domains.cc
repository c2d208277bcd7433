#include "server/domains.h"

// One include and one line per domain.

namespace preau::server {

Status RegisterDomains(DomainRegistry& registry) {
  return Status::Ok();
}

}  // namespace preau::server

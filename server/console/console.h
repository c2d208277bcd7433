// Console: the teachers' console domain — ConsoleService (the CLI's way to hand out
// sign-in links, `preau operators link`), the sessions, and, when the server runs with
// --console-listen, the HTTPS console itself. Registered in domains.cc, after the class
// domain whose ClassCommands it shares.
#pragma once

#include "server/classroom/class_service.h"
#include "server/domains.h"

namespace preau::server {

Status RegisterConsole(DomainRegistry& registry, ClassCommands& classes);

}  // namespace preau::server

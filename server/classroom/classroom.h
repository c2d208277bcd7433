// Classroom: the class-control domain of the server (ClassService, the delivery of
// commands on device streams, and the objects they share), registered in domains.cc.
#pragma once

#include "server/classroom/class_service.h"
#include "server/domains.h"

namespace preau::server {

// Returns the class commands' runner, which the browser console shares with ClassService.
Result<ClassCommands*> RegisterClassroom(DomainRegistry& registry);

}  // namespace preau::server

// Classroom: the class-control domain of the server (ClassService, the delivery of
// commands on device streams, and the objects they share), registered in domains.cc.
#pragma once

#include "server/domains.h"

namespace preau::server {

Status RegisterClassroom(DomainRegistry& registry);

}  // namespace preau::server

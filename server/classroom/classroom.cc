#include "server/classroom/classroom.h"

#include "server/classroom/class_service.h"

namespace preau::server {

namespace {
// Everything the domain keeps alive, in destruction order: the service and the feature
// go before the tracker and the store they point to.
struct Classroom {
  explicit Classroom(ServerCore& core)
      : commands(*core.store),
        runner(core, commands, tracker),
        service(runner),
        deliveries(core, commands, tracker) {}
  CommandStore commands;
  AckTracker tracker;
  ClassCommands runner;
  ClassServiceImpl service;
  ClassDeliveries deliveries;
};
}  // namespace

Result<ClassCommands*> RegisterClassroom(DomainRegistry& registry) {
  auto* c = registry.Keep(std::make_shared<Classroom>(registry.core()));
  registry.AddService(&c->service);
  registry.AddFeature(&c->deliveries);
  registry.core().remote_ack = [c](const std::string& device_id, const v1::CommandAck& ack) {
    c->tracker.Ack(device_id, ack);
  };
  return &c->runner;
}

}  // namespace preau::server

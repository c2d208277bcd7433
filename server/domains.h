// Domains: where each domain of the server (policies, class control, the app store, the
// web filter, usage and reports) plugs in — its operators' gRPC service, its hooks on
// device streams, and the objects it keeps alive. Server::Start calls RegisterDomains
// once; adding a domain is one line in domains.cc.
#pragma once

#include <memory>
#include <vector>

#include <grpcpp/server_builder.h>

#include "server/server_core.h"

namespace preau::server {

class DomainRegistry {
 public:
  DomainRegistry(ServerCore& core, grpc::ServerBuilder& builder) : core_(core), builder_(builder) {}

  ServerCore& core() { return core_; }
  // Keeps `component` alive as long as the server, and returns it.
  template <typename T>
  T* Keep(std::shared_ptr<T> component) {
    T* raw = component.get();
    kept_.push_back(std::move(component));
    return raw;
  }
  void AddService(grpc::Service* service) { builder_.RegisterService(service); }
  void AddFeature(DeviceFeature* feature) { core_.features.push_back(feature); }
  std::vector<std::shared_ptr<void>> TakeKept() { return std::move(kept_); }

 private:
  ServerCore& core_;
  grpc::ServerBuilder& builder_;
  std::vector<std::shared_ptr<void>> kept_;
};

// Registers every domain (see domains.cc).
Status RegisterDomains(DomainRegistry& registry);

}  // namespace preau::server

// CatalogPublisher: works out each device's catalogue and gets it to the device.
//
// A device's catalogue is the approved assignments along its group chain ("ville",
// "ville/jaures", "ville/jaures/cm2-b"); for each app the closest group's assignment wins
// (a pilot class may run version 2 while the town stays on version 1). Its version is a
// hash of its content, so "the device holds another version" simply means "differs":
// nothing to keep per device, and a device moved to another group gets the right list at
// its next hello. OnHello sends the catalogue when the device's version differs;
// PushToGroup sends it at once to every connected device under a group that changed.
#pragma once

#include <string>

#include "common/status.h"
#include "preau/v1/catalog.pb.h"
#include "server/catalog/catalog_store.h"
#include "server/server_core.h"

namespace preau::server {

// The content version of a catalogue's apps: 0 when empty, never 0 otherwise.
uint64_t CatalogVersion(const v1::CatalogUpdate& update);

class CatalogPublisher {
 public:
  CatalogPublisher(ServerCore& core, CatalogStore& store) : core_(core), store_(store) {}

  Result<v1::CatalogUpdate> Resolve(const std::string& group);
  void OnHello(const std::string& device_id, uint64_t held_version);
  // Sends the new catalogue to every connected device in `group` and below ("" : all).
  void PushToGroup(const std::string& group);

 private:
  ServerCore& core_;
  CatalogStore& store_;
};

}  // namespace preau::server

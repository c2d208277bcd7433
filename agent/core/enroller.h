// Enroller: turns a one-time token into a device identity. Generates the device's key
// locally (it never leaves the device), sends only a CSR over server-authenticated TLS,
// and returns the signed certificate with the CA and policy key to pin.
#pragma once

#include <string>

#include "agent/core/state_store.h"
#include "common/status.h"
#include "preau/v1/device.pb.h"

namespace preau::agent {

struct EnrollRequestOptions {
  std::string server;       // host:port, or a list host:port,host:port (tried in turn)
  std::string ca_pem;       // the server's CA (ca.pem), to authenticate the server
  std::string token;
  std::string name;         // optional device name
  v1::Inventory inventory;  // first inventory
  int timeout_ms = 30000;
};

Result<Identity> Enroll(const EnrollRequestOptions& opts);

}  // namespace preau::agent

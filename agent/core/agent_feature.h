// AgentFeature: how a plugin (policy engine, class control, app installer, web filter,
// usage collector) joins the agent. The core owns the connection and the outbox; a
// feature says what it holds (FillHello), takes the server messages meant for it, and
// sends reports reliably through its AgentContext. Every hook runs on the agent's strand,
// so a feature needs no locking against the core.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <grpcpp/channel.h>

#include "agent/core/state_store.h"
#include "agent/platform/platform.h"
#include "common/clock.h"
#include "preau/v1/device.pb.h"

namespace preau::agent {

using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

class AgentContext {
 public:
  virtual ~AgentContext() = default;
  virtual Platform& platform() = 0;
  virtual StateStore& state() = 0;
  virtual const Clock& clock() = 0;
  virtual Strand& strand() = 0;
  virtual const Identity& identity() = 0;
  // Queues a report durably and sends it when connected; it is deleted only once the
  // server acked it. With `replace_kind`, an unsent older report of `kind` is dropped.
  virtual void SendReliable(v1::AgentMessage msg, const std::string& kind, bool replace_kind) = 0;
  // Sends live state (no id: neither stored nor acked) if connected; false if not, and
  // the message is dropped (a feature sends its state again from OnConnected).
  virtual bool SendLive(v1::AgentMessage msg) = 0;
  // Asks the core to resend the hello (a feature's holdings changed).
  virtual void Resync() = 0;
  // The mTLS channel to the server the agent is on now, with its current certificate:
  // calls beside the stream (downloads) take it when they start, so they follow the agent
  // to another server of its list and to a renewed certificate.
  virtual std::shared_ptr<grpc::Channel> channel() = 0;
};

class AgentFeature {
 public:
  virtual ~AgentFeature() = default;
  virtual std::string Name() const = 0;
  // Called once, on the strand, before the first connection attempt.
  virtual void Start(AgentContext& ctx) {}
  virtual void FillHello(v1::Hello* hello) {}
  // True if the message was for this feature.
  virtual bool OnServerMessage(const v1::ServerMessage& msg) { return false; }
  virtual void OnConnected() {}
  // The server refused this device as retired: undo what it changed on the machine.
  virtual void OnRetired() {}
  virtual void Stop() {}
};

}  // namespace preau::agent

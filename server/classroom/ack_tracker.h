// AckTracker: waits for the devices' answers to a class command without holding a thread
// per call. A call registers the devices it sent to and a wait; the tracker calls it back
// once, when the last of them acked or when the wait is over, whichever comes first. All
// its bookkeeping runs on one private thread (an Asio loop), so gRPC threads only post to
// it and never block.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "preau/v1/command.pb.h"

namespace preau::server {

class AckTracker {
 public:
  // Acks received, by device id.
  using Acks = std::map<std::string, v1::CommandAck>;
  using Done = std::function<void(Acks)>;

  AckTracker();
  ~AckTracker();  // calls every pending Done with what it has
  AckTracker(const AckTracker&) = delete;
  AckTracker& operator=(const AckTracker&) = delete;

  // Starts waiting for `device_ids` to ack `command_id`. Call before sending the command,
  // so that no ack can come first. `done` runs on the tracker's thread.
  void Track(const std::string& command_id, std::vector<std::string> device_ids,
             std::chrono::milliseconds wait, Done done);
  // One device's answer; ignored unless a call here waits for it. Otherwise `elsewhere`
  // (if any) runs, on the tracker's thread: the call may wait on another replica.
  void Ack(const std::string& device_id, const v1::CommandAck& ack,
           std::function<void()> elsewhere = {});
  // Stops waiting now (the caller went away): `done` runs with the acks so far.
  void Abandon(const std::string& command_id);

 private:
  struct Waiting;
  void Complete(const std::string& command_id);

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  // Touched only on the tracker's thread.
  std::map<std::string, std::unique_ptr<Waiting>> waiting_;
  std::thread thread_;
};

}  // namespace preau::server

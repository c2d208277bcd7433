// PackageFetcher: downloads one app package through DeviceService.Fetch into a file in the
// agent's state folder, and checks it before anyone installs it.
//
// The file is the resume point: a download cut by a lost connection, a server restart or
// an agent restart continues from the bytes already on disk (Fetch with that offset).
// Once the file is whole, its SHA-256 is computed from disk and compared with the
// catalogue's: a damaged file (a bad chunk, a disk error, a truncated write after a power
// cut) is deleted and DataLoss returned, so the caller fetches it again. Blocking: it runs
// on a worker thread of its own; Cancel, from any thread, makes it return promptly.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include <grpcpp/client_context.h>

#include "common/status.h"
#include "preau/v1/device.grpc.pb.h"

namespace preau::agent {

struct FetchOptions {
  uint32_t max_chunk = 256 * 1024;   // bytes per FetchChunk asked for
  uint64_t max_bytes_per_second = 0; // 0: as fast as the link goes (metered 4G: set one)
};

// Lowercase hex SHA-256 of the file at `path`, read in blocks.
Result<std::string> Sha256OfFile(const std::string& path);

class PackageFetcher {
 public:
  // `channel`: the agent's channel when the download starts (AgentContext::channel), kept
  // for this fetcher's life even if the agent moves to another server meanwhile.
  PackageFetcher(std::shared_ptr<grpc::ChannelInterface> channel, FetchOptions opts)
      : stub_(v1::DeviceService::NewStub(channel)), opts_(opts) {}

  // Makes `path` hold the artifact `sha256` of `size` bytes, verified. `progress` is told
  // the bytes on disk after each chunk. Errors: Unavailable (connection lost: retry, the
  // bytes stay; also after Cancel), DataLoss (hash mismatch: the file was deleted),
  // FailedPrecondition when the server's artifact is not the one expected, NotFound when
  // the server has no such artifact.
  Status Fetch(const std::string& sha256, uint64_t size, const std::string& path,
               const std::function<void(uint64_t)>& progress);
  void Cancel();

  uint64_t bytes_received() const { return received_.load(); }
  // The offset the last Fetch call resumed from (0: from scratch).
  uint64_t resumed_from() const { return resumed_from_.load(); }

 private:
  Status Download(int fd, const std::string& sha256, uint64_t size, uint64_t offset,
                  const std::function<void(uint64_t)>& progress);
  // Waits as long as the rate limit asks; false if cancelled meanwhile.
  bool Throttle(uint64_t bytes_since_start, std::chrono::steady_clock::time_point start);

  std::unique_ptr<v1::DeviceService::Stub> stub_;
  FetchOptions opts_;
  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> resumed_from_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  grpc::ClientContext* ctx_ = nullptr;  // the call in progress, for Cancel
  bool cancelled_ = false;
};

}  // namespace preau::agent

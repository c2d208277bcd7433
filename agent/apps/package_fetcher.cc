#include "agent/apps/package_fetcher.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "common/grpc_status.h"
#include "common/pki.h"

namespace preau::agent {

namespace {

// Bytes written between two fdatasync calls: bounds what a power cut can cost without
// syncing on every chunk of a slow eMMC.
constexpr uint64_t kSyncEvery = 8ull << 20;

Status Errno(const std::string& what) {
  int e = errno;
  if (e == ENOSPC || e == EDQUOT) return ResourceExhausted(what + ": the device's disk is full");
  return Internal(what + ": " + std::strerror(e));
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

Status Cancelled() { return Unavailable("download cancelled"); }

}  // namespace

Result<std::string> Sha256OfFile(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return Errno("opening " + path);
  pki::Sha256Stream sha;
  std::vector<char> buf(256 * 1024);
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("reading " + path);
    }
    if (n == 0) break;
    sha.Update(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
  return sha.FinishHex();
}

void PackageFetcher::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  if (ctx_) ctx_->TryCancel();
  cv_.notify_all();
}

Status PackageFetcher::Fetch(const std::string& sha256, uint64_t size, const std::string& path,
                             const std::function<void(uint64_t)>& progress) {
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (fd.get() < 0) return Errno("opening " + path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Errno("reading the size of " + path);
  uint64_t have = static_cast<uint64_t>(st.st_size);
  if (have > size) {  // not this artifact, or a damaged tail: start again
    if (::ftruncate(fd.get(), 0) != 0) return Errno("truncating " + path);
    have = 0;
  }
  resumed_from_ = have;
  if (have < size) {
    PREAU_RETURN_IF_ERROR(Download(fd.get(), sha256, size, have, progress));
  }
  if (::fdatasync(fd.get()) != 0) return Errno("flushing " + path);
  PREAU_ASSIGN_OR_RETURN(std::string actual, Sha256OfFile(path));
  if (actual != sha256) {
    ::unlink(path.c_str());
    return DataLoss("the downloaded package is damaged (SHA-256 " + actual.substr(0, 12) +
                    "…, expected " + sha256.substr(0, 12) + "…); fetching it again");
  }
  return Status::Ok();
}

Status PackageFetcher::Download(int fd, const std::string& sha256, uint64_t size,
                                uint64_t offset, const std::function<void(uint64_t)>& progress) {
  grpc::ClientContext ctx;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (cancelled_) return Cancelled();
    ctx_ = &ctx;
  }
  struct Clear {
    PackageFetcher* f;
    ~Clear() {
      std::lock_guard<std::mutex> lock(f->mu_);
      f->ctx_ = nullptr;
    }
  } clear{this};

  v1::FetchRequest req;
  req.set_sha256(sha256);
  req.set_offset(offset);
  req.set_max_chunk(opts_.max_chunk);
  auto reader = stub_->Fetch(&ctx, req);
  if (::lseek(fd, static_cast<off_t>(offset), SEEK_SET) < 0) return Errno("seeking");
  uint64_t pos = offset, unsynced = 0;
  auto start = std::chrono::steady_clock::now();
  v1::FetchChunk chunk;
  Status local;  // an error of ours (not the server's) ends the call early
  while (reader->Read(&chunk)) {
    if (chunk.total_size() != size) {
      local = FailedPrecondition("the server's package has " + std::to_string(chunk.total_size()) +
                                 " bytes, the catalogue says " + std::to_string(size));
      break;
    }
    if (chunk.offset() != pos || chunk.data().size() > size - pos) {
      local = DataLoss("chunk at offset " + std::to_string(chunk.offset()) + ", expected " +
                       std::to_string(pos));
      break;
    }
    const std::string& data = chunk.data();
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::write(fd, data.data() + off, data.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        local = Errno("writing the package");
        break;
      }
      off += static_cast<size_t>(n);
    }
    if (!local.ok()) break;
    pos += data.size();
    unsynced += data.size();
    received_ += data.size();
    if (unsynced >= kSyncEvery) {
      ::fdatasync(fd);
      unsynced = 0;
    }
    if (progress) progress(pos);
    if (!Throttle(pos - offset, start)) {
      local = Cancelled();
      break;
    }
  }
  if (!local.ok()) {
    ctx.TryCancel();
    (void)reader->Finish();
    return local;
  }
  grpc::Status s = reader->Finish();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (cancelled_) return Cancelled();
  }
  if (!s.ok()) {
    Status st = FromGrpc(s);
    return Status(st.code(), "download interrupted at " + std::to_string(pos) + " of " +
                                 std::to_string(size) + " bytes: " + st.message());
  }
  if (pos != size) {
    return Unavailable("the download ended at " + std::to_string(pos) + " of " +
                       std::to_string(size) + " bytes");
  }
  return Status::Ok();
}

bool PackageFetcher::Throttle(uint64_t bytes_since_start,
                              std::chrono::steady_clock::time_point start) {
  std::unique_lock<std::mutex> lock(mu_);
  if (opts_.max_bytes_per_second > 0) {
    auto due = start + std::chrono::microseconds(bytes_since_start * 1'000'000 /
                                                 opts_.max_bytes_per_second);
    cv_.wait_until(lock, due, [&] { return cancelled_; });
  }
  return !cancelled_;
}

}  // namespace preau::agent

#include "server/catalog/artifact_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "server/fleet/device_service.h"

namespace preau::server {

namespace {

std::string IncomingDir(const std::string& data_dir) { return data_dir + "/artifacts/.incoming"; }

Status Errno(const std::string& what) {
  int e = errno;
  if (e == ENOSPC || e == EDQUOT) {
    return ResourceExhausted(what + ": the server's disk is full");
  }
  return Internal(what + ": " + std::strerror(e));
}

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("opening " + dir);
  int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status::Ok() : Errno("syncing " + dir);
}

}  // namespace

ArtifactSink::ArtifactSink(std::string data_dir, std::string tmp_path, int fd, uint64_t max_size)
    : data_dir_(std::move(data_dir)), tmp_path_(std::move(tmp_path)), fd_(fd),
      max_size_(max_size) {}

Result<std::unique_ptr<ArtifactSink>> ArtifactSink::Create(const std::string& data_dir,
                                                           uint64_t max_size) {
  std::error_code ec;
  std::filesystem::create_directories(IncomingDir(data_dir), ec);
  if (ec) return Internal("creating " + IncomingDir(data_dir) + ": " + ec.message());
  std::string tmpl = IncomingDir(data_dir) + "/upload-XXXXXX";
  int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd < 0) return Errno("creating a temporary file in " + IncomingDir(data_dir));
  std::unique_ptr<ArtifactSink> sink(new ArtifactSink(data_dir, tmpl, fd, max_size));
  return sink;
}

ArtifactSink::~ArtifactSink() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_path_.c_str());
}

Status ArtifactSink::Append(std::string_view data) {
  if (fd_ < 0) return FailedPrecondition("upload already finished");
  if (data.size() > max_size_ - size_) {
    return ResourceExhausted("the package is larger than the server accepts (" +
                             std::to_string(max_size_) + " bytes)");
  }
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd_, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("writing the uploaded package");
    }
    off += static_cast<size_t>(n);
  }
  sha_.Update(data);
  size_ += data.size();
  return Status::Ok();
}

Result<std::string> ArtifactSink::Commit() {
  if (fd_ < 0) return FailedPrecondition("upload already finished");
  std::string hex = sha_.FinishHex();
  // The bytes must be on disk before the name says they are there.
  if (::fsync(fd_) != 0) return Errno("flushing the uploaded package");
  int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) return Errno("closing the uploaded package");
  const std::string final_path = ArtifactPath(data_dir_, hex);
  struct stat st;
  if (::stat(final_path.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) == size_) {
    return hex;  // the same bytes are stored already; the destructor drops the copy
  }
  ::chmod(tmp_path_.c_str(), 0644);
  if (::rename(tmp_path_.c_str(), final_path.c_str()) != 0) {
    return Errno("storing the package as " + final_path);
  }
  committed_ = true;
  PREAU_RETURN_IF_ERROR(SyncDir(data_dir_ + "/artifacts"));
  return hex;
}

void ArtifactSink::CleanIncoming(const std::string& data_dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(IncomingDir(data_dir), ec)) {
    std::filesystem::remove(entry.path(), ec);
  }
}

}  // namespace preau::server

// ArtifactSink: receives one package in pieces and puts it into the server's
// content-addressed artifact store (DIR/artifacts/<sha256>), the file DeviceService.Fetch
// serves. Pieces go straight to a temporary file in DIR/artifacts/.incoming while their
// SHA-256 is computed on the way, so a 2 GB package costs one piece of memory. Commit
// fsyncs the file, renames it to its hash and fsyncs the folder: a full disk, a crash or a
// cancelled upload never leaves a half-written artifact under a hash name, and an
// artifact already stored (same bytes uploaded twice) is kept as is.
#pragma once


#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/pki.h"
#include "common/status.h"

namespace preau::server {

class ArtifactSink {
 public:
  // Creates the temporary file under `data_dir`/artifacts/.incoming. `max_size` caps what
  // Append accepts.
  static Result<std::unique_ptr<ArtifactSink>> Create(const std::string& data_dir,
                                                      uint64_t max_size);
  // Removes the temporary file unless Commit succeeded.
  ~ArtifactSink();

  // ResourceExhausted on a full disk or past max_size; the upload is then lost.
  Status Append(std::string_view data);
  uint64_t size() const { return size_; }
  // The file being written, to inspect the package before Commit.
  const std::string& temp_path() const { return tmp_path_; }
  // Durably stores the artifact and returns its SHA-256 (hex, lowercase).
  Result<std::string> Commit();

  // Removes temporary files left by a crash (called when the server starts).
  static void CleanIncoming(const std::string& data_dir);

 private:
  ArtifactSink(std::string data_dir, std::string tmp_path, int fd, uint64_t max_size);

  std::string data_dir_;
  std::string tmp_path_;
  int fd_ = -1;
  uint64_t max_size_;
  uint64_t size_ = 0;
  bool committed_ = false;
  pki::Sha256Stream sha_;
};

}  // namespace preau::server

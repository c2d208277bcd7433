#include "common/package_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/subprocess.h"

namespace preau {
namespace {

constexpr std::string_view kArMagic = "!<arch>\n";
constexpr std::string_view kFlatpakMagic{"flatpak\0", 8};
constexpr size_t kArHeader = 60;

// A file opened for reading, closed on scope exit.
class Reader {
 public:
  explicit Reader(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~Reader() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  uint64_t Size() const {
    struct stat st;
    return ::fstat(fd_, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  }
  // Up to `n` bytes at `offset` (fewer at end of file).
  std::string Read(uint64_t offset, size_t n) const {
    std::string out(n, '\0');
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::pread(fd_, out.data() + got, n - got, static_cast<off_t>(offset + got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    out.resize(got);
    return out;
  }

 private:
  int fd_;
};

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(' ');
  size_t e = s.find_last_not_of(' ');
  return b == std::string_view::npos ? "" : std::string(s.substr(b, e - b + 1));
}

bool AllDigits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Printable form of a member name read from an untrusted file.
std::string Printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  return out;
}

Result<PackageFacts> ReadFlatpakRef(const Reader& file) {
  // After the magic, the metadata dictionary: its "ref" entry is the bundle's ref.
  const std::string head = file.Read(0, 4096);
  size_t key = head.find(std::string_view("ref\0", 4), kFlatpakMagic.size());
  if (key == std::string::npos) {
    return InvalidArgument("a Flatpak bundle without a ref in its metadata");
  }
  size_t pos = key + 4;
  while (pos < head.size() && head[pos] == '\0') ++pos;
  size_t end = head.find('\0', pos);
  if (end == std::string::npos) return InvalidArgument("a Flatpak bundle whose ref is cut");
  const std::string ref = head.substr(pos, end - pos);
  // kind/name/arch/branch
  size_t s1 = ref.find('/'), s2 = ref.find('/', s1 + 1), s3 = ref.find('/', s2 + 1);
  if (s1 == std::string::npos || s2 == std::string::npos || s3 == std::string::npos ||
      ref.find('/', s3 + 1) != std::string::npos || ref.substr(0, s1) != "app") {
    return InvalidArgument("a Flatpak bundle whose ref '" + Printable(ref) +
                           "' is not app/NAME/ARCH/BRANCH");
  }
  PackageFacts facts;
  facts.format = PackageFormat::kFlatpak;
  facts.name = ref.substr(s1 + 1, s2 - s1 - 1);
  facts.arch = ref.substr(s2 + 1, s3 - s2 - 1);
  return facts;
}

Result<PackageFacts> ReadDebFields(const std::string& path) {
  PREAU_RETURN_IF_ERROR(CheckDebStructure(path));
  // dpkg-deb reads the control member only; the package's own scripts never run here.
  PREAU_ASSIGN_OR_RETURN(
      ProgramOutput out,
      RunProgram({"dpkg-deb", "--show", "--showformat=${Package}\\t${Version}\\t${Architecture}\\n",
                  "--", path},
                 std::chrono::seconds(60)));
  if (out.exit_code != 0) {
    return InvalidArgument("not a readable Debian package: dpkg-deb: " +
                           OutputTail(out.output, 300));
  }
  std::string line = out.output.substr(0, out.output.find('\n'));
  size_t t1 = line.find('\t'), t2 = line.find('\t', t1 + 1);
  if (t1 == std::string::npos || t2 == std::string::npos) {
    return InvalidArgument("not a readable Debian package: dpkg-deb printed '" +
                           Printable(line) + "'");
  }
  PackageFacts facts;
  facts.format = PackageFormat::kDeb;
  facts.name = line.substr(0, t1);
  facts.version = line.substr(t1 + 1, t2 - t1 - 1);
  facts.arch = line.substr(t2 + 1);
  if (facts.name.empty() || facts.version.empty()) {
    return InvalidArgument("a Debian package without a Package or Version field");
  }
  return facts;
}

}  // namespace

const char* PackageFormatName(PackageFormat format) {
  switch (format) {
    case PackageFormat::kDeb: return "deb";
    case PackageFormat::kFlatpak: return "flatpak";
    case PackageFormat::kUnknown: break;
  }
  return "unknown";
}

PackageFormat SniffPackageFormat(std::string_view head) {
  if (head.substr(0, kArMagic.size()) == kArMagic &&
      head.substr(kArMagic.size(), 13) == "debian-binary") {
    return PackageFormat::kDeb;
  }
  if (head.substr(0, kFlatpakMagic.size()) == kFlatpakMagic) return PackageFormat::kFlatpak;
  return PackageFormat::kUnknown;
}

Status CheckDebStructure(const std::string& path) {
  Reader file(path);
  if (!file.ok()) return InvalidArgument("cannot read " + path + ": " + std::strerror(errno));
  const uint64_t size = file.Size();
  if (file.Read(0, kArMagic.size()) != kArMagic) {
    return InvalidArgument("not a Debian package: no ar archive header");
  }
  uint64_t pos = kArMagic.size();
  int index = 0;
  bool control = false, data = false;
  while (pos < size) {
    const std::string header = file.Read(pos, kArHeader);
    if (header.size() < kArHeader) {
      return InvalidArgument("truncated Debian package: member " + std::to_string(index + 1) +
                             "'s header is cut at byte " + std::to_string(size));
    }
    if (header.substr(58, 2) != "`\n") {
      return InvalidArgument("malformed Debian package: member " + std::to_string(index + 1) +
                             " has no valid ar header at byte " + std::to_string(pos));
    }
    std::string name = Trim(header.substr(0, 16));
    if (!name.empty() && name.back() == '/') name.pop_back();
    const std::string size_text = Trim(header.substr(48, 10));
    if (!AllDigits(size_text) || size_text.size() > 10) {
      return InvalidArgument("malformed Debian package: member '" + Printable(name) +
                             "' has size '" + Printable(size_text) + "'");
    }
    const uint64_t member = std::stoull(size_text);
    const uint64_t start = pos + kArHeader;
    if (member > size - std::min(size, start)) {
      return InvalidArgument("truncated Debian package: member '" + Printable(name) +
                             "' declares " + std::to_string(member) + " bytes, only " +
                             std::to_string(size - std::min(size, start)) + " remain");
    }
    if (index == 0) {
      if (name != "debian-binary") {
        return InvalidArgument("not a Debian package: the first member is '" +
                               Printable(name) + "', not debian-binary");
      }
      if (file.Read(start, 2) != "2.") {
        return InvalidArgument("unsupported Debian package format version (debian-binary "
                               "is not 2.x)");
      }
    } else if (name.rfind("control.tar", 0) == 0) {
      control = true;
    } else if (name.rfind("data.tar", 0) == 0) {
      if (!control) return InvalidArgument("malformed Debian package: data before control");
      data = true;
    }
    pos = start + member + (member % 2);  // members are padded to an even offset
    ++index;
  }
  if (pos != size && pos != size + 1) {
    return InvalidArgument("truncated Debian package: the last member ends past the file");
  }
  if (!control || !data) {
    return InvalidArgument(std::string("truncated Debian package: no ") +
                           (!control ? "control" : "data") + " member");
  }
  return Status::Ok();
}

Result<PackageFacts> InspectPackage(const std::string& path) {
  Reader file(path);
  if (!file.ok()) return InvalidArgument("cannot read " + path + ": " + std::strerror(errno));
  switch (SniffPackageFormat(file.Read(0, 64))) {
    case PackageFormat::kDeb: return ReadDebFields(path);
    case PackageFormat::kFlatpak: return ReadFlatpakRef(file);
    case PackageFormat::kUnknown: break;
  }
  return InvalidArgument(
      "neither a Debian package (.deb: an ar archive starting with debian-binary) nor a "
      "Flatpak bundle (starting with the flatpak magic)");
}

}  // namespace preau

#include "agent/platform/linux_inventory.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <set>

namespace preau::agent {
namespace {

// Placeholders that firmware vendors leave in DMI fields; reporting them as a serial
// would make unrelated devices look like duplicates.
bool IsFirmwarePlaceholder(const std::string& v) {
  static constexpr std::array<std::string_view, 11> kJunk = {
      "to be filled by o.e.m.", "default string", "system product name",
      "system manufacturer", "system serial number", "not specified", "not applicable",
      "none", "0", "0123456789", "invalid"};
  std::string lower;
  for (char c : v) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return std::find(kJunk.begin(), kJunk.end(), lower) != kJunk.end();
}

std::string ReadDmi(const SysfsReader& fs, std::string_view field) {
  std::optional<std::string> v = fs.ReadTrimmed("/sys/class/dmi/id/" + std::string(field));
  if (!v || IsFirmwarePlaceholder(*v)) return "";
  return *v;
}

std::string ReadHostname(const SysfsReader& fs) {
  if (fs.IsRealRoot()) {
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) == 0 && buf[0] != '\0') return buf;
  }
  if (auto h = fs.ReadTrimmed("/proc/sys/kernel/hostname")) return *h;
  if (auto h = fs.ReadTrimmed("/etc/hostname")) return *h;
  return "";
}

void FillOs(const SysfsReader& fs, v1::Inventory* inv) {
  std::optional<std::string> text = fs.Read("/etc/os-release");
  if (!text) text = fs.Read("/usr/lib/os-release");
  if (!text) return;
  auto fields = ParseOsRelease(*text);
  std::string name = fields["NAME"];
  if (name.empty()) name = fields["PRETTY_NAME"];
  inv->set_os_name(name);
  inv->set_os_version(fields["VERSION_ID"]);
}

void FillCpu(const SysfsReader& fs, v1::Inventory* inv) {
  uint32_t cores = 0;
  if (std::optional<std::string> text = fs.Read("/proc/cpuinfo")) {
    // x86 says "model name"; ARM boards say "Hardware" or "Processor", MIPS "cpu model".
    for (std::string_view key : {"model name", "Hardware", "Processor", "cpu model"}) {
      std::optional<std::string> v = FindColonField(*text, key);
      if (v && !v->empty()) {
        inv->set_cpu(*v);
        break;
      }
    }
    size_t pos = 0;
    while ((pos = text->find("processor", pos)) != std::string::npos) {
      bool line_start = pos == 0 || (*text)[pos - 1] == '\n';
      size_t after = pos + 9;
      pos = after;
      if (!line_start) continue;
      while (after < text->size() && ((*text)[after] == ' ' || (*text)[after] == '\t')) {
        ++after;
      }
      if (after < text->size() && (*text)[after] == ':') ++cores;
    }
  }
  if (cores == 0 && fs.IsRealRoot()) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n > 0) cores = static_cast<uint32_t>(n);
  }
  inv->set_cpu_cores(cores);
}

void FillMemory(const SysfsReader& fs, v1::Inventory* inv) {
  std::optional<std::string> text = fs.Read("/proc/meminfo");
  if (!text) return;
  std::optional<std::string> total = FindColonField(*text, "MemTotal");  // "16318292 kB"
  if (!total) return;
  uint64_t kib = 0;
  auto [end, ec] = std::from_chars(total->data(), total->data() + total->size(), kib);
  if (ec == std::errc()) inv->set_memory_bytes(kib * 1024);
}

bool AddDisk(const std::string& path, const std::string& mount_point, v1::Inventory* inv) {
  struct statvfs st;
  if (statvfs(path.c_str(), &st) != 0) return false;
  v1::DiskInfo* d = inv->add_disks();
  d->set_mount_point(mount_point);
  d->set_total_bytes(static_cast<uint64_t>(st.f_blocks) * st.f_frsize);
  d->set_free_bytes(static_cast<uint64_t>(st.f_bavail) * st.f_frsize);
  return true;
}

// /proc/mounts escapes space, tab, newline and backslash as octal (\040).
std::string UnescapeMountField(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() &&
        std::all_of(s.begin() + i + 1, s.begin() + i + 4,
                    [](char c) { return c >= '0' && c <= '7'; })) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

void FillDisks(const SysfsReader& fs, v1::Inventory* inv) {
  AddDisk(fs.Resolve("/"), "/", inv);
  if (!fs.IsRealRoot()) return;  // a fake tree has no mounts worth reporting
  std::optional<std::string> text = fs.Read("/proc/mounts");
  if (!text) return;
  std::set<dev_t> seen_fs;
  struct stat root_st;
  if (stat("/", &root_st) == 0) seen_fs.insert(root_st.st_dev);
  std::set<std::string> seen_devices;
  size_t pos = 0;
  while (pos < text->size()) {
    size_t eol = text->find('\n', pos);
    if (eol == std::string::npos) eol = text->size();
    std::string_view line = std::string_view(*text).substr(pos, eol - pos);
    pos = eol + 1;
    std::array<std::string, 3> f;  // device, mount point, type
    size_t start = 0;
    for (auto& field : f) {
      size_t sp = line.find(' ', start);
      field = std::string(line.substr(start, sp == std::string_view::npos ? sp : sp - start));
      start = sp == std::string_view::npos ? line.size() : sp + 1;
    }
    // Only real block devices: tmpfs, proc, sysfs, overlay, cgroup have no /dev/ source,
    // and snaps are read-only squashfs images on loop devices.
    if (f[0].rfind("/dev/", 0) != 0 || f[0].rfind("/dev/loop", 0) == 0) continue;
    if (f[2] == "squashfs" || f[2] == "iso9660") continue;
    std::string mount_point = UnescapeMountField(f[1]);
    struct stat st;
    // Bind mounts of single files (containers bind /etc/hosts) and second mounts of a
    // file system already listed are the same disk again.
    if (stat(mount_point.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    if (!seen_fs.insert(st.st_dev).second) continue;
    if (!seen_devices.insert(f[0]).second) continue;
    AddDisk(mount_point, mount_point, inv);
  }
}

void FillInterfaces(const SysfsReader& fs, v1::Inventory* inv) {
  for (const std::string& name : fs.List("/sys/class/net")) {
    if (name == "lo") continue;
    const std::string dir = "/sys/class/net/" + name;
    std::optional<std::string> mac = fs.ReadTrimmed(dir + "/address");
    if (!mac) continue;
    v1::NetworkInterface* nic = inv->add_interfaces();
    nic->set_name(name);
    nic->set_mac(*mac);
    nic->set_wireless(fs.Exists(dir + "/wireless") || fs.Exists(dir + "/phy80211"));
  }
}

void FillModel(const SysfsReader& fs, v1::Inventory* inv) {
  inv->set_model(ReadDmi(fs, "product_name"));
  inv->set_manufacturer(ReadDmi(fs, "sys_vendor"));
  inv->set_serial(ReadDmi(fs, "product_serial"));  // root-only on most systems
  if (inv->model().empty()) {
    // ARM boards and tablets have no DMI; the device tree names the board instead.
    std::optional<std::string> m = fs.ReadTrimmed("/proc/device-tree/model");
    if (!m) m = fs.ReadTrimmed("/sys/firmware/devicetree/base/model");
    if (m) inv->set_model(*m);
  }
}

uint32_t Percent(uint64_t part, uint64_t whole) {
  if (whole == 0) return 0;
  return static_cast<uint32_t>(std::min<uint64_t>(100, (part * 100 + whole / 2) / whole));
}

void FillBattery(const SysfsReader& fs, v1::Inventory* inv) {
  for (const std::string& name : fs.List("/sys/class/power_supply")) {
    const std::string dir = "/sys/class/power_supply/" + name + "/";
    if (fs.ReadTrimmed(dir + "type").value_or("") != "Battery") continue;
    // A wireless mouse or a stylus also reports a battery, with scope "Device".
    if (fs.ReadTrimmed(dir + "scope").value_or("") == "Device") continue;
    if (fs.ReadTrimmed(dir + "present").value_or("1") == "0") continue;
    v1::Battery* b = inv->mutable_battery();
    b->set_present(true);
    if (auto cap = fs.ReadUint(dir + "capacity")) {
      b->set_percent(static_cast<uint32_t>(std::min<uint64_t>(*cap, 100)));
    } else if (auto now = fs.ReadUint(dir + "energy_now"), full = fs.ReadUint(dir + "energy_full");
               now && full) {
      b->set_percent(Percent(*now, *full));
    }
    b->set_charging(fs.ReadTrimmed(dir + "status").value_or("") == "Charging");
    auto full = fs.ReadUint(dir + "energy_full");
    auto design = fs.ReadUint(dir + "energy_full_design");
    if (!full || !design) {
      full = fs.ReadUint(dir + "charge_full");
      design = fs.ReadUint(dir + "charge_full_design");
    }
    if (full && design) b->set_health_percent(Percent(*full, *design));
    if (auto cycles = fs.ReadUint(dir + "cycle_count")) {
      b->set_cycle_count(static_cast<uint32_t>(*cycles));
    }
    return;  // the first system battery; dual-battery laptops are rare in schools
  }
}

}  // namespace

v1::Inventory CollectLinuxInventory(const SysfsReader& fs) {
  v1::Inventory inv;
  inv.set_platform("linux");
  inv.set_hostname(ReadHostname(fs));
  FillOs(fs, &inv);
  FillCpu(fs, &inv);
  FillMemory(fs, &inv);
  FillDisks(fs, &inv);
  FillInterfaces(fs, &inv);
  FillModel(fs, &inv);
  FillBattery(fs, &inv);
  inv.set_device_kind(inv.battery().present() ? "laptop" : "desktop");
  return inv;
}

}  // namespace preau::agent

// The simulated platform: a plausible French school device (tablet, collège laptop or
// interactive display) picked deterministically from a seed, whose state is changed by
// the Platform calls and read back by tests and the fleet simulator. preau-sim keeps
// thousands of these in one process, so an instance holds only its seed and its state;
// the hardware description is recomputed from the seed when an inventory is asked for.
#include <algorithm>
#include <array>
#include <cstdio>
#include <mutex>
#include <string_view>

#include "agent/platform/platform.h"

namespace preau::agent {
namespace {

struct OsChoice {
  const char* name;
  const char* version;
};

struct SimModel {
  const char* kind;  // "tablet", "laptop", "eni"
  const char* manufacturer;
  const char* model;
  const char* serial_pattern;  // '#' a digit, '@' an uppercase letter or digit
  std::array<OsChoice, 3> os;  // null names are unused slots
  const char* cpu;
  uint32_t cores;
  uint32_t memory_gib;
  uint32_t disk_gb;
};

// Devices French collèges and lycées actually receive from their département or région.
constexpr std::array<SimModel, 13> kModels = {{
    {"tablet", "Samsung", "Samsung Galaxy Tab A8", "R9@@###@@@@",
     {{{"Android", "12"}, {"Android", "13"}, {"Android", "14"}}}, "Unisoc T618", 8, 3, 32},
    {"tablet", "Samsung", "Samsung Galaxy Tab A9+", "R5@@###@@@@",
     {{{"Android", "13"}, {"Android", "14"}, {}}}, "Qualcomm Snapdragon 695", 8, 4, 64},
    {"tablet", "Lenovo", "Lenovo Tab M10", "HA1@@@@@",
     {{{"Android", "12"}, {"Android", "13"}, {}}}, "MediaTek Helio P22T", 8, 4, 64},
    {"tablet", "Lenovo", "Lenovo Tab M10 Plus", "HA1@@@@@",
     {{{"Android", "12"}, {"Android", "13"}, {"Android", "14"}}}, "MediaTek Helio G80", 8, 4,
     128},
    {"tablet", "Apple", "Apple iPad 9", "@@@@@@@@@@",
     {{{"iPadOS", "16.7"}, {"iPadOS", "17.5"}, {"iPadOS", "18.1"}}}, "Apple A13 Bionic", 6, 3,
     64},
    {"tablet", "Logicom", "Logicom Tab 105", "LGT##########",
     {{{"Android", "12"}, {"Android", "13"}, {}}}, "Unisoc SC9863A", 8, 2, 32},
    {"laptop", "Unowhy", "Unowhy Y13", "Y13B#######",
     {{{"Windows", "10.0.19045"}, {"Windows", "10.0.22631"}, {}}}, "Intel Celeron N4120", 4, 4,
     64},
    {"laptop", "Logicom", "Logicom LogiBook 14", "LGB##########",
     {{{"Windows", "10.0.19045"}, {"Windows", "10.0.22631"}, {}}}, "Intel Celeron N4020", 2, 4,
     64},
    {"eni", "Speechi", "Speechi SPE-75-UHD", "SPE######",
     {{{"Android", "11"}, {"Android", "13"}, {"Windows", "10.0.19045"}}}, "ARM Cortex-A73", 4,
     4, 32},
    {"eni", "Promethean", "Promethean ActivPanel 9 75\"", "AP9######@@",
     {{{"Android", "11"}, {"Android", "13"}, {}}}, "ARM Cortex-A73", 4, 8, 64},
    {"eni", "SMART Technologies", "SMART Board MX 75", "MX2######",
     {{{"Android", "11"}, {"Android", "13"}, {"Windows", "10.0.22631"}}}, "ARM Cortex-A55", 4,
     4, 32},
    {"eni", "Sahara Presentation Systems", "Clevertouch UX Pro 2 75", "CT75U#######",
     {{{"Android", "11"}, {"Android", "13"}, {}}}, "ARM Cortex-A73", 4, 8, 64},
    {"eni", "Sahara Presentation Systems", "Clevertouch Impact Max 86", "CT86I#######",
     {{{"Android", "13"}, {"Windows", "10.0.19045"}, {}}}, "ARM Cortex-A76", 8, 8, 128},
}};

struct AppChoice {
  const char* id;
  const char* version;
};
constexpr std::array<AppChoice, 7> kAndroidApps = {{
    {"org.mozilla.firefox", "128.0.3"},
    {"org.geogebra.android", "5.2.861"},
    {"org.videolan.vlc", "3.5.4"},
    {"com.index_education.pronote", "2024.3.1"},
    {"com.google.android.apps.docs", "2.24.30"},
    {"fr.lumni.android", "1.9.0"},
    {"com.microsoft.office.officehubrow", "16.0.17830"},
}};
constexpr std::array<AppChoice, 4> kIpadApps = {{
    {"org.mozilla.ios.Firefox", "128.1"},
    {"org.geogebra.iosapp.geogebra", "5.2.861"},
    {"com.apple.Keynote", "14.1"},
    {"com.index-education.pronote", "2024.3.1"},
}};
constexpr std::array<AppChoice, 5> kWindowsApps = {{
    {"Mozilla.Firefox", "128.0.3"},
    {"GeoGebra.Classic", "6.0.861"},
    {"VideoLAN.VLC", "3.0.21"},
    {"TheDocumentFoundation.LibreOffice", "24.2.5"},
    {"Scratch.Scratch3", "3.29.1"},
}};

// splitmix64: tiny, fast, and good enough that neighbouring seeds look unrelated.
class SeedStream {
 public:
  explicit SeedStream(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return Next() % n; }
  uint64_t Between(uint64_t lo, uint64_t hi) { return lo + Below(hi - lo + 1); }

 private:
  uint64_t state_;
};

// Interactive displays run Windows on an OPS PC slotted into the panel, not on the panel's
// own ARM board.
struct OpsModule {
  const char* cpu;
  uint32_t cores;
  uint32_t memory_gib;
  uint32_t disk_gb;
};
constexpr OpsModule kOpsModule = {"Intel Core i5-1135G7", 4, 8, 256};

// Everything about the simulated device that never changes. Cheap to rebuild.
struct SimHardware {
  const SimModel* model;
  OsChoice os;
  const char* cpu;
  uint32_t cores;
  uint32_t memory_gib;
  uint32_t disk_gb;
  std::string serial;
  std::string hostname;
  std::string mac;
  uint64_t disk_free_bytes;
  bool has_battery;
  uint32_t battery_percent;
  uint32_t battery_health;
  uint32_t battery_cycles;
  bool charging;
};

SimHardware DescribeHardware(uint64_t seed) {
  SeedStream rng(seed);
  SimHardware hw;
  hw.model = &kModels[rng.Below(kModels.size())];
  size_t os_count = 0;
  while (os_count < hw.model->os.size() && hw.model->os[os_count].name != nullptr) ++os_count;
  hw.os = hw.model->os[rng.Below(os_count)];
  const std::string_view kind = hw.model->kind;
  const bool ops = kind == "eni" && std::string_view(hw.os.name) == "Windows";
  hw.cpu = ops ? kOpsModule.cpu : hw.model->cpu;
  hw.cores = ops ? kOpsModule.cores : hw.model->cores;
  hw.memory_gib = ops ? kOpsModule.memory_gib : hw.model->memory_gib;
  hw.disk_gb = ops ? kOpsModule.disk_gb : hw.model->disk_gb;

  static constexpr std::string_view kAlnum = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
  for (const char* p = hw.model->serial_pattern; *p != '\0'; ++p) {
    if (*p == '#') {
      hw.serial += static_cast<char>('0' + rng.Below(10));
    } else if (*p == '@') {
      hw.serial += kAlnum[rng.Below(kAlnum.size())];
    } else {
      hw.serial += *p;
    }
  }

  const char* prefix = kind == "tablet" ? "tab" : kind == "eni" ? "eni" : "pc";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s-%06llx", prefix,
                static_cast<unsigned long long>(rng.Next() & 0xFFFFFF));
  hw.hostname = buf;

  // A locally administered unicast address, as Android's randomised Wi-Fi MACs are.
  uint64_t m = rng.Next();
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x",
                static_cast<unsigned>(((m >> 40) & 0xFC) | 0x02),
                static_cast<unsigned>((m >> 32) & 0xFF), static_cast<unsigned>((m >> 24) & 0xFF),
                static_cast<unsigned>((m >> 16) & 0xFF), static_cast<unsigned>((m >> 8) & 0xFF),
                static_cast<unsigned>(m & 0xFF));
  hw.mac = buf;

  const uint64_t disk_total = uint64_t{hw.disk_gb} * 1'000'000'000ull;
  hw.disk_free_bytes = disk_total * rng.Between(10, 85) / 100;

  hw.has_battery = kind != "eni";
  hw.battery_percent = static_cast<uint32_t>(rng.Between(5, 100));
  hw.battery_health = static_cast<uint32_t>(rng.Between(70, 100));
  // Worn batteries have been through more cycles.
  hw.battery_cycles = static_cast<uint32_t>((100 - hw.battery_health) * 25 + rng.Below(60));
  hw.charging = rng.Below(4) == 0;
  return hw;
}

std::vector<v1::InstalledApp> InitialApps(uint64_t seed, const SimHardware& hw) {
  const std::string_view os = hw.os.name;
  const AppChoice* list = kAndroidApps.data();
  size_t size = kAndroidApps.size();
  if (os == "iPadOS") {
    list = kIpadApps.data();
    size = kIpadApps.size();
  } else if (os == "Windows") {
    list = kWindowsApps.data();
    size = kWindowsApps.size();
  }
  // A separate stream so the hardware does not shift when the app list changes.
  SeedStream rng(seed ^ 0xA5A5A5A5A5A5A5A5ull);
  std::vector<v1::InstalledApp> apps;
  for (size_t i = 0; i < size; ++i) {
    if (i == 0 || rng.Below(2) == 0) {  // the browser everywhere, the rest by chance
      v1::InstalledApp app;
      app.set_id(list[i].id);
      app.set_version(list[i].version);
      apps.push_back(std::move(app));
    }
  }
  return apps;
}

enum class SimOp { kLock, kUnlock, kFocus, kOpenUrl, kWifi, kInstall, kRemove };

std::optional<SimOp> ParseSimOp(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, SimOp>, 7> kOps = {{
      {"lock", SimOp::kLock},
      {"unlock", SimOp::kUnlock},
      {"focus", SimOp::kFocus},
      {"open_url", SimOp::kOpenUrl},
      {"wifi", SimOp::kWifi},
      {"install", SimOp::kInstall},
      {"remove", SimOp::kRemove},
  }};
  for (const auto& [n, op] : kOps) {
    if (n == name) return op;
  }
  return std::nullopt;
}

// Opened URLs are kept for tests, but a simulator running for hours must not grow.
constexpr size_t kMaxOpenedUrls = 32;

class SimPlatform final : public Platform {
 public:
  explicit SimPlatform(uint64_t seed) : seed_(seed) {
    state_.apps = InitialApps(seed, DescribeHardware(seed));
    // The pupil has one of the device's apps in front, the same one on every run.
    front_ = state_.apps[seed % state_.apps.size()].id();
  }

  std::string Kind() const override { return "sim"; }

  Capabilities GetCapabilities() const override {
    Capabilities caps;
    caps.screen_lock = caps.focus = caps.wifi_radio = caps.app_install = caps.restrictions =
        caps.update_window = true;
    return caps;
  }

  v1::Inventory CollectInventory() override {
    const SimHardware hw = DescribeHardware(seed_);
    v1::Inventory inv;
    inv.set_platform("sim");
    inv.set_device_kind(hw.model->kind);
    inv.set_hostname(hw.hostname);
    inv.set_os_name(hw.os.name);
    inv.set_os_version(hw.os.version);
    inv.set_model(hw.model->model);
    inv.set_manufacturer(hw.model->manufacturer);
    inv.set_serial(hw.serial);
    inv.set_cpu(hw.cpu);
    inv.set_cpu_cores(hw.cores);
    // The kernel keeps some memory for itself, so devices report a little less.
    inv.set_memory_bytes(uint64_t{hw.memory_gib} * (1ull << 30) * 94 / 100);
    v1::DiskInfo* disk = inv.add_disks();
    disk->set_mount_point(std::string_view(hw.os.name) == "Windows" ? "C:\\" : "/data");
    disk->set_total_bytes(uint64_t{hw.disk_gb} * 1'000'000'000ull);
    disk->set_free_bytes(hw.disk_free_bytes);
    v1::NetworkInterface* nic = inv.add_interfaces();
    nic->set_name("wlan0");
    nic->set_mac(hw.mac);
    nic->set_wireless(true);
    if (hw.has_battery) {
      v1::Battery* b = inv.mutable_battery();
      b->set_present(true);
      b->set_percent(hw.battery_percent);
      b->set_health_percent(hw.battery_health);
      b->set_charging(hw.charging);
      b->set_cycle_count(hw.battery_cycles);
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (const v1::InstalledApp& app : state_.apps) *inv.add_apps() = app;
    return inv;
  }

  Status Lock(const std::string& message, int64_t until_unix_ms) override {
    std::lock_guard<std::mutex> lock(mu_);
    PREAU_RETURN_IF_ERROR(TakeFailure(SimOp::kLock));
    state_.locked = true;
    state_.lock_message = message;
    FrontMayHaveChanged();
    return Status::Ok();
  }

  Status Unlock() override {
    std::lock_guard<std::mutex> lock(mu_);
    PREAU_RETURN_IF_ERROR(TakeFailure(SimOp::kUnlock));
    state_.locked = false;
    state_.lock_message.clear();
    FrontMayHaveChanged();
    return Status::Ok();
  }

  bool IsLocked() override {
    std::lock_guard<std::mutex> lock(mu_);
    return state_.locked;
  }

  // The simulated lock is what it says: its state is the check.
  LockCheck CheckLock() override {
    std::lock_guard<std::mutex> lock(mu_);
    return LockCheck{state_.locked, state_.locked, ""};
  }

  Status ShowMessage(const std::string& id, const std::string& text) override {
    std::lock_guard<std::mutex> lock(mu_);
    state_.messages.push_back(text);
    return Status::Ok();
  }

  Status Focus(const std::string& app, const std::string& url) override {
    std::lock_guard<std::mutex> lock(mu_);
    PREAU_RETURN_IF_ERROR(TakeFailure(SimOp::kFocus));
    state_.focus_app = app;
    state_.focus_url = url;
    FrontMayHaveChanged();
    return Status::Ok();
  }

  Status OpenUrl(const std::string& url) override {
    if (url.empty()) return InvalidArgument("open_url: empty url");
    std::lock_guard<std::mutex> lock(mu_);
    PREAU_RETURN_IF_ERROR(TakeFailure(SimOp::kOpenUrl));
    if (state_.opened_urls.size() >= kMaxOpenedUrls) {
      state_.opened_urls.erase(state_.opened_urls.begin());
    }
    state_.opened_urls.push_back(url);
    front_ = state_.apps.empty() ? "" : state_.apps[0].id();  // the browser
    FrontMayHaveChanged();
    return Status::Ok();
  }

  Status SetWifiRadio(bool on) override {
    std::lock_guard<std::mutex> lock(mu_);
    PREAU_RETURN_IF_ERROR(TakeFailure(SimOp::kWifi));
    state_.wifi_on = on;
    return Status::Ok();
  }

  Status InstallApp(const std::string& app_id, const std::string& version,
                    const std::string& package_path) override {
    if (app_id.empty()) return InvalidArgument("install: empty app id");
    std::lock_guard<std::mutex> lock(mu_);
    PREAU_RETURN_IF_ERROR(TakeFailure(SimOp::kInstall));
    auto it = FindApp(app_id);
    if (it == state_.apps.end()) {
      state_.apps.emplace_back();
      it = state_.apps.end() - 1;
      it->set_id(app_id);
    }
    it->set_version(version);
    return Status::Ok();
  }

  Status RemoveApp(const std::string& app_id) override {
    if (app_id.empty()) return InvalidArgument("remove: empty app id");
    std::lock_guard<std::mutex> lock(mu_);
    PREAU_RETURN_IF_ERROR(TakeFailure(SimOp::kRemove));
    auto it = FindApp(app_id);
    if (it != state_.apps.end()) state_.apps.erase(it);  // already absent is success
    return Status::Ok();
  }

  // Nothing in front of the lock; a focus puts its app (or the browser) in front.
  std::string ForegroundApp() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_.locked) return "";
    if (!state_.focus_app.empty()) return state_.focus_app;
    if (!state_.focus_url.empty()) return state_.apps.empty() ? "" : state_.apps[0].id();
    return front_;
  }

  void OnForegroundAppChange(std::function<void()> listener) override {
    std::lock_guard<std::mutex> lock(mu_);
    on_front_ = std::move(listener);
  }

  SimState Snapshot() const {
    std::lock_guard<std::mutex> lock(mu_);
    return state_;
  }

  void ForceUnlock() {
    std::lock_guard<std::mutex> lock(mu_);
    state_.locked = false;
    FrontMayHaveChanged();
  }

  void FailNext(SimOp op, std::string reason, int times) {
    std::lock_guard<std::mutex> lock(mu_);
    failures_.push_back({op, std::move(reason), times});
  }

 private:
  struct PendingFailure {
    SimOp op;
    std::string reason;
    int remaining;
  };

  // Called with mu_ held; the listener only posts its work.
  void FrontMayHaveChanged() {
    if (on_front_) on_front_();
  }

  // Called with mu_ held.
  Status TakeFailure(SimOp op) {
    for (auto it = failures_.begin(); it != failures_.end(); ++it) {
      if (it->op != op) continue;
      Status failure = Internal(it->reason);
      if (--it->remaining <= 0) failures_.erase(it);
      return failure;
    }
    return Status::Ok();
  }

  std::vector<v1::InstalledApp>::iterator FindApp(const std::string& id) {
    return std::find_if(state_.apps.begin(), state_.apps.end(),
                        [&](const v1::InstalledApp& a) { return a.id() == id; });
  }

  const uint64_t seed_;
  mutable std::mutex mu_;
  SimState state_;
  std::string front_;  // the app in front when no lock or focus decides
  std::function<void()> on_front_;
  std::vector<PendingFailure> failures_;
};

}  // namespace

std::unique_ptr<Platform> MakeSimPlatform(uint64_t seed) {
  return std::make_unique<SimPlatform>(seed);
}

std::optional<SimState> ReadSimState(const Platform& platform) {
  const auto* sim = dynamic_cast<const SimPlatform*>(&platform);
  if (sim == nullptr) return std::nullopt;
  return sim->Snapshot();
}

void SimForceUnlock(Platform& platform) {
  if (auto* sim = dynamic_cast<SimPlatform*>(&platform)) sim->ForceUnlock();
}

Status SimFailNext(Platform& platform, const std::string& op, std::string reason, int times) {
  auto* sim = dynamic_cast<SimPlatform*>(&platform);
  if (sim == nullptr) return InvalidArgument("SimFailNext: not a simulated platform");
  std::optional<SimOp> parsed = ParseSimOp(op);
  if (!parsed) {
    return InvalidArgument("SimFailNext: unknown operation '" + op +
                           "' (lock, unlock, focus, open_url, wifi, install, remove)");
  }
  if (times <= 0) return InvalidArgument("SimFailNext: times must be positive");
  sim->FailNext(*parsed, std::move(reason), times);
  return Status::Ok();
}

}  // namespace preau::agent

// Tests of the agent's platforms: the Linux inventory read from a fake /proc, /sys and
// /etc tree (and from this machine), the command runner that the Linux actions go
// through, and the simulated platform used by tests and preau-sim.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "agent/platform/command_runner.h"
#include "agent/platform/platform.h"
#include "common/files.h"

namespace preau::agent {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// A temporary directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "preau-platform-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

  void Write(const std::string& rel, const std::string& content) const {
    fs::path p = fs::path(path_) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << content;
  }
  void Mkdir(const std::string& rel) const { fs::create_directories(fs::path(path_) / rel); }
  std::string Read(const std::string& rel) const {
    std::ifstream in(fs::path(path_) / rel);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  std::string path_;
};

constexpr char kCpuInfo[] =
    "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Celeron(R) N4120 "
    "CPU @ 1.10GHz\n\nprocessor\t: 1\nmodel name\t: Intel(R) Celeron(R) N4120 CPU @ "
    "1.10GHz\n\nprocessor\t: 2\n\nprocessor\t: 3\n";

// A school laptop: Debian, four cores, 8 GiB, Ethernet + Wi-Fi, a worn battery.
void WriteLaptopTree(const TempDir& root) {
  root.Write("etc/os-release",
             "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n"
             "VERSION_ID=\"12\"\nID=debian\n");
  root.Write("proc/sys/kernel/hostname", "salle-104-pc3\n");
  root.Write("proc/cpuinfo", kCpuInfo);
  root.Write("proc/meminfo", "MemTotal:        8048576 kB\nMemFree:         1000 kB\n");
  root.Write("sys/class/net/lo/address", "00:00:00:00:00:00\n");
  root.Write("sys/class/net/enp1s0/address", "3c:52:82:aa:bb:01\n");
  root.Write("sys/class/net/wlp2s0/address", "f4:8c:50:12:34:56\n");
  root.Mkdir("sys/class/net/wlp2s0/wireless");
  root.Write("sys/class/power_supply/AC/type", "Mains\n");
  root.Write("sys/class/power_supply/BAT0/type", "Battery\n");
  root.Write("sys/class/power_supply/BAT0/capacity", "76\n");
  root.Write("sys/class/power_supply/BAT0/status", "Charging\n");
  root.Write("sys/class/power_supply/BAT0/energy_full", "40000000\n");
  root.Write("sys/class/power_supply/BAT0/energy_full_design", "50000000\n");
  root.Write("sys/class/power_supply/BAT0/cycle_count", "312\n");
  root.Write("sys/class/power_supply/hidpp_battery_0/type", "Battery\n");  // a mouse
  root.Write("sys/class/power_supply/hidpp_battery_0/scope", "Device\n");
  root.Write("sys/class/dmi/id/product_name", "Y13\n");
  root.Write("sys/class/dmi/id/sys_vendor", "Unowhy\n");
  root.Write("sys/class/dmi/id/product_serial", "Y13B0012345\n");
}

TEST(LinuxInventoryTest, ReadsEveryFieldFromTheTree) {
  TempDir root;
  WriteLaptopTree(root);
  v1::Inventory inv = MakeLinuxPlatform({}, root.path())->CollectInventory();

  EXPECT_EQ(inv.platform(), "linux");
  EXPECT_EQ(inv.hostname(), "salle-104-pc3");
  EXPECT_EQ(inv.os_name(), "Debian GNU/Linux");
  EXPECT_EQ(inv.os_version(), "12");
  EXPECT_EQ(inv.cpu(), "Intel(R) Celeron(R) N4120 CPU @ 1.10GHz");
  EXPECT_EQ(inv.cpu_cores(), 4u);
  EXPECT_EQ(inv.memory_bytes(), 8048576ull * 1024);
  EXPECT_EQ(inv.model(), "Y13");
  EXPECT_EQ(inv.manufacturer(), "Unowhy");
  EXPECT_EQ(inv.serial(), "Y13B0012345");

  ASSERT_EQ(inv.interfaces_size(), 2);  // lo skipped, sorted by name
  EXPECT_EQ(inv.interfaces(0).name(), "enp1s0");
  EXPECT_EQ(inv.interfaces(0).mac(), "3c:52:82:aa:bb:01");
  EXPECT_FALSE(inv.interfaces(0).wireless());
  EXPECT_EQ(inv.interfaces(1).name(), "wlp2s0");
  EXPECT_TRUE(inv.interfaces(1).wireless());

  ASSERT_TRUE(inv.battery().present());
  EXPECT_EQ(inv.battery().percent(), 76u);
  EXPECT_TRUE(inv.battery().charging());
  EXPECT_EQ(inv.battery().health_percent(), 80u);
  EXPECT_EQ(inv.battery().cycle_count(), 312u);
  EXPECT_EQ(inv.device_kind(), "laptop");

  ASSERT_EQ(inv.disks_size(), 1);
  EXPECT_EQ(inv.disks(0).mount_point(), "/");
  EXPECT_GT(inv.disks(0).total_bytes(), 0u);
  EXPECT_LE(inv.disks(0).free_bytes(), inv.disks(0).total_bytes());
  EXPECT_EQ(inv.apps_size(), 0);
}

TEST(LinuxInventoryTest, FallbacksAndMissingFields) {
  TempDir root;
  // No NAME: PRETTY_NAME is used. No DMI: the device tree names the board. A battery
  // that reports charge (µAh) rather than energy. A placeholder serial is dropped.
  root.Write("usr/lib/os-release", "PRETTY_NAME='Raspbian GNU/Linux 11'\nVERSION_ID=11\n");
  root.Write("etc/hostname", "eni-labo\n");
  root.Write("proc/device-tree/model", std::string("Raspberry Pi 4 Model B\0", 23));
  root.Write("proc/cpuinfo", "processor\t: 0\nHardware\t: BCM2835\nprocessor : 1\n");
  root.Write("sys/class/dmi/id/product_serial", "To Be Filled By O.E.M.\n");
  root.Write("sys/class/power_supply/battery/type", "Battery\n");
  root.Write("sys/class/power_supply/battery/status", "Discharging\n");
  root.Write("sys/class/power_supply/battery/capacity", "12\n");
  root.Write("sys/class/power_supply/battery/charge_full", "2900000\n");
  root.Write("sys/class/power_supply/battery/charge_full_design", "4000000\n");

  v1::Inventory inv = MakeLinuxPlatform({}, root.path())->CollectInventory();
  EXPECT_EQ(inv.os_name(), "Raspbian GNU/Linux 11");
  EXPECT_EQ(inv.os_version(), "11");
  EXPECT_EQ(inv.hostname(), "eni-labo");
  EXPECT_EQ(inv.model(), "Raspberry Pi 4 Model B");
  EXPECT_EQ(inv.manufacturer(), "");
  EXPECT_EQ(inv.serial(), "");
  EXPECT_EQ(inv.cpu(), "BCM2835");
  EXPECT_EQ(inv.cpu_cores(), 2u);
  EXPECT_EQ(inv.memory_bytes(), 0u);
  EXPECT_EQ(inv.interfaces_size(), 0);
  EXPECT_EQ(inv.battery().percent(), 12u);
  EXPECT_FALSE(inv.battery().charging());
  EXPECT_EQ(inv.battery().health_percent(), 73u);
  EXPECT_EQ(inv.battery().cycle_count(), 0u);
}

TEST(LinuxInventoryTest, NoBatteryMeansDesktop) {
  TempDir root;
  root.Write("sys/class/power_supply/AC/type", "Mains\n");
  v1::Inventory inv = MakeLinuxPlatform({}, root.path())->CollectInventory();
  EXPECT_FALSE(inv.battery().present());
  EXPECT_EQ(inv.device_kind(), "desktop");
}

TEST(LinuxInventoryTest, ThisMachine) {
  v1::Inventory inv = MakeLinuxPlatform()->CollectInventory();
  EXPECT_FALSE(inv.hostname().empty());
  EXPECT_FALSE(inv.os_name().empty());
  EXPECT_FALSE(inv.cpu().empty());
  EXPECT_GT(inv.cpu_cores(), 0u);
  EXPECT_GT(inv.memory_bytes(), 0u);
  ASSERT_GE(inv.disks_size(), 1);
  EXPECT_EQ(inv.disks(0).mount_point(), "/");
  std::set<std::string> mounts;
  for (const auto& d : inv.disks()) {
    EXPECT_TRUE(mounts.insert(d.mount_point()).second) << "listed twice: " << d.mount_point();
    EXPECT_NE(d.mount_point().rfind("/proc", 0), 0u);
    EXPECT_NE(d.mount_point().rfind("/sys", 0), 0u);
  }
  for (const auto& nic : inv.interfaces()) EXPECT_NE(nic.name(), "lo");
}

// --- command runner -------------------------------------------------------------------

TEST(CommandRunnerTest, PlaceholderValueStaysOneArgument) {
  TempDir dir;
  dir.Write("canary", "alive");
  const std::string url = "http://ent.example/x?a=1&b=2;rm -rf " + dir.path() +
                          "/canary; echo 'pwned' $(id) `id` \"q\" {url}";
  Result<CommandOutput> out = RunCommand("printf %s {url}", {{"url", url}}, milliseconds(5000));
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->exit_code, 0);
  EXPECT_EQ(out->output, url);
  EXPECT_EQ(dir.Read("canary"), "alive");
}

TEST(CommandRunnerTest, ShellSyntaxAndUnknownPlaceholdersAreLeftAlone) {
  EXPECT_EQ(SubstitutePlaceholders("awk '{print $1}' {app} ${HOME} {nope}", {{"app", "a b"}}),
            "awk '{print $1}' 'a b' ${HOME} {nope}");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
  Result<CommandOutput> out = RunCommand("echo a b | awk '{print $2}'", {}, milliseconds(5000));
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->output, "b\n");
}

TEST(CommandRunnerTest, ReportsNonZeroExitAndStderr) {
  Result<CommandOutput> out = RunCommand("echo no session >&2; exit 3", {}, milliseconds(5000));
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->exit_code, 3);
  EXPECT_EQ(out->output, "no session\n");

  Status st = RunCommandChecked("lock", "echo no session >&2; exit 3", {}, milliseconds(5000));
  EXPECT_EQ(st.code(), Code::kInternal);
  EXPECT_EQ(st.message(), "lock: exited with status 3: no session");

  EXPECT_EQ(RunCommand("  ", {}, milliseconds(1000)).status().code(), Code::kInvalidArgument);
}

bool ProcessGoneOrZombie(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string line;
  std::getline(stat, line);
  size_t paren = line.rfind(')');
  return paren == std::string::npos || line.size() < paren + 3 || line[paren + 2] == 'Z' ||
         line[paren + 2] == 'X';
}

TEST(CommandRunnerTest, TimeoutKillsTheCommandAndItsChildren) {
  TempDir dir;
  const auto start = std::chrono::steady_clock::now();
  Result<CommandOutput> out = RunCommand("sleep 30 & echo $! > {pidfile}; wait",
                                         {{"pidfile", dir.path() + "/pid"}}, milliseconds(1000));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(out.status().code(), Code::kDeadlineExceeded);
  EXPECT_NE(out.status().message().find("timed out after 1000 ms"), std::string::npos);
  EXPECT_LT(elapsed, std::chrono::seconds(10));

  const std::string pid_text = dir.Read("pid");
  ASSERT_FALSE(pid_text.empty()) << "the command never wrote its child's pid";
  pid_t child = std::stoi(pid_text);
  ASSERT_GT(child, 0);
  // The orphaned sleep is reaped by whoever adopts it; wait for that with a deadline.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!ProcessGoneOrZombie(child) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_TRUE(ProcessGoneOrZombie(child)) << "background child " << child << " still runs";
}

TEST(CommandRunnerTest, BackgroundProcessHoldingOutputDoesNotBlock) {
  const auto start = std::chrono::steady_clock::now();
  Result<CommandOutput> out = RunCommand("sleep 20 & echo $!", {}, milliseconds(15000));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_LT(elapsed, std::chrono::seconds(10));
  pid_t background = std::stoi(out->output);
  ASSERT_GT(background, 0);
  kill(background, SIGKILL);
}

// --- Linux platform actions -------------------------------------------------------------

TEST(LinuxPlatformTest, RunsConfiguredCommands) {
  TempDir dir;
  LinuxCommands c;
  c.lock = "printf %s {message} > " + dir.path() + "/lock";
  c.unlock = "true";
  c.is_locked = "echo yes";
  c.wifi_on = "echo enabled > " + dir.path() + "/radio";
  c.wifi_off = "echo rfkill blocked >&2; false";
  c.wifi_state = "cat " + dir.path() + "/radio";
  c.open_url = "printf %s {url} > " + dir.path() + "/url";
  c.install = "printf '%s|%s|%s' {app} {version} {file} > " + dir.path() + "/install";
  c.remove = "printf %s {app} > " + dir.path() + "/remove";
  auto p = MakeLinuxPlatform(c, dir.path());

  EXPECT_EQ(p->Kind(), "linux");
  Capabilities caps = p->GetCapabilities();
  EXPECT_TRUE(caps.screen_lock);
  EXPECT_TRUE(caps.wifi_radio);
  EXPECT_TRUE(caps.app_install);
  EXPECT_FALSE(caps.focus);

  // Without preau-session the session locker is asked, but that proves nothing: the lock
  // is reported unverified, never as done.
  Status lock = p->Lock("Contrôle en cours; $(reboot)");
  EXPECT_EQ(lock.code(), Code::kUnavailable);
  EXPECT_EQ(lock.message(),
            "unverified: no preau-session socket is configured; the session locker was asked "
            "instead");
  EXPECT_EQ(dir.Read("lock"), "Contrôle en cours; $(reboot)");
  EXPECT_TRUE(p->IsLocked());
  Platform::LockCheck check = p->CheckLock();
  EXPECT_TRUE(check.locked);
  EXPECT_FALSE(check.verified);
  EXPECT_TRUE(p->Unlock().ok());
  EXPECT_TRUE(p->SetWifiRadio(true).ok());
  Status off = p->SetWifiRadio(false);
  EXPECT_EQ(off.code(), Code::kInternal);
  EXPECT_EQ(off.message(), "wifi_off: exited with status 1: rfkill blocked");
  // A switch that exits 0 but leaves the radio as it was is not applied.
  ASSERT_TRUE(preau::WriteFileAtomic(dir.path() + "/radio", "disabled\n").ok());
  LinuxCommands silent = c;
  silent.wifi_on = "true";
  auto q = MakeLinuxPlatform(silent, dir.path());
  Status still = q->SetWifiRadio(true);
  EXPECT_EQ(still.code(), Code::kUnavailable);
  EXPECT_EQ(still.message(), "the radio is still off");

  ASSERT_TRUE(p->OpenUrl("https://lumni.fr/?q=a b&c='d'").ok());
  EXPECT_EQ(dir.Read("url"), "https://lumni.fr/?q=a b&c='d'");
  ASSERT_TRUE(p->InstallApp("org.geogebra", "6.0", "/var/cache/preau/a b.deb").ok());
  EXPECT_EQ(dir.Read("install"), "org.geogebra|6.0|/var/cache/preau/a b.deb");
  ASSERT_TRUE(p->RemoveApp("org.geogebra").ok());
  EXPECT_EQ(dir.Read("remove"), "org.geogebra");

  EXPECT_EQ(p->Focus("org.geogebra", "").code(), Code::kFailedPrecondition);
  EXPECT_TRUE(p->Focus("", "").ok());
  EXPECT_FALSE(ReadSimState(*p).has_value());
  EXPECT_EQ(SimFailNext(*p, "lock", "x").code(), Code::kInvalidArgument);
}

TEST(LinuxPlatformTest, IsLockedFollowsTheCommandOutput) {
  LinuxCommands c;
  c.is_locked = "echo no";
  EXPECT_FALSE(MakeLinuxPlatform(c, "/")->IsLocked());
  c.is_locked = "exit 1";
  EXPECT_FALSE(MakeLinuxPlatform(c, "/")->IsLocked());
}

TEST(LinuxPlatformTest, EmptyCommandsAreNotSupported) {
  TempDir empty;  // no dpkg database there: apt cannot install either
  LinuxCommands none{"", "", "", "", "", "", "", "", empty.path()};
  auto p = MakeLinuxPlatform(none, "/");
  Capabilities caps = p->GetCapabilities();
  EXPECT_FALSE(caps.screen_lock || caps.focus || caps.wifi_radio || caps.app_install ||
               caps.restrictions);
  // Without preau-session nothing can verify a lock: the agent says so (the class ack is
  // FAILED with this reason), then why the session locker could not stand in.
  Status st = p->Lock("x");
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_EQ(st.message().rfind("unverified: ", 0), 0u) << st.message();
  EXPECT_NE(st.message().find("not supported on this platform: no lock command configured"),
            std::string::npos) << st.message();
  EXPECT_EQ(p->Unlock().code(), Code::kFailedPrecondition);
  EXPECT_EQ(p->SetWifiRadio(false).message(),
            "not supported on this platform: no wifi_off command configured");
  EXPECT_EQ(p->OpenUrl("https://a").code(), Code::kFailedPrecondition);
  EXPECT_EQ(p->InstallApp("a", "1", "/f").message(),
            "not supported on this platform: no install command configured and no apt-get "
            "or dpkg database under " + empty.path());
  EXPECT_EQ(p->RemoveApp("a").code(), Code::kFailedPrecondition);
  EXPECT_FALSE(p->IsLocked());
}

// --- simulated platform -----------------------------------------------------------------

TEST(SimPlatformTest, SameSeedSameDevice) {
  for (uint64_t seed : {0ull, 1ull, 42ull, 0xFFFFFFFFFFFFFFFFull}) {
    v1::Inventory a = MakeSimPlatform(seed)->CollectInventory();
    v1::Inventory b = MakeSimPlatform(seed)->CollectInventory();
    EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString()) << "seed " << seed;
  }
}

TEST(SimPlatformTest, SeedsMakeAVariedPlausibleFleet) {
  std::set<std::string> models, kinds, serials, macs, hostnames;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    v1::Inventory inv = MakeSimPlatform(seed)->CollectInventory();
    models.insert(inv.model());
    kinds.insert(inv.device_kind());
    serials.insert(inv.serial());
    hostnames.insert(inv.hostname());
    EXPECT_EQ(inv.platform(), "sim");
    EXPECT_FALSE(inv.manufacturer().empty());
    EXPECT_FALSE(inv.os_name().empty());
    EXPECT_FALSE(inv.os_version().empty());
    EXPECT_FALSE(inv.cpu().empty());
    EXPECT_GT(inv.cpu_cores(), 0u);
    EXPECT_GT(inv.memory_bytes(), 1ull << 30);
    ASSERT_EQ(inv.disks_size(), 1);
    EXPECT_LT(inv.disks(0).free_bytes(), inv.disks(0).total_bytes());
    ASSERT_EQ(inv.interfaces_size(), 1);
    EXPECT_EQ(inv.interfaces(0).name(), "wlan0");
    EXPECT_EQ(inv.interfaces(0).mac().size(), 17u);
    macs.insert(inv.interfaces(0).mac());
    EXPECT_GE(inv.apps_size(), 1);
    if (inv.device_kind() == "eni") {
      EXPECT_FALSE(inv.battery().present()) << inv.model();
    } else {
      ASSERT_TRUE(inv.battery().present()) << inv.model();
      EXPECT_GE(inv.battery().health_percent(), 70u);
      EXPECT_LE(inv.battery().health_percent(), 100u);
      EXPECT_LE(inv.battery().percent(), 100u);
    }
    if (inv.os_name() == "Windows") {  // x86 only: a laptop or a display's OPS PC
      EXPECT_NE(inv.cpu().find("Intel"), std::string::npos) << inv.model();
    }
    if (inv.device_kind() == "tablet" && inv.manufacturer() != "Apple") {
      EXPECT_EQ(inv.os_name(), "Android");
    }
  }
  EXPECT_GE(models.size(), 10u);
  EXPECT_EQ(kinds, (std::set<std::string>{"eni", "laptop", "tablet"}));
  EXPECT_GE(serials.size(), 299u);
  EXPECT_GE(macs.size(), 299u);
  EXPECT_GE(hostnames.size(), 299u);
}

TEST(SimPlatformTest, RecordsWhatEnforcersDo) {
  auto p = MakeSimPlatform(7);
  EXPECT_EQ(p->Kind(), "sim");
  EXPECT_TRUE(p->GetCapabilities().focus);
  const size_t initial_apps = ReadSimState(*p)->apps.size();

  ASSERT_TRUE(p->Lock("Rangez les tablettes").ok());
  EXPECT_TRUE(p->IsLocked());
  SimState s = *ReadSimState(*p);
  EXPECT_TRUE(s.locked);
  EXPECT_EQ(s.lock_message, "Rangez les tablettes");

  SimForceUnlock(*p);  // a pupil found a way out
  EXPECT_FALSE(p->IsLocked());
  ASSERT_TRUE(p->Lock("Rangez les tablettes").ok());
  EXPECT_TRUE(p->IsLocked());
  ASSERT_TRUE(p->Unlock().ok());
  EXPECT_FALSE(ReadSimState(*p)->locked);

  ASSERT_TRUE(p->Focus("org.geogebra.android", "").ok());
  EXPECT_EQ(ReadSimState(*p)->focus_app, "org.geogebra.android");
  ASSERT_TRUE(p->Focus("", "").ok());
  EXPECT_EQ(ReadSimState(*p)->focus_app, "");

  ASSERT_TRUE(p->OpenUrl("https://lumni.fr").ok());
  EXPECT_EQ(ReadSimState(*p)->opened_urls, std::vector<std::string>{"https://lumni.fr"});

  ASSERT_TRUE(p->SetWifiRadio(false).ok());
  EXPECT_FALSE(ReadSimState(*p)->wifi_on);

  ASSERT_TRUE(p->InstallApp("fr.preau.quiz", "1.0", "/tmp/q.apk").ok());
  ASSERT_TRUE(p->InstallApp("fr.preau.quiz", "1.1", "/tmp/q.apk").ok());
  s = *ReadSimState(*p);
  ASSERT_EQ(s.apps.size(), initial_apps + 1);
  EXPECT_EQ(s.apps.back().id(), "fr.preau.quiz");
  EXPECT_EQ(s.apps.back().version(), "1.1");
  v1::Inventory inv = p->CollectInventory();
  EXPECT_EQ(inv.apps(inv.apps_size() - 1).version(), "1.1");
  ASSERT_TRUE(p->RemoveApp("fr.preau.quiz").ok());
  EXPECT_EQ(ReadSimState(*p)->apps.size(), initial_apps);
  EXPECT_EQ(p->InstallApp("", "1", "/f").code(), Code::kInvalidArgument);
}

TEST(SimPlatformTest, InjectedFailuresFailThenClear) {
  auto p = MakeSimPlatform(3);
  ASSERT_TRUE(SimFailNext(*p, "lock", "écran occupé", 2).ok());
  for (int i = 0; i < 2; ++i) {
    Status st = p->Lock("m");
    EXPECT_EQ(st.code(), Code::kInternal);
    EXPECT_EQ(st.message(), "écran occupé");
    EXPECT_FALSE(ReadSimState(*p)->locked);
  }
  EXPECT_TRUE(p->SetWifiRadio(false).ok());  // other operations are unaffected
  EXPECT_TRUE(p->Lock("m").ok());
  EXPECT_TRUE(ReadSimState(*p)->locked);

  ASSERT_TRUE(SimFailNext(*p, "install", "disk full").ok());
  EXPECT_EQ(p->InstallApp("a", "1", "/f").message(), "disk full");
  EXPECT_TRUE(p->InstallApp("a", "1", "/f").ok());

  Status bad = SimFailNext(*p, "reboot", "x");
  EXPECT_EQ(bad.code(), Code::kInvalidArgument);
  EXPECT_NE(bad.message().find("unknown operation 'reboot'"), std::string::npos);
  EXPECT_EQ(SimFailNext(*p, "lock", "x", 0).code(), Code::kInvalidArgument);
}

TEST(SimPlatformTest, StateIsSafeToUseFromSeveralThreads) {
  auto p = MakeSimPlatform(11);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&p, t] {
      for (int i = 0; i < 200; ++i) {
        (void)p->OpenUrl("https://a/" + std::to_string(t));
        (void)p->Lock("m");
        (void)ReadSimState(*p);
        (void)p->CollectInventory();
      }
    });
  }
  for (auto& th : threads) th.join();
  SimState s = *ReadSimState(*p);
  EXPECT_TRUE(s.locked);
  EXPECT_EQ(s.opened_urls.size(), 32u);  // bounded, so a long simulation does not grow
}

}  // namespace
}  // namespace preau::agent

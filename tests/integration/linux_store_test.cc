// The pedagogical store on the real `linux` platform: real apt-get, dpkg and dpkg-deb
// acting on a throwaway Debian root that each test builds (an empty dpkg database, apt's
// folders, one configured source: a local repository holding a dependency), packages
// made by the test with `dpkg-deb --build`, the real server, the real CLI, real mTLS.
// Upload checks (format from the header, name/version from the package, bad input),
// install with dependencies, `devices show`, upgrade, removal on unassign, a broken
// dependency, a package already installed from elsewhere, and blocked apps ended.
#include <signal.h>
#include <sys/wait.h>
#include <spawn.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <fstream>

#include <gtest/gtest.h>

#include "agent/apps/apps_feature.h"
#include "agent/control/teacher_state.h"
#include "agent/platform/linux_packages.h"
#include "agent/policy/policy_plugin.h"
#include "common/files.h"
#include "common/subprocess.h"
#include "tests/support/harness.h"

extern char** environ;

namespace preau::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kClass = "ville/jaures/cm2-a";

// Runs a program (no shell) and asserts it exited 0; returns its output.
std::string MustRun(const std::vector<std::string>& argv) {
  auto out = RunProgram(argv, 60s);
  EXPECT_TRUE(out.ok()) << argv[0] << ": " << out.status().message();
  if (!out.ok()) return "";
  EXPECT_EQ(out->exit_code, 0) << argv[0] << ": " << out->output;
  return out->output;
}

void Write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// Builds name_version.deb in `dir`: /usr/bin/NAME (a copy of sleep, so it can be run and
// told apart from every other process) and a launchable desktop entry.
std::string MakeDeb(const std::string& dir, const std::string& name, const std::string& version,
                    const std::string& depends = "") {
  const std::string tree = dir + "/build-" + name + "_" + version;
  std::string control = "Package: " + name + "\nVersion: " + version +
                        "\nArchitecture: all\nMaintainer: Tests <t@example.org>\n"
                        "Description: a test package\n";
  if (!depends.empty()) control += "Depends: " + depends + "\n";
  Write(tree + "/DEBIAN/control", control);
  fs::create_directories(tree + "/usr/bin");
  fs::copy_file("/bin/sleep", tree + "/usr/bin/" + name, fs::copy_options::overwrite_existing);
  Write(tree + "/usr/share/applications/" + name + ".desktop",
        "[Desktop Entry]\nType=Application\nName=Jeu " + name + "\nExec=" + name + "\n");
  const std::string deb = dir + "/" + name + "_" + version + ".deb";
  MustRun({"dpkg-deb", "--build", "--root-owner-group", tree, deb});
  return deb;
}

// A Debian root of its own: empty dpkg database, apt folders, and as its configured
// source a local repository holding `libcalc` (what fr.calcul depends on).
class DebRoot {
 public:
  explicit DebRoot(const std::string& dir) : root_(dir + "/root"), repo_(dir + "/repo") {
    for (const char* d : {"/etc/apt/apt.conf.d", "/etc/apt/preferences.d",
                          "/etc/apt/sources.list.d", "/var/lib/dpkg/info",
                          "/var/lib/dpkg/updates", "/var/lib/apt/lists/partial",
                          "/var/cache/apt/archives/partial", "/var/log/apt"}) {
      fs::create_directories(root_ + d);
    }
    Write(root_ + "/var/lib/dpkg/status", "");
    Write(root_ + "/var/lib/dpkg/available", "");
    fs::create_directories(repo_);
    MakeDeb(repo_, "libcalc", "2.0");
    // A flat repository: file names in its index are relative to it.
    std::string index = MustRun({"dpkg-scanpackages", "--multiversion", repo_, "/dev/null"});
    // Its stderr ("dpkg-scanpackages: info: Wrote 1 entries") comes in the same output.
    for (size_t at; (at = index.find("dpkg-scanpackages:")) != std::string::npos;) {
      index.erase(at, index.find('\n', at) + 1 - at);
    }
    const std::string absolute = "Filename: " + repo_ + "/";
    for (size_t at; (at = index.find(absolute)) != std::string::npos;) {
      index.replace(at, absolute.size(), "Filename: ./");
    }
    Write(repo_ + "/Packages", index);
    Write(root_ + "/etc/apt/sources.list", "deb [trusted=yes] file:" + repo_ + " ./\n");
    Status st = Packages().UpdateSources();
    EXPECT_TRUE(st.ok()) << st.message();
  }
  const std::string& root() const { return root_; }
  agent::LinuxPackages Packages() const { return agent::LinuxPackages({root_, ""}); }
  std::string Version(const std::string& package) const { return Packages().DebVersion(package); }
  // dpkg's own view: nothing half-installed, half-configured or awaiting triggers.
  std::string Audit() const { return MustRun({"dpkg", "--root=" + root_, "--audit"}); }
  std::string DpkgStatus() const {
    auto s = ReadFile(root_ + "/var/lib/dpkg/status");
    return s.ok() ? *s : "";
  }

 private:
  std::string root_;
  std::string repo_;
};

class LinuxStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestServer>(dir_.path());
    server_->CreateGroup(kClass);
    admin_ = server_->data_dir() + "/admin.credentials";
    // The reviewer is appointed by another admin than the uploader: nobody approves what
    // they, or whoever created them, uploaded (separation of duties).
    reviewer_ = server_->CreateOperatorAs(
        server_->CreateOperator(dir_.path(), "academie", v1::ROLE_ADMIN, {}), dir_.path(),
        "m.durand", v1::ROLE_REVIEWER, {});
    root_ = std::make_unique<DebRoot>(dir_.path());
  }

  CommandResult Cli(std::vector<std::string> args, const std::string& credentials = "") {
    args.insert(args.end(), {"--credentials", credentials.empty() ? admin_ : credentials,
                             "--server", server_->address()});
    return RunBinary("preau", args);
  }
  CommandResult Upload(const std::string& file, const std::string& name,
                       const std::string& version) {
    return Cli({"apps", "upload", file, "--name", name, "--version", version});
  }
  // Upload, approve and assign as required to the class.
  void Publish(const std::string& file, const std::string& name, const std::string& version) {
    auto r = Upload(file, name, version);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = Cli({"apps", "review", name + "@" + version, "--approve"}, reviewer_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = Cli({"apps", "assign", name + "@" + version, "--group", kClass, "--required"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // A Linux laptop of the class whose packages go to the throwaway root and whose
  // blocked apps' menu entries are overridden below it.
  void StartLaptop(const std::string& flatpak_dir = "") {
    agent::LinuxCommands cmds;
    cmds.packages_root = root_->root();
    cmds.flatpak_system_dir = flatpak_dir;
    cmds.blocked_entries_dir = root_->root() + "/usr/local/share/applications";
    TestAgentOptions options;
    options.platform = agent::MakeLinuxPlatform(cmds);
    const std::string state = dir_ / "laptop";
    options.add_features = [state](agent::Agent& a) {
      agent::AppsOptions apps;
      apps.dir = agent::AppsDirFor(state, "");
      apps.retry_min = 200ms;
      apps.retry_max = 1s;
      apps.on_apps_changed = [raw = &a] { raw->CheckInventory(); };
      a.AddFeature(std::make_unique<agent::AppsFeature>(apps));
      a.AddFeature(std::make_unique<agent::PolicyPlugin>(std::make_shared<agent::TeacherState>()));
    };
    auto a = TestAgent::Start(*server_, state, server_->CreateToken(kClass), std::move(options));
    ASSERT_TRUE(a.ok()) << a.status().message();
    laptop_ = std::move(a).value();
    ASSERT_TRUE(laptop_->WaitConnected());
    auto devices = server_->Devices(kClass);
    ASSERT_EQ(devices.size(), 1u);
    device_id_ = devices[0].id();
  }

  // The app's line of `preau apps status NAME -o csv` for the laptop ("" when none).
  std::string AppStatus(const std::string& name) {
    auto r = Cli({"apps", "status", name, "-o", "csv"});
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
      if (line.find(device_id_) != std::string::npos) return line;
    }
    return "";
  }
  std::string DevicesShow() { return Cli({"devices", "show", device_id_, "-o", "json"}).out; }

  TempDir dir_;
  std::unique_ptr<TestServer> server_;
  std::string admin_, reviewer_, device_id_;
  std::unique_ptr<DebRoot> root_;
  std::unique_ptr<TestAgent> laptop_;
};

TEST_F(LinuxStoreTest, UploadReadsTheFormatNameAndVersionFromThePackage) {
  const std::string deb = MakeDeb(dir_.path(), "fr.calcul", "1.0", "libcalc");

  auto r = Upload(deb, "fr.kalkul", "1.0");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("the package calls itself 'fr.calcul' (its Package field), not "
                       "'fr.kalkul' as --name says"), std::string::npos) << r.err;
  r = Upload(deb, "fr.calcul", "1.1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("the package's version is '1.0' (its Version field), not '1.1'"),
            std::string::npos) << r.err;

  // The header decides, not the name: a .deb called .bin is a Linux package.
  const std::string renamed = dir_ / "calcul.bin";
  fs::copy_file(deb, renamed);
  r = Upload(renamed, "fr.calcul", "1.0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("linux"), std::string::npos) << r.out;
  r = Cli({"apps", "list", "-o", "json"});
  EXPECT_NE(r.out.find("\"platform\": \"linux\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"format\": \"deb\""), std::string::npos) << r.out;
}

TEST_F(LinuxStoreTest, BadPackagesAreRefusedWithAClearErrorAndNothingStored) {
  const std::string deb = MakeDeb(dir_.path(), "fr.jeu", "1.0");
  std::string bytes = *ReadFile(deb);

  const std::string truncated = dir_ / "jeu-cut.deb";
  Write(truncated, bytes.substr(0, bytes.size() - 100));
  auto r = Upload(truncated, "fr.jeu", "1.0");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("truncated Debian package: member 'data.tar"), std::string::npos) << r.err;

  const std::string text = dir_ / "notes.deb";
  Write(text, "#!/bin/sh\ntouch " + (dir_ / "executed") + "\n");
  r = Upload(text, "fr.jeu", "1.0");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("notes.deb: neither a Debian package"), std::string::npos) << r.err;
  const std::string flat = dir_ / "jeu.flatpak";
  Write(flat, "PK\x03\x04 an apk in disguise");
  r = Upload(flat, "fr.jeu", "1.0");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("neither a Debian package"), std::string::npos) << r.err;

  // Shell metacharacters in the version: refused before a byte is stored, never run.
  const std::string marker = dir_ / "pwned";
  for (const std::string& version : std::vector<std::string>{"1.0;touch " + marker, "$(touch " + marker + ")",
                              "`touch " + marker + "`", "1.0|id", "1.0 && id"}) {
    r = Upload(deb, "fr.jeu", version);
    EXPECT_EQ(r.exit_code, 1) << version;
    EXPECT_NE(r.err.find("app version '" + version + "': use 1 to 64 letters"),
              std::string::npos) << r.err;
  }
  r = Upload(deb, "fr.jeu;touch " + marker, "1.0");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_FALSE(fs::exists(marker));
  EXPECT_FALSE(fs::exists(dir_ / "executed"));

  // Nothing was stored: no version, no artifact.
  r = Cli({"apps", "list", "-o", "json"});
  EXPECT_EQ(r.out.find("fr.jeu"), std::string::npos) << r.out;
  int artifacts = 0;
  for (const auto& e : fs::directory_iterator(server_->data_dir() + "/artifacts")) {
    if (e.is_regular_file()) ++artifacts;
  }
  EXPECT_EQ(artifacts, 0);
}

TEST_F(LinuxStoreTest, AnAssignedDebIsInstalledWithItsDependencyListedUpgradedAndRemoved) {
  StartLaptop();
  Publish(MakeDeb(dir_.path(), "fr.calcul", "1.0", "libcalc"), "fr.calcul", "1.0");

  ASSERT_TRUE(WaitUntil([&] { return root_->Version("fr.calcul") == "1.0"; }, 60s))
      << AppStatus("fr.calcul");
  EXPECT_EQ(root_->Version("libcalc"), "2.0");  // from the device's configured source
  EXPECT_TRUE(fs::exists(root_->root() + "/usr/bin/fr.calcul"));
  EXPECT_TRUE(WaitUntil([&] { return AppStatus("fr.calcul").find(",installed,") !=
                                     std::string::npos; }, 20s)) << AppStatus("fr.calcul");
  // devices show lists the desktop entries users can launch, with package and version.
  EXPECT_TRUE(WaitUntil([&] {
    std::string show = DevicesShow();
    return show.find("\"id\": \"fr.calcul\"") != std::string::npos &&
           show.find("\"title\": \"Jeu fr.calcul\"") != std::string::npos &&
           show.find("\"desktop_entry\": \"fr.calcul.desktop\"") != std::string::npos;
  }, 20s)) << DevicesShow();

  // A new version is an upgrade.
  Publish(MakeDeb(dir_.path(), "fr.calcul", "1.1", "libcalc"), "fr.calcul", "1.1");
  ASSERT_TRUE(WaitUntil([&] { return root_->Version("fr.calcul") == "1.1"; }, 60s))
      << AppStatus("fr.calcul");

  // Unassigned: removed, and gone from devices show.
  auto r = Cli({"apps", "unassign", "fr.calcul", "--group", kClass});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(WaitUntil([&] { return root_->Version("fr.calcul").empty(); }, 60s));
  EXPECT_FALSE(fs::exists(root_->root() + "/usr/bin/fr.calcul"));
  EXPECT_TRUE(WaitUntil([&] {
    return DevicesShow().find("\"id\": \"fr.calcul\"") == std::string::npos;
  }, 20s)) << DevicesShow();
  EXPECT_EQ(root_->Audit(), "");
}

TEST_F(LinuxStoreTest, ABrokenDependencyFailsWithAptsReasonAndNothingHalfInstalled) {
  StartLaptop();
  Publish(MakeDeb(dir_.path(), "fr.casse", "1.0", "preau-absent-lib (>= 3)"), "fr.casse", "1.0");
  EXPECT_TRUE(WaitUntil([&] {
    const std::string line = AppStatus("fr.casse");
    return line.find(",failed,") != std::string::npos &&
           line.find("fr.casse : Depends: preau-absent-lib (>= 3) but it is not installable") !=
               std::string::npos;
  }, 60s)) << AppStatus("fr.casse");
  EXPECT_TRUE(root_->Version("fr.casse").empty());
  EXPECT_EQ(root_->DpkgStatus().find("Package: fr.casse"), std::string::npos) << root_->DpkgStatus();
  EXPECT_FALSE(fs::exists(root_->root() + "/usr/bin/fr.casse"));
  EXPECT_EQ(root_->Audit(), "");
}

TEST_F(LinuxStoreTest, APackageAlreadyInstalledAtANewerVersionIsLeftAlone) {
  // Installed from elsewhere (the image, an admin by hand) at 2.0.
  MustRun({"dpkg", "--root=" + root_->root(), "--log=" + root_->root() + "/var/log/dpkg.log",
           "-i", MakeDeb(dir_.path(), "fr.atlas", "2.0")});
  ASSERT_EQ(root_->Version("fr.atlas"), "2.0");
  StartLaptop();
  Publish(MakeDeb(dir_.path(), "fr.atlas", "1.0"), "fr.atlas", "1.0");
  ASSERT_TRUE(WaitUntil([&] {
    return AppStatus("fr.atlas").find("already installed at 2.0, newer than 1.0: left alone") !=
           std::string::npos;
  }, 60s)) << AppStatus("fr.atlas");
  EXPECT_NE(AppStatus("fr.atlas").find(",installed,"), std::string::npos);
  EXPECT_EQ(root_->Version("fr.atlas"), "2.0");

  // Not the store's to remove when unassigned.
  auto r = Cli({"apps", "unassign", "fr.atlas", "--group", kClass});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(WaitUntil([&] { return AppStatus("fr.atlas").empty(); }, 20s));
  EXPECT_EQ(root_->Version("fr.atlas"), "2.0");
}


// Runs flatpak on the installation in `dir` (FLATPAK_SYSTEM_DIR), asserting success.
std::string Flatpak(const std::string& dir, std::vector<std::string> args) {
  args.insert(args.begin(), "flatpak");
  auto out = RunProgram(args, 120s, {"FLATPAK_SYSTEM_DIR=" + dir});
  EXPECT_TRUE(out.ok()) << out.status().message();
  if (!out.ok()) return "";
  EXPECT_EQ(out->exit_code, 0) << args[1] << ": " << out->output;
  return out->output;
}

TEST_F(LinuxStoreTest, AFlatpakBundleIsCheckedInstalledListedAndRemoved) {
  // Offline, a runtime of our own stands in for Flathub's: exported to a local repository
  // that is the device's configured remote, and installed there first.
  const std::string repo = dir_ / "flatpak-repo", system = dir_ / "flatpak-system";
  std::string arch = Flatpak(system, {"--default-arch"});
  while (!arch.empty() && arch.back() == '\n') arch.pop_back();
  const std::string runtime = dir_ / "runtime", app = dir_ / "dessin";
  Write(runtime + "/metadata", "[Runtime]\nname=org.preau.TestRuntime\nruntime=org.preau."
                               "TestRuntime/" + arch + "/1\nsdk=org.preau.TestRuntime/" +
                               arch + "/1\n");
  fs::create_directories(runtime + "/files/bin");
  fs::create_directories(runtime + "/usr");  // build-export reads it for a runtime
  fs::copy_file("/bin/true", runtime + "/files/bin/true");
  Flatpak(system, {"build-export", "--runtime", "--disable-sandbox", repo, runtime, "1"});
  Write(app + "/metadata", "[Application]\nname=fr.preau.Dessin\nruntime=org.preau."
                           "TestRuntime/" + arch + "/1\ncommand=dessin\n");
  fs::create_directories(app + "/files/bin");
  fs::copy_file("/bin/sleep", app + "/files/bin/dessin");
  Write(app + "/export/share/applications/fr.preau.Dessin.desktop",
        "[Desktop Entry]\nType=Application\nName=Dessin\nExec=dessin\n");
  Flatpak(system, {"build-export", "--disable-sandbox", repo, app, "stable"});
  const std::string bundle = dir_ / "dessin.flatpak";
  Flatpak(system, {"build-bundle", repo, bundle, "fr.preau.Dessin", "stable"});
  Flatpak(system, {"remote-add", "--system", "--no-gpg-verify", "local", "file://" + repo});
  Flatpak(system, {"install", "--system", "-y", "--noninteractive", "local",
                   "org.preau.TestRuntime"});

  auto r = Upload(bundle, "fr.preau.Dessine", "1.0");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("the package calls itself 'fr.preau.Dessin' (its Flatpak ref)"),
            std::string::npos) << r.err;
  StartLaptop(system);
  Publish(bundle, "fr.preau.Dessin", "1.0");
  r = Cli({"apps", "list", "-o", "json"});
  EXPECT_NE(r.out.find("\"format\": \"flatpak\""), std::string::npos) << r.out;
  ASSERT_TRUE(WaitUntil([&] { return fs::exists(system + "/app/fr.preau.Dessin"); }, 60s))
      << AppStatus("fr.preau.Dessin");
  EXPECT_TRUE(WaitUntil([&] {
    std::string show = DevicesShow();
    return show.find("\"id\": \"fr.preau.Dessin\"") != std::string::npos &&
           show.find("\"format\": \"flatpak\"") != std::string::npos;
  }, 20s)) << DevicesShow();

  // Blocking a Flatpak app is not done yet: the rule says so rather than "applied".
  const std::string blocked = dir_ / "blocked.yaml";
  Write(blocked, "name: dessin\ntimezone: Europe/Paris\napps:\n  blocked: [fr.preau.Dessin]\n");
  r = Cli({"policy", "apply", blocked, "--group", kClass});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(WaitUntil([&] {
    auto d = server_->Devices(kClass);
    return d.size() == 1 && d[0].policy_version() == 1 &&
           d[0].policy_state().find("blocking the Flatpak app 'fr.preau.Dessin' is not "
                                    "supported yet") != std::string::npos;
  }, 20s)) << server_->Devices(kClass)[0].policy_state();

  r = Cli({"apps", "unassign", "fr.preau.Dessin", "--group", kClass});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(WaitUntil([&] { return !fs::exists(system + "/app/fr.preau.Dessin"); }, 60s));
}

// Starts `exe` with `arg` as a process of the test (the pupil's session, as far as the
// agent can tell: it never relies on the session program to end a blocked app).
pid_t StartProcess(const std::string& exe, const std::string& arg) {
  std::vector<char*> argv = {const_cast<char*>(exe.c_str()), const_cast<char*>(arg.c_str()),
                             nullptr};
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv.data(), environ), 0);
  return pid;
}

// Reaps `pid` if it has ended (and says whether it has).
bool Ended(pid_t pid) {
  int status = 0;
  return waitpid(pid, &status, WNOHANG) == pid;
}

TEST_F(LinuxStoreTest, ABlockedAppIsHiddenEndedWithinTwoSecondsCountedAndRestored) {
  StartLaptop();
  Publish(MakeDeb(dir_.path(), "fr.jeu", "1.0"), "fr.jeu", "1.0");
  ASSERT_TRUE(WaitUntil([&] { return root_->Version("fr.jeu") == "1.0"; }, 60s))
      << AppStatus("fr.jeu");
  const std::string exe = root_->root() + "/usr/bin/fr.jeu";
  const std::string entry = root_->root() + "/usr/local/share/applications/fr.jeu.desktop";

  // Running when the block arrives: ended before the rule is reported applied.
  pid_t running = StartProcess(exe, "600");
  const std::string blocked = dir_ / "blocked.yaml";
  Write(blocked, "name: jeux\ntimezone: Europe/Paris\napps:\n  blocked: [fr.jeu]\n");
  auto r = Cli({"policy", "apply", blocked, "--group", kClass});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(WaitUntil([&] {
    auto d = server_->Devices(kClass);
    return d.size() == 1 && d[0].policy_version() == 1 && d[0].policy_state() == "applied";
  }, 20s)) << server_->Devices(kClass)[0].policy_state();
  EXPECT_TRUE(WaitUntil([&] { return Ended(running); }, 2s));
  // Hidden from menus by an override that wins over /usr/share; still installed.
  auto hidden = ReadFile(entry);
  ASSERT_TRUE(hidden.ok()) << hidden.status().message();
  EXPECT_NE(hidden->find("Hidden=true"), std::string::npos) << *hidden;
  EXPECT_NE(hidden->find("NoDisplay=true"), std::string::npos) << *hidden;
  EXPECT_EQ(root_->Version("fr.jeu"), "1.0");

  // Started while blocked: ended within 2 s, and counted.
  const auto start = std::chrono::steady_clock::now();
  pid_t launched = StartProcess(exe, "600");
  ASSERT_TRUE(WaitUntil([&] { return Ended(launched); }, 2s)) << "still running after 2 s";
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, 2s);
  std::printf("blocked app ended %lld ms after it started\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  EXPECT_EQ(laptop_->agent().platform().BlockedLaunches()["fr.jeu"], 2u);

  // Unblocked: the entry comes back and the app runs.
  const std::string unblocked = dir_ / "unblocked.yaml";
  Write(unblocked, "name: jeux\ntimezone: Europe/Paris\napps:\n  blocked: []\n");
  r = Cli({"policy", "apply", unblocked, "--group", kClass});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(WaitUntil([&] {
    auto d = server_->Devices(kClass);
    return d.size() == 1 && d[0].policy_version() == 2;
  }, 20s));
  EXPECT_TRUE(WaitUntil([&] { return !fs::exists(entry); }, 5s));
  pid_t free_again = StartProcess(exe, "600");
  EXPECT_FALSE(WaitUntil([&] { return Ended(free_again); }, 1s)) << "ended though unblocked";
  ::kill(free_again, SIGKILL);
  EXPECT_TRUE(WaitUntil([&] { return Ended(free_again); }, 5s));
  EXPECT_EQ(laptop_->agent().platform().BlockedLaunches()["fr.jeu"], 2u);
}

}  // namespace
}  // namespace preau::testing

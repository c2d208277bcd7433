// The HTML report, as an elected official would open it: one self-contained file (no
// script, no external URL) whose charts are inline SVG, rendered by a real browser
// (Debian's headless Chromium) into a screenshot.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <regex>

#include <gtest/gtest.h>

#include "common/files.h"
#include "server/reports/reports.h"
#include "tests/support/harness.h"

namespace preau::testing {
namespace {

constexpr const char* kChromium = "/usr/bin/chromium";

// PNG width and height from its IHDR chunk; {0, 0} if `png` is not a PNG.
std::pair<uint32_t, uint32_t> PngSize(const std::string& png) {
  if (png.size() < 24 || png.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) return {0, 0};
  auto be32 = [&](size_t at) {
    return (static_cast<uint32_t>(static_cast<unsigned char>(png[at])) << 24) |
           (static_cast<uint32_t>(static_cast<unsigned char>(png[at + 1])) << 16) |
           (static_cast<uint32_t>(static_cast<unsigned char>(png[at + 2])) << 8) |
           static_cast<uint32_t>(static_cast<unsigned char>(png[at + 3]));
  };
  return {be32(16), be32(20)};
}

TEST(ReportHtmlTest, RendersInHeadlessChromiumWithItsCharts) {
  TempDir dir;
  TestServer server(dir.path());
  server.CreateGroup("ville/jules-ferry/cm2-a");
  server.CreateGroup("ville/pasteur/ce1");
  std::vector<std::unique_ptr<TestAgent>> agents;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    std::string group = seed % 2 ? "ville/jules-ferry/cm2-a" : "ville/pasteur/ce1";
    auto a = TestAgent::Start(server, dir / ("t" + std::to_string(seed)),
                              server.CreateToken(group), seed);
    ASSERT_TRUE(a.ok()) << a.status().message();
    agents.push_back(std::move(a).value());
  }
  for (auto& a : agents) ASSERT_TRUE(a->WaitConnected());
  std::string creds = server.data_dir() + "/admin.credentials";
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.end(), {"--credentials", creds, "--server", server.address()});
    return RunBinary("preau", args);
  };
  // Wait for every device's backfilled week of usage.
  auto* reports = server::FindReportsDomain(server.server().core());
  ASSERT_NE(reports, nullptr);
  for (auto& a : agents) {
    std::string id = a->agent().device_id();
    ASSERT_TRUE(WaitUntil([&] {
      auto days = reports->usage.Days("", id);
      return days.ok() && days->size() == 7;
    }));
  }
  std::string stock = dir / "parc.csv";
  ASSERT_TRUE(WriteFileAtomic(stock,
                              "serial;modele;etat;nom;groupe;achat;sante_batterie\n"
                              "TBI-OLD;Promethean ActivBoard;à réformer;TBI salle 3;"
                              "ville/pasteur/ce1;2014-09-01;\n"
                              "PC-1;Dell Latitude 3190;réemployable;Chariot 1;;2019-01-15;62\n")
                  .ok());
  ASSERT_EQ(cli({"devices", "import", stock}).exit_code, 0);

  std::string html_path = dir / "rapport.html";
  auto r = cli({"report", "inventory", "-o", "html", "--out", html_path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto html = ReadFile(html_path);
  ASSERT_TRUE(html.ok());
  for (const char* id : {"chart-models", "chart-activity", "chart-categories", "chart-battery",
                         "chart-storage", "chart-renewal"}) {
    EXPECT_NE(html->find("<svg id=\"" + std::string(id) + "\""), std::string::npos) << id;
  }
  EXPECT_EQ(std::count(html->begin(), html->end(), '<') > 100, true);
  // Self-contained: no script, no stylesheet or image fetched from anywhere.
  EXPECT_EQ(html->find("<script"), std::string::npos);
  EXPECT_EQ(html->find("http://"), std::string::npos);
  EXPECT_EQ(html->find("https://"), std::string::npos);
  EXPECT_EQ(html->find("<link"), std::string::npos);
  EXPECT_EQ(html->find("<img"), std::string::npos);
  // Readable by people: French headings, the renewal rule stated.
  EXPECT_NE(html->find("Appareils par école et par modèle"), std::string::npos);
  EXPECT_NE(html->find("Règle : un appareil est à renouveler"), std::string::npos);
  EXPECT_NE(html->find("TBI salle 3"), std::string::npos);
  // Bars were drawn: the charts hold rectangles with a width.
  std::regex bar("<rect x=\"[0-9.]+\" y=\"[0-9]+\" width=\"([0-9.]+)\"");
  int bars = 0;
  for (auto it = std::sregex_iterator(html->begin(), html->end(), bar);
       it != std::sregex_iterator(); ++it) {
    if (std::stod((*it)[1].str()) > 0) ++bars;
  }
  EXPECT_GE(bars, 15);

  if (access(kChromium, X_OK) != 0) GTEST_SKIP() << kChromium << " is not installed";
  std::string png_path = dir / "rapport.png";
  std::string profile = dir / "chromium-profile";
  std::string cmd = std::string(kChromium) +
                    " --headless --no-sandbox --disable-gpu --disable-background-networking "
                    "--disable-component-update --disable-sync --no-first-run "
                    "--user-data-dir=" + profile + " --screenshot=" + png_path +
                    " --window-size=1200,2000 file://" + html_path + " >" + (dir / "chromium.log") +
                    " 2>&1";
  int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status)) << cmd;
  auto png = ReadFile(png_path);
  if (!png.ok()) {
    auto log = ReadFile(dir / "chromium.log");
    FAIL() << "no screenshot; chromium said: " << (log.ok() ? *log : "");
  }
  auto [w, h] = PngSize(*png);
  EXPECT_EQ(w, 1200u);
  EXPECT_EQ(h, 2000u);
  // A blank page compresses to a few kilobytes; charts and text make it far larger.
  EXPECT_GT(png->size(), 60'000u) << "screenshot looks empty";
  // Keep it for people to look at when the test runs in CI.
  const char* keep = std::getenv("PREAU_KEEP_SCREENSHOT");
  if (keep != nullptr) (void)WriteFileAtomic(keep, *png);
}

}  // namespace
}  // namespace preau::testing

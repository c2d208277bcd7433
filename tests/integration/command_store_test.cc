// Class commands are kept a month past their expiry, then purged, except each device's
// latest row: it carries the device's sequence on, so a reconnecting agent that says
// "I hold up to seq N" never misses a newer command.
#include "server/classroom/command_store.h"

#include <gtest/gtest.h>

#include "tests/support/harness.h"
#include "tests/support/postgres_cluster.h"

namespace preau::testing {
namespace {

constexpr int64_t kDay = 24LL * 3600 * 1000;
constexpr int64_t kStart = 1'790'000'000'000;  // November 2026

v1::Command Lock(const std::string& id, int64_t expires_ms) {
  v1::Command c;
  c.set_id(id);
  c.set_kind(v1::COMMAND_LOCK);
  c.set_expires_unix_ms(expires_ms);
  return c;
}

TEST(CommandStoreTest, OldRowsGoButEachDevicesLatestStaysAndItsSequenceGoesOn) {
  TempDir dir;
  auto store = server::Store::Open(FreshStoreLocation(dir / "server.db"), true);
  ASSERT_TRUE(store.ok()) << store.status().message();
  server::CommandStore commands(**store);

  ASSERT_TRUE(commands.Dispatch(Lock("lesson-1", kStart + 3'600'000), {"d-a", "d-b"}, kStart).ok());
  auto second = commands.Dispatch(Lock("lesson-2", kStart + kDay), {"d-a"}, kStart + 600'000);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ((*second)[0].seq(), 2u);
  EXPECT_EQ(*commands.Count(), 3);

  // Forty days on: d-a's first row goes; d-a's second and d-b's only row are their latest.
  auto purged = commands.Purge(kStart + 40 * kDay - server::kCommandRetentionMs);
  ASSERT_TRUE(purged.ok()) << purged.status().message();
  EXPECT_EQ(*purged, 1);
  EXPECT_EQ(*commands.Count(), 2);

  // A new command goes on from each device's sequence, and its dispatch purges by itself
  // (the last purge was over an hour ago): only the new rows remain.
  auto third = commands.Dispatch(Lock("lesson-3", kStart + 41 * kDay), {"d-a", "d-b"},
                                 kStart + 40 * kDay);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ((*third)[0].seq(), 3u);
  EXPECT_EQ((*third)[1].seq(), 2u);
  EXPECT_EQ(*commands.Count(), 2);
  auto pending = commands.Pending("d-a", 2, kStart + 40 * kDay);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].id(), "lesson-3");
}

}  // namespace
}  // namespace preau::testing

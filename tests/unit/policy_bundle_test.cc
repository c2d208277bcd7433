// Bundles: signed on the server, verified on the agent; a tampered bundle, one signed by
// another key, one for another device and an older or replayed version are each refused
// with their own reason.
#include <gtest/gtest.h>

#include "common/pki.h"
#include "common/policy/bundle.h"

namespace preau::policy {
namespace {

class PolicyBundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto key = pki::GenerateKey();
    ASSERT_TRUE(key.ok()) << key.status().message();
    key_ = *key;
    auto other = pki::GenerateKey();
    ASSERT_TRUE(other.ok()) << other.status().message();
    other_ = *other;
    spec_.set_name("eni");
    spec_.mutable_wifi()->set_idle_off_minutes(15);
  }

  v1::SignedPolicyBundle Signed(uint64_t version, const std::string& device = "dev-1",
                                const std::string* key = nullptr) {
    auto s = SignBundle(MakeBundle("eni", version, device, spec_, 1000),
                        key ? *key : key_.private_key_pem);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? *s : v1::SignedPolicyBundle{};
  }

  pki::KeyPair key_, other_;
  v1::PolicySpec spec_;
};

TEST_F(PolicyBundleTest, GoodBundleIsAccepted) {
  BundleCheck c = VerifyBundle(Signed(3), key_.public_key_pem, "dev-1", 2);
  ASSERT_TRUE(c.ok()) << c.reason;
  EXPECT_EQ(c.bundle.version(), 3u);
  EXPECT_EQ(c.bundle.name(), "eni");
  EXPECT_EQ(c.spec.wifi().idle_off_minutes(), 15u);
  EXPECT_TRUE(c.status().ok());
}

TEST_F(PolicyBundleTest, TamperedBundleIsRefused) {
  v1::SignedPolicyBundle s = Signed(3);
  v1::PolicyBundle b;
  ASSERT_TRUE(b.ParseFromString(s.bundle()));
  b.set_version(99);  // an attacker raises the version
  s.set_bundle(b.SerializeAsString());
  BundleCheck c = VerifyBundle(s, key_.public_key_pem, "dev-1", 2);
  EXPECT_EQ(c.refusal, BundleRefusal::kBadSignature) << c.reason;
  EXPECT_NE(c.reason.find("signature does not match"), std::string::npos) << c.reason;
  EXPECT_EQ(c.status().code(), Code::kUnauthenticated);

  v1::SignedPolicyBundle flipped = Signed(3);
  std::string bytes = flipped.bundle();
  bytes[bytes.size() / 2] ^= 0x01;
  flipped.set_bundle(bytes);
  EXPECT_EQ(VerifyBundle(flipped, key_.public_key_pem, "dev-1", 2).refusal,
            BundleRefusal::kBadSignature);
}

TEST_F(PolicyBundleTest, OtherKeyIsRefused) {
  v1::SignedPolicyBundle s = Signed(3, "dev-1", &other_.private_key_pem);
  BundleCheck c = VerifyBundle(s, key_.public_key_pem, "dev-1", 2);
  EXPECT_EQ(c.refusal, BundleRefusal::kUnknownKey) << c.reason;
  EXPECT_NE(c.reason.find("this device trusts only key"), std::string::npos) << c.reason;
  // Claiming the pinned key's id does not help: the signature is then checked and fails.
  s.set_key_id(*pki::KeyFingerprint(key_.public_key_pem));
  EXPECT_EQ(VerifyBundle(s, key_.public_key_pem, "dev-1", 2).refusal, BundleRefusal::kBadSignature);
}

TEST_F(PolicyBundleTest, OtherDeviceIsRefused) {
  BundleCheck c = VerifyBundle(Signed(3, "dev-2"), key_.public_key_pem, "dev-1", 2);
  EXPECT_EQ(c.refusal, BundleRefusal::kOtherDevice) << c.reason;
  EXPECT_EQ(c.reason, "policy bundle refused: it is for device 'dev-2', this is device 'dev-1'");
  EXPECT_EQ(c.status().code(), Code::kPermissionDenied);
}

TEST_F(PolicyBundleTest, OlderOrSameVersionIsRefused) {
  for (uint64_t v : {1u, 5u}) {
    BundleCheck c = VerifyBundle(Signed(v), key_.public_key_pem, "dev-1", 5);
    EXPECT_EQ(c.refusal, BundleRefusal::kNotNewer) << c.reason;
    EXPECT_NE(c.reason.find("version " + std::to_string(v) +
                            " of 'eni' is not newer than the version held (5)"),
              std::string::npos)
        << c.reason;
    EXPECT_EQ(c.status().code(), Code::kFailedPrecondition);
  }
  EXPECT_TRUE(VerifyBundle(Signed(6), key_.public_key_pem, "dev-1", 5).ok());
  EXPECT_TRUE(VerifyBundle(Signed(1), key_.public_key_pem, "dev-1", 0).ok());  // nothing held
}

TEST_F(PolicyBundleTest, GarbageIsMalformed) {
  v1::SignedPolicyBundle empty;
  EXPECT_EQ(VerifyBundle(empty, key_.public_key_pem, "dev-1", 0).refusal,
            BundleRefusal::kMalformed);
  EXPECT_STREQ(BundleRefusalName(BundleRefusal::kNotNewer), "not_newer");
}

TEST_F(PolicyBundleTest, SameSpecGivesSameBytes) {
  EXPECT_EQ(MakeBundle("eni", 1, "d", spec_, 5).SerializeAsString(),
            MakeBundle("eni", 1, "d", spec_, 5).SerializeAsString());
}

}  // namespace
}  // namespace preau::policy

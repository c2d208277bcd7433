// Policy bundles: a resolved PolicySpec bound to one device and one version, signed by the
// server's policy key, and checked by the agent against the key it pinned at enrolment.
//
// The server calls MakeBundle then SignBundle; the agent calls VerifyBundle, which refuses,
// each with its own BundleRefusal and a sentence that says why: a bundle signed by another
// key, a signature that does not match (tampered bytes), a bundle for another device, and an
// older or replayed version. The signature covers the serialized PolicyBundle exactly as
// sent, and is checked before those bytes are parsed.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "preau/v1/policy.pb.h"
#include "preau/v1/policy_spec.pb.h"

namespace preau::policy {

v1::PolicyBundle MakeBundle(const std::string& name, uint64_t version, const std::string& device_id,
                            const v1::PolicySpec& spec, int64_t issued_unix_ms);

// Signs the serialized bundle with the policy key (ECDSA P-256 PEM); key_id is the SHA-256
// fingerprint of its public key.
Result<v1::SignedPolicyBundle> SignBundle(const v1::PolicyBundle& bundle,
                                          const std::string& signing_key_pem);

enum class BundleRefusal {
  kNone,
  kMalformed,     // not a PolicyBundle / PolicySpec, or no signature
  kUnknownKey,    // signed by a key other than the pinned one
  kBadSignature,  // the signature does not match the bytes (tampered or corrupted)
  kOtherDevice,   // bound to another device
  kNotNewer,      // version not strictly greater than the one held (older or replayed)
};

// "malformed", "unknown_key", "bad_signature", "other_device", "not_newer".
const char* BundleRefusalName(BundleRefusal refusal);

struct BundleCheck {
  BundleRefusal refusal = BundleRefusal::kNone;
  std::string reason;       // a sentence naming what was wrong; empty when accepted
  v1::PolicyBundle bundle;  // filled when accepted
  v1::PolicySpec spec;      // bundle.spec parsed, when accepted
  bool ok() const { return refusal == BundleRefusal::kNone; }
  Status status() const;
};

// Accepts `signed_bundle` only if it is signed by `pinned_key_pem`, bound to `device_id`,
// and newer than `held_version` (pass 0 to accept any version, e.g. when reloading the
// bundle the agent itself persisted).
BundleCheck VerifyBundle(const v1::SignedPolicyBundle& signed_bundle,
                         const std::string& pinned_key_pem, const std::string& device_id,
                         uint64_t held_version);

}  // namespace preau::policy

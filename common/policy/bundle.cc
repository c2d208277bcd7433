#include "common/policy/bundle.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "common/pki.h"

namespace preau::policy {
namespace {

std::string Short(const std::string& hex) { return hex.size() > 12 ? hex.substr(0, 12) : hex; }

BundleCheck Refuse(BundleRefusal refusal, std::string reason) {
  BundleCheck check;
  check.refusal = refusal;
  check.reason = std::move(reason);
  return check;
}

}  // namespace

v1::PolicyBundle MakeBundle(const std::string& name, uint64_t version, const std::string& device_id,
                            const v1::PolicySpec& spec, int64_t issued_unix_ms) {
  v1::PolicyBundle bundle;
  bundle.set_name(name);
  bundle.set_version(version);
  bundle.set_device_id(device_id);
  bundle.set_issued_unix_ms(issued_unix_ms);
  // Deterministic so that the same spec always gives the same bytes (and signature input).
  std::string bytes;
  google::protobuf::io::StringOutputStream raw(&bytes);
  {
    google::protobuf::io::CodedOutputStream out(&raw);
    out.SetSerializationDeterministic(true);
    spec.SerializeToCodedStream(&out);
  }
  bundle.set_spec(std::move(bytes));
  return bundle;
}

Result<v1::SignedPolicyBundle> SignBundle(const v1::PolicyBundle& bundle,
                                          const std::string& signing_key_pem) {
  v1::SignedPolicyBundle out;
  if (!bundle.SerializeToString(out.mutable_bundle())) {
    return Internal("policy bundle: cannot serialize");
  }
  PREAU_ASSIGN_OR_RETURN(std::string signature, pki::Sign(signing_key_pem, out.bundle()));
  PREAU_ASSIGN_OR_RETURN(std::string key_id, pki::KeyFingerprint(signing_key_pem));
  out.set_signature(std::move(signature));
  out.set_key_id(std::move(key_id));
  return out;
}

const char* BundleRefusalName(BundleRefusal refusal) {
  switch (refusal) {
    case BundleRefusal::kNone:
      return "none";
    case BundleRefusal::kMalformed:
      return "malformed";
    case BundleRefusal::kUnknownKey:
      return "unknown_key";
    case BundleRefusal::kBadSignature:
      return "bad_signature";
    case BundleRefusal::kOtherDevice:
      return "other_device";
    case BundleRefusal::kNotNewer:
      return "not_newer";
  }
  return "unknown";
}

Status BundleCheck::status() const {
  switch (refusal) {
    case BundleRefusal::kNone:
      return Status::Ok();
    case BundleRefusal::kMalformed:
      return InvalidArgument(reason);
    case BundleRefusal::kUnknownKey:
    case BundleRefusal::kBadSignature:
      return Unauthenticated(reason);
    case BundleRefusal::kOtherDevice:
      return PermissionDenied(reason);
    case BundleRefusal::kNotNewer:
      return FailedPrecondition(reason);
  }
  return Internal(reason);
}

BundleCheck VerifyBundle(const v1::SignedPolicyBundle& signed_bundle,
                         const std::string& pinned_key_pem, const std::string& device_id,
                         uint64_t held_version) {
  if (signed_bundle.bundle().empty() || signed_bundle.signature().empty()) {
    return Refuse(BundleRefusal::kMalformed, "policy bundle refused: bundle or signature missing");
  }
  auto pinned_id = pki::KeyFingerprint(pinned_key_pem);
  if (!pinned_id.ok()) {
    return Refuse(BundleRefusal::kUnknownKey,
                  "policy bundle refused: the pinned policy key is unusable (" +
                      pinned_id.status().message() + ")");
  }
  if (!signed_bundle.key_id().empty() && signed_bundle.key_id() != *pinned_id) {
    return Refuse(BundleRefusal::kUnknownKey,
                  "policy bundle refused: signed by key " + Short(signed_bundle.key_id()) +
                      "…, but this device trusts only key " + Short(*pinned_id) + "…");
  }
  Status sig = pki::Verify(pinned_key_pem, signed_bundle.bundle(), signed_bundle.signature());
  if (!sig.ok()) {
    return Refuse(BundleRefusal::kBadSignature,
                  "policy bundle refused: the signature does not match its content (tampered, "
                  "corrupted, or signed by another key): " +
                      sig.message());
  }
  BundleCheck check;
  if (!check.bundle.ParseFromString(signed_bundle.bundle())) {
    return Refuse(BundleRefusal::kMalformed, "policy bundle refused: not a PolicyBundle");
  }
  if (check.bundle.device_id() != device_id) {
    return Refuse(BundleRefusal::kOtherDevice, "policy bundle refused: it is for device '" +
                                                   check.bundle.device_id() +
                                                   "', this is device '" + device_id + "'");
  }
  if (check.bundle.version() == 0) {
    return Refuse(BundleRefusal::kMalformed,
                  "policy bundle refused: version 0 (versions start at 1)");
  }
  if (held_version > 0 && check.bundle.version() <= held_version) {
    return Refuse(BundleRefusal::kNotNewer,
                  "policy bundle refused: version " + std::to_string(check.bundle.version()) +
                      " of '" + check.bundle.name() + "' is not newer than the version held (" +
                      std::to_string(held_version) + "); an older or replayed bundle is refused");
  }
  if (!check.spec.ParseFromString(check.bundle.spec())) {
    return Refuse(BundleRefusal::kMalformed, "policy bundle refused: its spec is not a PolicySpec");
  }
  return check;
}

}  // namespace preau::policy

// Pki over OpenSSL 3: every OpenSSL object lives in a unique_ptr with its own free
// function, and every failure drains OpenSSL's thread-local error queue into the returned
// message, so one failed call never leaks a stale error into the next one's message.
#include "common/pki.h"

#include <arpa/inet.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <mutex>
#include <unordered_map>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <ctime>
#include <memory>

namespace preau::pki {
namespace {

template <auto FreeFn>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    FreeFn(p);
  }
};
template <typename T, auto FreeFn>
using Ptr = std::unique_ptr<T, Deleter<FreeFn>>;

using BioPtr = Ptr<BIO, BIO_free_all>;
using PkeyPtr = Ptr<EVP_PKEY, EVP_PKEY_free>;
using PkeyCtxPtr = Ptr<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using MdCtxPtr = Ptr<EVP_MD_CTX, EVP_MD_CTX_free>;
using X509Ptr = Ptr<X509, X509_free>;
using ReqPtr = Ptr<X509_REQ, X509_REQ_free>;
using NamePtr = Ptr<X509_NAME, X509_NAME_free>;
using ExtPtr = Ptr<X509_EXTENSION, X509_EXTENSION_free>;
using StorePtr = Ptr<X509_STORE, X509_STORE_free>;
using StoreCtxPtr = Ptr<X509_STORE_CTX, X509_STORE_CTX_free>;
using BignumPtr = Ptr<BIGNUM, BN_free>;
using Asn1IntPtr = Ptr<ASN1_INTEGER, ASN1_INTEGER_free>;
using GenNamesPtr = Ptr<GENERAL_NAMES, GENERAL_NAMES_free>;
using GenNamePtr = Ptr<GENERAL_NAME, GENERAL_NAME_free>;
using Ia5Ptr = Ptr<ASN1_IA5STRING, ASN1_IA5STRING_free>;
using OctetPtr = Ptr<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>;

// Frees what OPENSSL_malloc gave us (ASN1_STRING_to_UTF8, BN_bn2hex, i2d_*).
void OpenSslFree(void* p) { OPENSSL_free(p); }
using OsslBytesPtr = Ptr<void, OpenSslFree>;

// Drains the error queue into "reason; reason" (empty when OpenSSL recorded nothing).
std::string TakeOpenSslErrors() {
  std::string out;
  char buf[256];
  while (unsigned long e = ERR_get_error()) {
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

// A failure status whose message ends with what OpenSSL said, if anything.
Status Fail(Code code, const std::string& what) {
  std::string detail = TakeOpenSslErrors();
  return Status(code, detail.empty() ? what : what + " (" + detail + ")");
}

// Never prompt on a terminal for a passphrase: the agent runs unattended, and Préau's
// keys are stored unencrypted under file permissions.
int NoPassphrase(char*, int, int, void*) { return -1; }

Result<BioPtr> ReadBio(const std::string& text, const char* what) {
  if (text.size() > static_cast<size_t>(INT_MAX)) {
    return InvalidArgument(std::string(what) + ": input too large");
  }
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!bio) return Fail(Code::kInternal, std::string(what) + ": cannot allocate BIO");
  return bio;
}

Result<std::string> BioContents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (len < 0 || (len > 0 && data == nullptr)) {
    return Fail(Code::kInternal, "cannot read memory BIO");
  }
  return std::string(data, static_cast<size_t>(len));
}

std::string ToHex(const unsigned char* bytes, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 0x0f]);
  }
  return out;
}

// Préau only uses ECDSA P-256; anything else is a configuration mistake worth naming.
Status CheckP256(EVP_PKEY* key, const char* what) {
  char group[64] = {0};
  size_t group_len = 0;
  if (!EVP_PKEY_is_a(key, "EC") ||
      EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                     &group_len) != 1 ||
      std::string(group, group_len) != "prime256v1") {
    ERR_clear_error();
    return InvalidArgument(std::string(what) + ": not an ECDSA P-256 key");
  }
  return Status::Ok();
}

Result<PkeyPtr> LoadPrivateKey(const std::string& pem, const char* what = "private key") {
  PREAU_ASSIGN_OR_RETURN(BioPtr bio, ReadBio(pem, what));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!key) {
    return Fail(Code::kInvalidArgument, std::string(what) + ": not a valid PEM private key");
  }
  PREAU_RETURN_IF_ERROR(CheckP256(key.get(), what));
  return key;
}

Result<PkeyPtr> LoadPublicKey(const std::string& pem, const char* what = "public key") {
  PREAU_ASSIGN_OR_RETURN(BioPtr bio, ReadBio(pem, what));
  PkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!key) {
    return Fail(Code::kInvalidArgument, std::string(what) + ": not a valid PEM public key");
  }
  PREAU_RETURN_IF_ERROR(CheckP256(key.get(), what));
  return key;
}

// A public or a private key PEM, told apart by its header (for KeyFingerprint).
Result<PkeyPtr> LoadAnyKey(const std::string& pem) {
  if (pem.find("PRIVATE KEY-----") != std::string::npos) return LoadPrivateKey(pem, "key");
  return LoadPublicKey(pem, "key");
}

Result<X509Ptr> LoadCertificate(const std::string& pem, const char* what = "certificate") {
  PREAU_ASSIGN_OR_RETURN(BioPtr bio, ReadBio(pem, what));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!cert) {
    return Fail(Code::kInvalidArgument, std::string(what) + ": not a valid PEM certificate");
  }
  return cert;
}

Result<std::string> PrivateKeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PKCS8PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr,
                                            nullptr) != 1) {
    return Fail(Code::kInternal, "cannot encode private key");
  }
  return BioContents(bio.get());
}

Result<std::string> PublicKeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1) {
    return Fail(Code::kInternal, "cannot encode public key");
  }
  return BioContents(bio.get());
}

Result<std::string> CertificatePem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return Fail(Code::kInternal, "cannot encode certificate");
  }
  return BioContents(bio.get());
}

// The UTF-8 value of the first `nid` entry of `name`, or "" when there is none.
Result<std::string> NameEntry(const X509_NAME* name, int nid, const char* what) {
  int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0) return std::string();
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return Fail(Code::kInvalidArgument, std::string(what) + ": unreadable name");
  OsslBytesPtr owner(utf8);
  return std::string(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
}

Status AddNameEntry(X509_NAME* name, const char* field, const std::string& value) {
  if (X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(value.data()),
                                 static_cast<int>(value.size()), -1, 0) != 1) {
    return Fail(Code::kInvalidArgument,
                std::string("name field ") + field + " '" + value + "' is not acceptable");
  }
  return Status::Ok();
}

Result<std::string> SerialHex(const ASN1_INTEGER* serial) {
  BignumPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) return Fail(Code::kInvalidArgument, "certificate: unreadable serial number");
  char* hex = BN_bn2hex(bn.get());
  if (!hex) return Fail(Code::kInternal, "cannot format serial number");
  OsslBytesPtr owner(hex);
  std::string out(hex);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A random positive 128-bit serial (RFC 5280 allows up to 20 octets; unpredictable
// serials also keep chosen-prefix collisions off the table).
Result<Asn1IntPtr> RandomSerial() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return Fail(Code::kInternal, "RAND_bytes failed");
  if (bytes[0] == 0) bytes[0] = 1;  // so the hex form is always 32 digits (and never zero)
  BignumPtr bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  if (!bn) return Fail(Code::kInternal, "cannot build serial number");
  Asn1IntPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!serial) return Fail(Code::kInternal, "cannot build serial number");
  return serial;
}

Status AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return Fail(Code::kInternal, std::string("cannot add extension ") + OBJ_nid2sn(nid) + "=" +
                                     value);
  }
  return Status::Ok();
}

// DNS names are checked here rather than left to the TLS peer, which would only say
// "hostname mismatch" long after the certificate was issued.
bool IsValidDnsName(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '*';
    if (!ok) return false;
  }
  return true;
}

Status AddSubjectAltNames(X509* cert, const IssueRequest& req) {
  if (req.dns_names.empty() && req.ip_addresses.empty()) return Status::Ok();
  GenNamesPtr names(GENERAL_NAMES_new());
  if (!names) return Fail(Code::kInternal, "cannot allocate subjectAltName");
  for (const std::string& dns : req.dns_names) {
    if (!IsValidDnsName(dns)) return InvalidArgument("dns name '" + dns + "' is not valid");
    Ia5Ptr ia5(ASN1_IA5STRING_new());
    if (!ia5 || ASN1_STRING_set(ia5.get(), dns.data(), static_cast<int>(dns.size())) != 1) {
      return Fail(Code::kInternal, "cannot encode dns name");
    }
    GenNamePtr gn(GENERAL_NAME_new());
    if (!gn) return Fail(Code::kInternal, "cannot allocate subjectAltName entry");
    GENERAL_NAME_set0_value(gn.get(), GEN_DNS, ia5.release());
    if (!sk_GENERAL_NAME_push(names.get(), gn.get())) {
      return Fail(Code::kInternal, "cannot add subjectAltName entry");
    }
    gn.release();
  }
  for (const std::string& ip : req.ip_addresses) {
    OctetPtr octets(a2i_IPADDRESS(ip.c_str()));
    if (!octets) {
      ERR_clear_error();
      return InvalidArgument("ip address '" + ip + "' is not valid");
    }
    GenNamePtr gn(GENERAL_NAME_new());
    if (!gn) return Fail(Code::kInternal, "cannot allocate subjectAltName entry");
    GENERAL_NAME_set0_value(gn.get(), GEN_IPADD, octets.release());
    if (!sk_GENERAL_NAME_push(names.get(), gn.get())) {
      return Fail(Code::kInternal, "cannot add subjectAltName entry");
    }
    gn.release();
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return Fail(Code::kInternal, "cannot add subjectAltName");
  }
  return Status::Ok();
}

// Certificates start five minutes in the past so a device whose clock is slightly behind
// the server's accepts them at once.
constexpr long kClockSkewSeconds = 5 * 60;

Status SetValidity(X509* cert, int valid_days) {
  if (valid_days <= 0) {
    return InvalidArgument("valid_days must be positive, got " + std::to_string(valid_days));
  }
  if (!X509_gmtime_adj(X509_getm_notBefore(cert), -kClockSkewSeconds) ||
      !X509_time_adj_ex(X509_getm_notAfter(cert), valid_days, 0, nullptr)) {
    return Fail(Code::kInternal, "cannot set validity period");
  }
  return Status::Ok();
}

Result<int64_t> ToUnix(const ASN1_TIME* t) {
  struct tm tm = {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) {
    return Fail(Code::kInvalidArgument, "certificate: unreadable validity time");
  }
  return static_cast<int64_t>(timegm(&tm));
}

Status SignCertificate(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) {
    return Fail(Code::kInternal, "cannot sign certificate");
  }
  return Status::Ok();
}

}  // namespace

Result<KeyPair> GenerateKey() {
  ERR_clear_error();
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return Fail(Code::kInternal, "cannot generate P-256 key");
  KeyPair pair;
  PREAU_ASSIGN_OR_RETURN(pair.private_key_pem, PrivateKeyPem(key.get()));
  PREAU_ASSIGN_OR_RETURN(pair.public_key_pem, PublicKeyPem(key.get()));
  return pair;
}

Result<std::string> PublicKeyOf(const std::string& private_key_pem) {
  ERR_clear_error();
  PREAU_ASSIGN_OR_RETURN(PkeyPtr key, LoadPrivateKey(private_key_pem));
  return PublicKeyPem(key.get());
}

Result<std::string> KeyFingerprint(const std::string& key_pem) {
  ERR_clear_error();
  PREAU_ASSIGN_OR_RETURN(PkeyPtr key, LoadAnyKey(key_pem));
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key.get(), &der);
  if (len <= 0) return Fail(Code::kInternal, "cannot encode public key as DER");
  OsslBytesPtr owner(der);
  return Sha256Hex(std::string(reinterpret_cast<char*>(der), static_cast<size_t>(len)));
}

Result<std::string> CreateCsr(const std::string& private_key_pem, const std::string& common_name) {
  ERR_clear_error();
  if (common_name.empty()) return InvalidArgument("csr: common name is empty");
  PREAU_ASSIGN_OR_RETURN(PkeyPtr key, LoadPrivateKey(private_key_pem));
  ReqPtr req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1) {
    return Fail(Code::kInternal, "cannot allocate csr");
  }
  PREAU_RETURN_IF_ERROR(
      AddNameEntry(X509_REQ_get_subject_name(req.get()), "CN", common_name).Context("csr"));
  if (X509_REQ_set_pubkey(req.get(), key.get()) != 1 ||
      X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) {
    return Fail(Code::kInternal, "cannot sign csr");
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) {
    return Fail(Code::kInternal, "cannot encode csr");
  }
  return BioContents(bio.get());
}

Result<CsrInfo> VerifyCsr(const std::string& csr_pem) {
  ERR_clear_error();
  PREAU_ASSIGN_OR_RETURN(BioPtr bio, ReadBio(csr_pem, "csr"));
  ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!req) return Fail(Code::kInvalidArgument, "csr: not a valid PEM certificate request");
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (!key) return Fail(Code::kInvalidArgument, "csr: unreadable public key");
  PREAU_RETURN_IF_ERROR(CheckP256(key, "csr public key"));
  if (X509_REQ_verify(req.get(), key) != 1) {
    return Fail(Code::kInvalidArgument,
                "csr: self-signature does not verify (request altered or key not held)");
  }
  CsrInfo info;
  PREAU_ASSIGN_OR_RETURN(info.common_name,
                         NameEntry(X509_REQ_get_subject_name(req.get()), NID_commonName, "csr"));
  if (info.common_name.empty()) return InvalidArgument("csr: no common name");
  PREAU_ASSIGN_OR_RETURN(info.public_key_pem, PublicKeyPem(key));
  return info;
}

Result<std::string> CreateCaCertificate(const std::string& ca_key_pem,
                                        const std::string& common_name, int valid_days) {
  ERR_clear_error();
  if (common_name.empty()) return InvalidArgument("ca certificate: common name is empty");
  PREAU_ASSIGN_OR_RETURN(PkeyPtr key, LoadPrivateKey(ca_key_pem, "ca key"));
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return Fail(Code::kInternal, "cannot allocate certificate");
  }
  PREAU_ASSIGN_OR_RETURN(Asn1IntPtr serial, RandomSerial());
  if (X509_set_serialNumber(cert.get(), serial.get()) != 1) {
    return Fail(Code::kInternal, "cannot set serial number");
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  PREAU_RETURN_IF_ERROR(AddNameEntry(subject, "CN", common_name).Context("ca certificate"));
  if (X509_set_issuer_name(cert.get(), subject) != 1 ||
      X509_set_pubkey(cert.get(), key.get()) != 1) {
    return Fail(Code::kInternal, "cannot fill ca certificate");
  }
  PREAU_RETURN_IF_ERROR(SetValidity(cert.get(), valid_days));
  PREAU_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE"));
  PREAU_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign"));
  PREAU_RETURN_IF_ERROR(AddExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  PREAU_RETURN_IF_ERROR(SignCertificate(cert.get(), key.get()));
  return CertificatePem(cert.get());
}

Result<IssuedCertificate> IssueCertificate(const std::string& ca_cert_pem,
                                           const std::string& ca_key_pem,
                                           const IssueRequest& req) {
  ERR_clear_error();
  if (req.common_name.empty()) return InvalidArgument("issue: common name is empty");
  PREAU_ASSIGN_OR_RETURN(X509Ptr ca, LoadCertificate(ca_cert_pem, "ca certificate"));
  PREAU_ASSIGN_OR_RETURN(PkeyPtr ca_key, LoadPrivateKey(ca_key_pem, "ca key"));
  if (EVP_PKEY_eq(X509_get0_pubkey(ca.get()), ca_key.get()) != 1) {
    ERR_clear_error();
    return InvalidArgument("issue: ca key does not match the ca certificate");
  }
  PREAU_ASSIGN_OR_RETURN(PkeyPtr subject_key, LoadPublicKey(req.public_key_pem, "subject key"));

  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return Fail(Code::kInternal, "cannot allocate certificate");
  }
  PREAU_ASSIGN_OR_RETURN(Asn1IntPtr serial, RandomSerial());
  if (X509_set_serialNumber(cert.get(), serial.get()) != 1) {
    return Fail(Code::kInternal, "cannot set serial number");
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (!req.organizational_unit.empty()) {
    PREAU_RETURN_IF_ERROR(AddNameEntry(subject, "OU", req.organizational_unit).Context("issue"));
  }
  PREAU_RETURN_IF_ERROR(AddNameEntry(subject, "CN", req.common_name).Context("issue"));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.get())) != 1 ||
      X509_set_pubkey(cert.get(), subject_key.get()) != 1) {
    return Fail(Code::kInternal, "cannot fill certificate");
  }
  PREAU_RETURN_IF_ERROR(SetValidity(cert.get(), req.valid_days));

  X509* c = cert.get();
  PREAU_RETURN_IF_ERROR(AddExtension(c, ca.get(), NID_basic_constraints, "critical,CA:FALSE"));
  PREAU_RETURN_IF_ERROR(AddExtension(c, ca.get(), NID_key_usage, "critical,digitalSignature"));
  PREAU_RETURN_IF_ERROR(AddExtension(c, ca.get(), NID_ext_key_usage,
                                     req.usage == CertUsage::kServer ? "serverAuth"
                                                                     : "clientAuth"));
  PREAU_RETURN_IF_ERROR(AddExtension(c, ca.get(), NID_subject_key_identifier, "hash"));
  PREAU_RETURN_IF_ERROR(
      AddExtension(c, ca.get(), NID_authority_key_identifier, "keyid:always"));
  PREAU_RETURN_IF_ERROR(AddSubjectAltNames(c, req));
  PREAU_RETURN_IF_ERROR(SignCertificate(c, ca_key.get()));

  IssuedCertificate out;
  PREAU_ASSIGN_OR_RETURN(out.certificate_pem, CertificatePem(c));
  PREAU_ASSIGN_OR_RETURN(out.serial_hex, SerialHex(X509_get0_serialNumber(c)));
  return out;
}

Result<CertInfo> ParseCertificate(const std::string& cert_pem) {
  ERR_clear_error();
  PREAU_ASSIGN_OR_RETURN(X509Ptr cert, LoadCertificate(cert_pem));
  const X509_NAME* subject = X509_get_subject_name(cert.get());
  CertInfo info;
  PREAU_ASSIGN_OR_RETURN(info.common_name, NameEntry(subject, NID_commonName, "certificate"));
  PREAU_ASSIGN_OR_RETURN(info.organizational_unit,
                         NameEntry(subject, NID_organizationalUnitName, "certificate"));
  PREAU_ASSIGN_OR_RETURN(info.serial_hex, SerialHex(X509_get0_serialNumber(cert.get())));
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  if (!key) return Fail(Code::kInvalidArgument, "certificate: unreadable public key");
  PREAU_ASSIGN_OR_RETURN(info.public_key_pem, PublicKeyPem(key));
  PREAU_ASSIGN_OR_RETURN(info.not_before_unix, ToUnix(X509_get0_notBefore(cert.get())));
  PREAU_ASSIGN_OR_RETURN(info.not_after_unix, ToUnix(X509_get0_notAfter(cert.get())));
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    if (gn->type == GEN_DNS) {
      const ASN1_IA5STRING* dns = gn->d.dNSName;
      info.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                  static_cast<size_t>(ASN1_STRING_length(dns)));
    } else if (gn->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = gn->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = {};
      int len = ASN1_STRING_length(ip);
      int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
      if (family != 0 && inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof text)) {
        info.ip_addresses.emplace_back(text);
      }
    }
  }
  GENERAL_NAMES_free(names);
  return info;
}

Status VerifyCertificate(const std::string& cert_pem, const std::string& ca_cert_pem,
                         int64_t now_unix) {
  ERR_clear_error();
  PREAU_ASSIGN_OR_RETURN(X509Ptr cert, LoadCertificate(cert_pem));
  PREAU_ASSIGN_OR_RETURN(X509Ptr ca, LoadCertificate(ca_cert_pem, "ca certificate"));
  StorePtr store(X509_STORE_new());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), ca.get()) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1) {
    return Fail(Code::kInternal, "cannot set up certificate verification");
  }
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx.get()),
                             static_cast<time_t>(now_unix));
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return Unauthenticated(std::string("certificate does not verify against the ca: ") +
                           X509_verify_cert_error_string(err));
  }
  return Status::Ok();
}

Status CheckKeyMatchesCertificate(const std::string& private_key_pem,
                                  const std::string& cert_pem) {
  ERR_clear_error();
  PREAU_ASSIGN_OR_RETURN(PkeyPtr key, LoadPrivateKey(private_key_pem));
  PREAU_ASSIGN_OR_RETURN(X509Ptr cert, LoadCertificate(cert_pem));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return InvalidArgument("private key does not match the certificate's public key");
  }
  return Status::Ok();
}

namespace {
// Signing keys are few (the server's policy key, a device's pinned key) but used for every
// bundle: parsing their PEM dominated a rollout. Parsed keys are kept, by PEM text, for
// Sign and Verify; OpenSSL 3 allows a parsed key to be used from several threads at once.
Result<std::shared_ptr<EVP_PKEY>> CachedKey(const std::string& pem, bool is_private) {
  static std::mutex mu;
  static std::unordered_map<std::string, std::shared_ptr<EVP_PKEY>> cache;
  constexpr size_t kMaxKeys = 64;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(pem);
    if (it != cache.end()) return it->second;
  }
  auto loaded = is_private ? LoadPrivateKey(pem) : LoadPublicKey(pem);
  if (!loaded.ok()) return loaded.status();
  std::shared_ptr<EVP_PKEY> key(loaded->release(), EVP_PKEY_free);
  std::lock_guard<std::mutex> lock(mu);
  if (cache.size() >= kMaxKeys) cache.clear();
  cache.emplace(pem, key);
  return key;
}
}  // namespace

Result<std::string> Sign(const std::string& private_key_pem, const std::string& data) {
  ERR_clear_error();
  PREAU_ASSIGN_OR_RETURN(auto key, CachedKey(private_key_pem, /*is_private=*/true));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, bytes, data.size()) != 1) {
    return Fail(Code::kInternal, "cannot sign");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, bytes,
                     data.size()) != 1) {
    return Fail(Code::kInternal, "cannot sign");
  }
  sig.resize(len);  // DER ECDSA signatures vary in length; the first call gave the maximum
  return sig;
}

Status Verify(const std::string& public_key_pem, const std::string& data,
              const std::string& signature) {
  ERR_clear_error();
  PREAU_ASSIGN_OR_RETURN(auto key, CachedKey(public_key_pem, /*is_private=*/false));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1) {
    return Fail(Code::kInternal, "cannot set up signature verification");
  }
  int rc = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                            signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                            data.size());
  // A malformed signature (rc < 0) means the same to the caller as a wrong one.
  ERR_clear_error();
  if (rc != 1) return Unauthenticated("signature does not match the data and key");
  return Status::Ok();
}

struct Sha256Stream::Ctx {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
};

Sha256Stream::Sha256Stream() : ctx_(new Ctx) {
  // Only a broken OpenSSL install fails here; a wrong hash would be worse than a crash.
  if (!ctx_->md || EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1) std::abort();
}

Sha256Stream::~Sha256Stream() {
  EVP_MD_CTX_free(ctx_->md);
  delete ctx_;
}

void Sha256Stream::Update(std::string_view data) {
  if (EVP_DigestUpdate(ctx_->md, data.data(), data.size()) != 1) std::abort();
}

std::string Sha256Stream::FinishHex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_->md, digest, &len) != 1) std::abort();
  return ToHex(digest, len);
}

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
    // Only a broken OpenSSL install fails here; a wrong hash would be worse than a crash.
    std::abort();
  }
  return ToHex(digest, len);
}

std::string RandomHex(size_t n) {
  std::string bytes(n, '\0');
  auto* p = reinterpret_cast<unsigned char*>(bytes.data());
  for (size_t done = 0; done < n;) {
    int chunk = static_cast<int>(std::min<size_t>(n - done, 1 << 20));
    if (RAND_bytes(p + done, chunk) != 1) {
      // Callers use this for tokens and ids; returning predictable bytes would be a silent
      // security hole, so a failed random generator stops the process.
      std::abort();
    }
    done += static_cast<size_t>(chunk);
  }
  return ToHex(reinterpret_cast<const unsigned char*>(bytes.data()), n);
}

}  // namespace preau::pki

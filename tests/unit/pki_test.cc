// Tests for common/pki: real OpenSSL keys and certificates end to end, checked both through
// the Pki API and directly with OpenSSL (the way `openssl verify` and a TLS peer see them).
#include "common/pki.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "common/grpc_credentials.h"

namespace preau::pki {
namespace {

constexpr int64_t kDay = 24 * 60 * 60;

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

// The DER bytes inside a single-block PEM, so tests can alter exact bytes.
std::string PemBody(const std::string& pem, std::string* header, std::string* footer) {
  size_t begin = pem.find('\n') + 1;
  size_t end = pem.find("-----END");
  *header = pem.substr(0, begin);
  *footer = pem.substr(end);
  std::string b64;
  for (size_t i = begin; i < end; ++i) {
    if (pem[i] != '\n') b64.push_back(pem[i]);
  }
  std::string der(b64.size(), '\0');
  int len = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(der.data()),
                            reinterpret_cast<const unsigned char*>(b64.data()),
                            static_cast<int>(b64.size()));
  EXPECT_GT(len, 0);
  size_t padding = 0;
  while (padding < b64.size() && b64[b64.size() - 1 - padding] == '=') ++padding;
  der.resize(static_cast<size_t>(len) - padding);
  return der;
}

std::string ToPem(const std::string& der, const std::string& header, const std::string& footer) {
  std::string b64(4 * ((der.size() + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                            reinterpret_cast<const unsigned char*>(der.data()),
                            static_cast<int>(der.size()));
  b64.resize(static_cast<size_t>(len));
  std::string out = header;
  for (size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  return out + footer;
}

// Replaces the first occurrence of `from` with `to` (same length) inside a PEM's DER.
std::string TamperPem(const std::string& pem, const std::string& from, const std::string& to) {
  std::string header, footer;
  std::string der = PemBody(pem, &header, &footer);
  size_t at = der.find(from);
  EXPECT_NE(at, std::string::npos) << "'" << from << "' not found in DER";
  if (at != std::string::npos) der.replace(at, from.size(), to);
  return ToPem(der, header, footer);
}

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
std::unique_ptr<X509, X509Free> ReadX509(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  return std::unique_ptr<X509, X509Free>(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

// A CA and its key, made fresh for each test.
struct Ca {
  KeyPair key;
  std::string cert_pem;
};
Ca MakeCa(const std::string& name = "Preau Test CA") {
  Ca ca;
  auto key = GenerateKey();
  EXPECT_TRUE(key.ok()) << key.status().message();
  ca.key = *key;
  auto cert = CreateCaCertificate(ca.key.private_key_pem, name, 3650);
  EXPECT_TRUE(cert.ok()) << cert.status().message();
  ca.cert_pem = *cert;
  return ca;
}

struct Leaf {
  KeyPair key;
  IssuedCertificate cert;
};
Leaf MakeLeaf(const Ca& ca, IssueRequest req) {
  Leaf leaf;
  auto key = GenerateKey();
  EXPECT_TRUE(key.ok()) << key.status().message();
  leaf.key = *key;
  req.public_key_pem = leaf.key.public_key_pem;
  auto cert = IssueCertificate(ca.cert_pem, ca.key.private_key_pem, req);
  EXPECT_TRUE(cert.ok()) << cert.status().message();
  if (cert.ok()) leaf.cert = *cert;
  return leaf;
}

IssueRequest DeviceRequest(const std::string& id = "dev-0001") {
  IssueRequest req;
  req.common_name = id;
  req.organizational_unit = "device";
  req.usage = CertUsage::kClient;
  req.valid_days = 365;
  return req;
}

IssueRequest ServerRequest() {
  IssueRequest req;
  req.common_name = "localhost";
  req.organizational_unit = "server";
  req.dns_names = {"localhost"};
  req.ip_addresses = {"127.0.0.1"};
  req.usage = CertUsage::kServer;
  return req;
}

bool IsLowerHex(const std::string& s) {
  return s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

TEST(PkiTest, GeneratedKeyHasStableFingerprint) {
  auto key = GenerateKey();
  ASSERT_TRUE(key.ok()) << key.status().message();
  EXPECT_NE(key->private_key_pem.find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
  EXPECT_NE(key->public_key_pem.find("-----BEGIN PUBLIC KEY-----"), std::string::npos);

  auto pub = PublicKeyOf(key->private_key_pem);
  ASSERT_TRUE(pub.ok()) << pub.status().message();
  EXPECT_EQ(*pub, key->public_key_pem);

  auto from_public = KeyFingerprint(key->public_key_pem);
  auto from_private = KeyFingerprint(key->private_key_pem);
  ASSERT_TRUE(from_public.ok()) << from_public.status().message();
  ASSERT_TRUE(from_private.ok()) << from_private.status().message();
  EXPECT_EQ(from_public->size(), 64u);
  EXPECT_TRUE(IsLowerHex(*from_public));
  EXPECT_EQ(*from_public, *from_private);
  EXPECT_EQ(*KeyFingerprint(key->public_key_pem), *from_public);

  auto other = GenerateKey();
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*KeyFingerprint(other->public_key_pem), *from_public);
}

TEST(PkiTest, CsrRoundTrip) {
  auto key = GenerateKey();
  ASSERT_TRUE(key.ok());
  auto csr = CreateCsr(key->private_key_pem, "dev-0001");
  ASSERT_TRUE(csr.ok()) << csr.status().message();
  EXPECT_NE(csr->find("-----BEGIN CERTIFICATE REQUEST-----"), std::string::npos);

  auto info = VerifyCsr(*csr);
  ASSERT_TRUE(info.ok()) << info.status().message();
  EXPECT_EQ(info->common_name, "dev-0001");
  EXPECT_EQ(info->public_key_pem, key->public_key_pem);
}

TEST(PkiTest, CsrWithTamperedBytesIsRefused) {
  auto key = GenerateKey();
  ASSERT_TRUE(key.ok());
  auto csr = CreateCsr(key->private_key_pem, "dev-0001");
  ASSERT_TRUE(csr.ok());
  ASSERT_TRUE(VerifyCsr(TamperPem(*csr, "dev-0001", "dev-0001")).ok());  // helper is faithful

  // Someone swaps the name in a request signed for another device.
  auto renamed = VerifyCsr(TamperPem(*csr, "dev-0001", "dev-0666"));
  ASSERT_FALSE(renamed.ok());
  EXPECT_EQ(renamed.status().code(), Code::kInvalidArgument);
  EXPECT_NE(renamed.status().message().find("self-signature"), std::string::npos)
      << renamed.status().message();
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left dirty";

  // A CSR whose name is filled in for someone else's key: signed by key A, carrying key B.
  auto other = GenerateKey();
  ASSERT_TRUE(other.ok());
  std::string header, footer;
  std::string a_spki = PemBody(key->public_key_pem, &header, &footer);
  std::string b_spki = PemBody(other->public_key_pem, &header, &footer);
  ASSERT_EQ(a_spki.size(), b_spki.size());
  EXPECT_FALSE(VerifyCsr(TamperPem(*csr, a_spki, b_spki)).ok());

  std::string truncated = csr->substr(0, csr->size() / 2);
  auto cut = VerifyCsr(truncated);
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.status().code(), Code::kInvalidArgument);
  EXPECT_NE(cut.status().message().find("csr"), std::string::npos) << cut.status().message();
}

TEST(PkiTest, IssueAndParse) {
  Ca ca = MakeCa();
  int64_t before = Now();
  Leaf leaf = MakeLeaf(ca, DeviceRequest("dev-0042"));
  int64_t after = Now();

  EXPECT_EQ(leaf.cert.serial_hex.size(), 32u) << leaf.cert.serial_hex;
  EXPECT_TRUE(IsLowerHex(leaf.cert.serial_hex)) << leaf.cert.serial_hex;

  auto info = ParseCertificate(leaf.cert.certificate_pem);
  ASSERT_TRUE(info.ok()) << info.status().message();
  EXPECT_EQ(info->common_name, "dev-0042");
  EXPECT_EQ(info->organizational_unit, "device");
  EXPECT_EQ(info->serial_hex, leaf.cert.serial_hex);
  EXPECT_EQ(info->public_key_pem, leaf.key.public_key_pem);
  EXPECT_GE(info->not_before_unix, before - 5 * 60);
  EXPECT_LE(info->not_before_unix, after - 5 * 60);
  EXPECT_GE(info->not_after_unix, before + 365 * kDay);
  EXPECT_LE(info->not_after_unix, after + 365 * kDay);

  // Two certificates for the same request never share a serial.
  Leaf again = MakeLeaf(ca, DeviceRequest("dev-0042"));
  EXPECT_NE(again.cert.serial_hex, leaf.cert.serial_hex);

  auto ca_info = ParseCertificate(ca.cert_pem);
  ASSERT_TRUE(ca_info.ok()) << ca_info.status().message();
  EXPECT_EQ(ca_info->common_name, "Preau Test CA");
  EXPECT_EQ(ca_info->organizational_unit, "");
}

TEST(PkiTest, IssueFromCsr) {
  Ca ca = MakeCa();
  auto key = GenerateKey();
  ASSERT_TRUE(key.ok());
  auto csr = CreateCsr(key->private_key_pem, "ops-alice");
  ASSERT_TRUE(csr.ok());
  auto csr_info = VerifyCsr(*csr);
  ASSERT_TRUE(csr_info.ok());
  IssueRequest req;
  req.public_key_pem = csr_info->public_key_pem;
  req.common_name = csr_info->common_name;
  req.organizational_unit = "operator";
  auto cert = IssueCertificate(ca.cert_pem, ca.key.private_key_pem, req);
  ASSERT_TRUE(cert.ok()) << cert.status().message();
  EXPECT_TRUE(CheckKeyMatchesCertificate(key->private_key_pem, cert->certificate_pem).ok());
}

// What `openssl verify -CAfile ca.pem -purpose sslserver|sslclient` checks, plus the name
// checks a gRPC client makes against the target "localhost" or "127.0.0.1".
TEST(PkiTest, ServerAndClientCertificatesVerifyAsTlsPeersExpect) {
  Ca ca = MakeCa();
  Leaf server = MakeLeaf(ca, ServerRequest());
  Leaf client = MakeLeaf(ca, DeviceRequest());

  Status s = VerifyCertificate(server.cert.certificate_pem, ca.cert_pem, Now());
  EXPECT_TRUE(s.ok()) << s.message();
  s = VerifyCertificate(client.cert.certificate_pem, ca.cert_pem, Now());
  EXPECT_TRUE(s.ok()) << s.message();
  // Issued "now" but valid from five minutes ago: a device a little behind still accepts it.
  s = VerifyCertificate(client.cert.certificate_pem, ca.cert_pem, Now() - 4 * 60);
  EXPECT_TRUE(s.ok()) << s.message();

  auto ca_x509 = ReadX509(ca.cert_pem);
  auto server_x509 = ReadX509(server.cert.certificate_pem);
  auto client_x509 = ReadX509(client.cert.certificate_pem);
  ASSERT_TRUE(ca_x509 && server_x509 && client_x509);

  auto verify_with_purpose = [&](X509* leaf, int purpose) {
    std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(),
                                                                  &X509_STORE_free);
    std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                        &X509_STORE_CTX_free);
    X509_STORE_add_cert(store.get(), ca_x509.get());
    X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr);
    X509_STORE_CTX_set_purpose(ctx.get(), purpose);
    int ok = X509_verify_cert(ctx.get());
    std::string err = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
    ERR_clear_error();
    return ok == 1 ? std::string("ok") : err;
  };
  EXPECT_EQ(verify_with_purpose(server_x509.get(), X509_PURPOSE_SSL_SERVER), "ok");
  EXPECT_EQ(verify_with_purpose(client_x509.get(), X509_PURPOSE_SSL_CLIENT), "ok");
  // Each certificate is good for its own side of the connection only.
  EXPECT_NE(verify_with_purpose(client_x509.get(), X509_PURPOSE_SSL_SERVER), "ok");
  EXPECT_NE(verify_with_purpose(server_x509.get(), X509_PURPOSE_SSL_CLIENT), "ok");

  EXPECT_EQ(X509_check_host(server_x509.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(server_x509.get(), "127.0.0.1", 0), 1);
  EXPECT_NE(X509_check_host(server_x509.get(), "example.org", 0, 0, nullptr), 1);

  EXPECT_EQ(X509_check_ca(ca_x509.get()), 1);
  EXPECT_EQ(X509_check_ca(server_x509.get()), 0);
  EXPECT_EQ(X509_check_issued(ca_x509.get(), client_x509.get()), X509_V_OK);
  // The leaf names its issuer's key, so a rolled-over CA with the same name is told apart.
  const ASN1_OCTET_STRING* akid = X509_get0_authority_key_id(client_x509.get());
  const ASN1_OCTET_STRING* skid = X509_get0_subject_key_id(ca_x509.get());
  ASSERT_NE(akid, nullptr);
  ASSERT_NE(skid, nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(akid, skid), 0);
}

TEST(PkiTest, CertificateFromAnotherCaIsRefused) {
  Ca ca = MakeCa();
  Ca impostor = MakeCa("Preau Test CA");  // same name, different key
  Leaf leaf = MakeLeaf(impostor, DeviceRequest());
  Status s = VerifyCertificate(leaf.cert.certificate_pem, ca.cert_pem, Now());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kUnauthenticated);
  EXPECT_NE(s.message().find("certificate"), std::string::npos) << s.message();
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left dirty";
}

TEST(PkiTest, ExpiredAndNotYetValidCertificatesAreRefused) {
  Ca ca = MakeCa();
  IssueRequest req = DeviceRequest();
  req.valid_days = 1;
  Leaf leaf = MakeLeaf(ca, req);

  EXPECT_TRUE(VerifyCertificate(leaf.cert.certificate_pem, ca.cert_pem, Now()).ok());
  Status expired = VerifyCertificate(leaf.cert.certificate_pem, ca.cert_pem, Now() + 2 * kDay);
  ASSERT_FALSE(expired.ok());
  EXPECT_NE(expired.message().find("certificate has expired"), std::string::npos)
      << expired.message();

  Status early = VerifyCertificate(leaf.cert.certificate_pem, ca.cert_pem, Now() - kDay);
  ASSERT_FALSE(early.ok());
  EXPECT_NE(early.message().find("not yet valid"), std::string::npos) << early.message();

  req.valid_days = 0;
  req.public_key_pem = leaf.key.public_key_pem;
  auto zero = IssueCertificate(ca.cert_pem, ca.key.private_key_pem, req);
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.status().code(), Code::kInvalidArgument);
  EXPECT_NE(zero.status().message().find("valid_days"), std::string::npos);
}

TEST(PkiTest, KeyCertificateMismatchIsDetected) {
  Ca ca = MakeCa();
  Leaf leaf = MakeLeaf(ca, DeviceRequest());
  auto stranger = GenerateKey();
  ASSERT_TRUE(stranger.ok());

  EXPECT_TRUE(CheckKeyMatchesCertificate(leaf.key.private_key_pem,
                                         leaf.cert.certificate_pem).ok());
  Status s = CheckKeyMatchesCertificate(stranger->private_key_pem, leaf.cert.certificate_pem);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("does not match"), std::string::npos) << s.message();
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left dirty";

  // A CA key that is not the CA certificate's must not sign anything.
  IssueRequest req = DeviceRequest();
  req.public_key_pem = leaf.key.public_key_pem;
  auto wrong_ca = IssueCertificate(ca.cert_pem, stranger->private_key_pem, req);
  ASSERT_FALSE(wrong_ca.ok());
  EXPECT_NE(wrong_ca.status().message().find("ca key does not match"), std::string::npos)
      << wrong_ca.status().message();
}

TEST(PkiTest, SignAndVerify) {
  auto key = GenerateKey();
  auto other = GenerateKey();
  ASSERT_TRUE(key.ok() && other.ok());
  const std::string data = "policy bundle v7: block games 08:00-16:30";

  auto sig = Sign(key->private_key_pem, data);
  ASSERT_TRUE(sig.ok()) << sig.status().message();
  Status s = Verify(key->public_key_pem, data, *sig);
  EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(Verify(key->public_key_pem, "", *Sign(key->private_key_pem, "")).ok());

  std::string tampered = data;
  tampered[0] = 'P';
  Status bad_data = Verify(key->public_key_pem, tampered, *sig);
  ASSERT_FALSE(bad_data.ok());
  EXPECT_NE(bad_data.message().find("signature does not match"), std::string::npos)
      << bad_data.message();

  EXPECT_FALSE(Verify(other->public_key_pem, data, *sig).ok());

  std::string bad_sig = *sig;
  bad_sig[bad_sig.size() - 1] ^= 0x01;
  EXPECT_FALSE(Verify(key->public_key_pem, data, bad_sig).ok());
  EXPECT_FALSE(Verify(key->public_key_pem, data, "not a DER signature").ok());
  EXPECT_FALSE(Verify(key->public_key_pem, data, "").ok());
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left dirty";

  Status bad_key = Verify("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", data,
                          *sig);
  ASSERT_FALSE(bad_key.ok());
  EXPECT_EQ(bad_key.code(), Code::kInvalidArgument);
}

TEST(PkiTest, GarbageInputsGiveInvalidArgument) {
  Ca ca = MakeCa();
  Leaf leaf = MakeLeaf(ca, DeviceRequest());
  const std::vector<std::string> garbage = {
      "",
      "hello",
      "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
      "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
      ca.cert_pem.substr(0, ca.cert_pem.size() / 2),
      ca.key.private_key_pem.substr(0, ca.key.private_key_pem.size() - 40),
      std::string(1000, '\0'),
  };
  auto expect_invalid = [](const Status& s, const std::string& what) {
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << what << ": " << s.message();
    EXPECT_FALSE(s.message().empty()) << what;
    EXPECT_EQ(ERR_peek_error(), 0u) << what << ": OpenSSL error queue left dirty";
  };
  IssueRequest req = DeviceRequest();
  req.public_key_pem = leaf.key.public_key_pem;
  for (size_t i = 0; i < garbage.size(); ++i) {
    const std::string& g = garbage[i];
    const std::string tag = "input #" + std::to_string(i);
    expect_invalid(PublicKeyOf(g).status(), tag + " PublicKeyOf");
    expect_invalid(KeyFingerprint(g).status(), tag + " KeyFingerprint");
    expect_invalid(CreateCsr(g, "x").status(), tag + " CreateCsr");
    expect_invalid(VerifyCsr(g).status(), tag + " VerifyCsr");
    expect_invalid(CreateCaCertificate(g, "x", 10).status(), tag + " CreateCaCertificate");
    expect_invalid(IssueCertificate(g, ca.key.private_key_pem, req).status(),
                   tag + " IssueCertificate(ca cert)");
    expect_invalid(IssueCertificate(ca.cert_pem, g, req).status(),
                   tag + " IssueCertificate(ca key)");
    IssueRequest bad_req = req;
    bad_req.public_key_pem = g;
    expect_invalid(IssueCertificate(ca.cert_pem, ca.key.private_key_pem, bad_req).status(),
                   tag + " IssueCertificate(subject key)");
    expect_invalid(ParseCertificate(g).status(), tag + " ParseCertificate");
    expect_invalid(VerifyCertificate(g, ca.cert_pem, Now()), tag + " VerifyCertificate(cert)");
    expect_invalid(VerifyCertificate(leaf.cert.certificate_pem, g, Now()),
                   tag + " VerifyCertificate(ca)");
    expect_invalid(CheckKeyMatchesCertificate(g, leaf.cert.certificate_pem),
                   tag + " CheckKeyMatchesCertificate(key)");
    expect_invalid(CheckKeyMatchesCertificate(leaf.key.private_key_pem, g),
                   tag + " CheckKeyMatchesCertificate(cert)");
    expect_invalid(Sign(g, "data").status(), tag + " Sign");
    expect_invalid(Verify(g, "data", "sig"), tag + " Verify");
  }
  // The message says which input was wrong.
  Status s = VerifyCertificate(leaf.cert.certificate_pem, "hello", Now());
  EXPECT_NE(s.message().find("ca certificate"), std::string::npos) << s.message();
}

TEST(PkiTest, BadNamesAreRefused) {
  Ca ca = MakeCa();
  auto key = GenerateKey();
  ASSERT_TRUE(key.ok());
  IssueRequest req = ServerRequest();
  req.public_key_pem = key->public_key_pem;

  IssueRequest bad_ip = req;
  bad_ip.ip_addresses = {"127.0.0.256"};
  auto ip = IssueCertificate(ca.cert_pem, ca.key.private_key_pem, bad_ip);
  ASSERT_FALSE(ip.ok());
  EXPECT_EQ(ip.status().code(), Code::kInvalidArgument);
  EXPECT_NE(ip.status().message().find("127.0.0.256"), std::string::npos);

  IssueRequest bad_dns = req;
  bad_dns.dns_names = {"local host"};
  auto dns = IssueCertificate(ca.cert_pem, ca.key.private_key_pem, bad_dns);
  ASSERT_FALSE(dns.ok());
  EXPECT_NE(dns.status().message().find("local host"), std::string::npos);

  IssueRequest ipv6 = req;
  ipv6.ip_addresses = {"::1"};
  EXPECT_TRUE(IssueCertificate(ca.cert_pem, ca.key.private_key_pem, ipv6).ok());

  EXPECT_EQ(CreateCsr(key->private_key_pem, "").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(CreateCsr(key->private_key_pem, std::string(65, 'a')).status().code(),
            Code::kInvalidArgument);
}

TEST(PkiTest, Sha256HexAndRandomHex) {
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  std::string a = RandomHex(16);
  std::string b = RandomHex(16);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_TRUE(IsLowerHex(a));
  EXPECT_NE(a, b);
  EXPECT_EQ(RandomHex(0), "");
}

// Echoes any unary call's message back, so the test needs no Préau service.
class EchoService : public grpc::CallbackGenericService {
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext*) override {
    class Reactor : public grpc::ServerGenericBidiReactor {
     public:
      Reactor() { StartRead(&request_); }
      void OnReadDone(bool ok) override {
        if (!ok) return Finish(grpc::Status::OK);
        StartWriteAndFinish(&request_, grpc::WriteOptions(), grpc::Status::OK);
      }
      void OnDone() override { delete this; }

     private:
      grpc::ByteBuffer request_;
    };
    return new Reactor;
  }
};

// The certificates in a real gRPC mutual-TLS call: the server requires and verifies a client
// certificate, the client checks the server's name.
class GrpcMtlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = MakeCa();
    server_ = MakeLeaf(ca_, ServerRequest());
    grpc::SslServerCredentialsOptions options(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    options.pem_root_certs = ca_.cert_pem;
    options.pem_key_cert_pairs.push_back(
        {server_.key.private_key_pem, server_.cert.certificate_pem});
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(options), &port_);
    builder.RegisterCallbackGenericService(&service_);
    server_handle_ = builder.BuildAndStart();
    ASSERT_NE(server_handle_, nullptr);
    ASSERT_GT(port_, 0);
  }
  void TearDown() override {
    if (server_handle_) server_handle_->Shutdown(std::chrono::system_clock::now());
  }

  // Makes one unary call as `client` to 127.0.0.1:port, trusting `client_ca` for the server
  // and checking the server's certificate names `tls_name`. The address is always the IP
  // literal: a root without /etc/hosts cannot resolve "localhost", and the name check is
  // what matters here, not the resolver.
  grpc::Status Call(const std::string& tls_name, const Ca& client_ca, const Leaf& client) {
    grpc::ChannelArguments args;
    if (tls_name != "127.0.0.1") args.SetSslTargetNameOverride(tls_name);
    auto channel = grpc::CreateCustomChannel(
        "127.0.0.1:" + std::to_string(port_),
        preau::MtlsCredentials(client_ca.cert_pem, client.cert.certificate_pem,
                               client.key.private_key_pem),
        args);
    grpc::GenericStub stub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    grpc::Slice ping("ping");
    grpc::ByteBuffer request(&ping, 1);
    grpc::ByteBuffer response;
    std::promise<grpc::Status> done;
    stub.UnaryCall(&context, "/preau.test.Echo/Call", grpc::StubOptions(), &request,
                   &response, [&done](grpc::Status s) { done.set_value(std::move(s)); });
    auto result = done.get_future();
    if (result.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
      context.TryCancel();
      result.wait();
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "test: call never finished");
    }
    grpc::Status status = result.get();
    std::vector<grpc::Slice> slices;
    if (status.ok() && (!response.Dump(&slices).ok() || slices.size() != 1 ||
                        slices[0].size() != 4 ||
                        std::string(reinterpret_cast<const char*>(slices[0].begin()), 4) !=
                            "ping")) {
      return grpc::Status(grpc::StatusCode::DATA_LOSS, "test: echo came back altered");
    }
    return status;
  }

  EchoService service_;
  Ca ca_;
  Leaf server_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_handle_;
};

TEST_F(GrpcMtlsTest, IssuedCertificatesCompleteAnMtlsCall) {
  Leaf device = MakeLeaf(ca_, DeviceRequest());
  grpc::Status by_name = Call("localhost", ca_, device);
  EXPECT_TRUE(by_name.ok()) << by_name.error_code() << " " << by_name.error_message();
  grpc::Status by_ip = Call("127.0.0.1", ca_, device);
  EXPECT_TRUE(by_ip.ok()) << by_ip.error_code() << " " << by_ip.error_message();
}

TEST_F(GrpcMtlsTest, ClientCertificateFromAnotherCaIsRejected) {
  Ca other = MakeCa("Preau Test CA");
  Leaf stranger = MakeLeaf(other, DeviceRequest());
  // The stranger trusts the real CA, so only the server's check of its certificate can fail.
  grpc::Status s = Call("localhost", ca_, stranger);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

TEST(PkiTest, Sha256StreamEqualsTheHashOfTheWhole) {
  std::string data;
  for (int i = 0; i < 100000; ++i) data += static_cast<char>('a' + i % 26);
  Sha256Stream stream;
  for (size_t off = 0; off < data.size(); off += 4093) {
    stream.Update(std::string_view(data).substr(off, 4093));
  }
  EXPECT_EQ(stream.FinishHex(), Sha256Hex(data));
  Sha256Stream empty;
  EXPECT_EQ(empty.FinishHex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

}  // namespace
}  // namespace preau::pki

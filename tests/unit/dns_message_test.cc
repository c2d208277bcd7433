// DNS wire parsing and building: names, compression, limits and every answer we build.
#include <string>

#include <gtest/gtest.h>

#include "agent/filter/dns_message.h"

namespace preau::agent::dns {
namespace {

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(static_cast<char>(x));
  return s;
}

// A 12-byte query header with id 0x1234, RD and `qd` questions.
std::string QueryHeader(int qd = 1, int ar = 0) {
  return Bytes({0x12, 0x34, 0x01, 0x00, 0, qd, 0, 0, 0, 0, 0, ar});
}

TEST(DnsMessage, ParsesAQueryAndLowercasesTheName) {
  std::string q = BuildQuery(0xbeef, "WWW.Example.COM", kTypeAaaa, true);
  ParsedQuery p = ParseQuery(q);
  ASSERT_EQ(p.outcome, ParseOutcome::kOk) << p.error;
  EXPECT_EQ(p.query.name, "www.example.com");
  EXPECT_EQ(p.query.qtype, kTypeAaaa);
  EXPECT_EQ(p.query.header.id, 0xbeef);
  EXPECT_TRUE(p.query.has_edns);
  EXPECT_EQ(p.query.udp_size, 1232);
  EXPECT_EQ(p.query.question_end, 12u + 17 + 4);
}

TEST(DnsMessage, RejectsMalformedQueriesWithReasons) {
  EXPECT_EQ(ParseQuery(Bytes({1, 2, 3})).outcome, ParseOutcome::kDrop);
  std::string response = BuildQuery(1, "a.fr", kTypeA, false);
  response[2] = static_cast<char>(0x81);
  EXPECT_EQ(ParseQuery(response).outcome, ParseOutcome::kDrop);

  // Compression pointer to itself: a loop.
  ParsedQuery loop = ParseQuery(QueryHeader() + Bytes({0xc0, 0x0c, 0, 1, 0, 1}));
  EXPECT_EQ(loop.outcome, ParseOutcome::kFormErr);
  EXPECT_NE(loop.error.find("loop"), std::string::npos) << loop.error;
  // Two pointers chasing each other: "a" then a pointer back to the start.
  ParsedQuery loop2 = ParseQuery(QueryHeader() + Bytes({1, 'a', 0xc0, 0x0c, 0, 1, 0, 1}));
  EXPECT_EQ(loop2.outcome, ParseOutcome::kFormErr);

  ParsedQuery trunc = ParseQuery(QueryHeader() + Bytes({3, 'a', 'b'}));
  EXPECT_EQ(trunc.outcome, ParseOutcome::kFormErr);
  EXPECT_NE(trunc.error.find("past the end"), std::string::npos) << trunc.error;

  std::string chaos = BuildQuery(2, "version.bind", 16, false);
  chaos[chaos.size() - 1] = 3;  // class CH
  ParsedQuery ch = ParseQuery(chaos);
  EXPECT_EQ(ch.outcome, ParseOutcome::kFormErr);
  EXPECT_EQ(ch.error, "class 3 is not IN");

  std::string longlabel = QueryHeader() + std::string(1, 64) + std::string(64, 'x') +
                          Bytes({0, 0, 1, 0, 1});
  EXPECT_EQ(ParseQuery(longlabel).outcome, ParseOutcome::kFormErr);

  std::string longname = QueryHeader();
  for (int i = 0; i < 5; ++i) longname += std::string(1, 60) + std::string(60, 'y');
  longname += Bytes({0, 0, 1, 0, 1});
  ParsedQuery ln = ParseQuery(longname);
  EXPECT_EQ(ln.outcome, ParseOutcome::kFormErr);
  EXPECT_NE(ln.error.find("255"), std::string::npos);

  EXPECT_EQ(ParseQuery(QueryHeader(2) + Bytes({0, 0, 1, 0, 1})).outcome, ParseOutcome::kFormErr);
  std::string big = BuildQuery(3, "a.fr", kTypeA, false) + std::string(5000, '\0');
  EXPECT_EQ(ParseQuery(big).outcome, ParseOutcome::kFormErr);
  std::string notify = BuildQuery(4, "a.fr", kTypeA, false);
  notify[2] = static_cast<char>(4 << 3);
  EXPECT_EQ(ParseQuery(notify).outcome, ParseOutcome::kNotImp);
}

TEST(DnsMessage, BackwardPointersAreFollowed) {
  // Question name "www" + pointer to a name placed... before it is impossible in a query,
  // so test ReadName on a response-like buffer: "example.com" at 12, "www" -> pointer.
  std::string m = QueryHeader() + Bytes({7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
                                         3, 'w', 'w', 'w', 0xc0, 12});
  std::string name, error;
  size_t next = 0;
  ASSERT_TRUE(ReadName(m, 25, name, next, error)) << error;
  EXPECT_EQ(name, "www.example.com");
  EXPECT_EQ(next, m.size());
}

TEST(DnsMessage, BlockAnswersForEachType) {
  for (uint16_t type : {kTypeA, kTypeAaaa, uint16_t{16}}) {
    std::string req = BuildQuery(7, "Casino.Example", type, false);
    ParsedQuery p = ParseQuery(req);
    ASSERT_EQ(p.outcome, ParseOutcome::kOk);
    std::string ans = BuildBlockAnswer(req, p.query, 60);
    ResponseInfo info;
    std::string error;
    ASSERT_TRUE(ParseResponse(ans, info, error)) << error;
    EXPECT_EQ(info.header.id, 7);
    EXPECT_TRUE(info.header.qr());
    EXPECT_EQ(info.header.rcode(), kNoError);
    // The question comes back byte for byte (letter case kept).
    EXPECT_EQ(ans.substr(12, p.query.question_end - 12), req.substr(12, p.query.question_end - 12));
    if (type == 16) {
      EXPECT_TRUE(info.answers.empty());
      continue;
    }
    ASSERT_EQ(info.answers.size(), 1u);
    EXPECT_EQ(info.answers[0].name, "casino.example");
    EXPECT_EQ(info.answers[0].ttl, 60u);
    EXPECT_EQ(info.answers[0].rdata, std::string(type == kTypeA ? 4 : 16, '\0'));
  }
}

TEST(DnsMessage, CnameAnswerCarriesTheTargetAddresses) {
  std::string req = BuildQuery(9, "www.google.fr", kTypeA, true);
  ParsedQuery p = ParseQuery(req);
  ASSERT_EQ(p.outcome, ParseOutcome::kOk);
  Record a{"forcesafesearch.google.com", kTypeA, 300, Bytes({216, 239, 38, 120})};
  std::string ans = BuildCnameAnswer(req, p.query, "forcesafesearch.google.com", 300, {a});
  ResponseInfo info;
  std::string error;
  ASSERT_TRUE(ParseResponse(ans, info, error)) << error;
  ASSERT_EQ(info.answers.size(), 2u);
  EXPECT_EQ(info.answers[0].type, kTypeCname);
  std::string target, rerr;
  size_t next = 0;
  ASSERT_TRUE(ReadName(info.answers[0].rdata, 0, target, next, rerr));
  EXPECT_EQ(target, "forcesafesearch.google.com");
  EXPECT_EQ(info.answers[1].name, "forcesafesearch.google.com");
  EXPECT_EQ(info.answers[1].rdata, a.rdata);
  EXPECT_EQ(info.header.arcount, 1);  // the OPT record, since the client used EDNS
}

TEST(DnsMessage, HeaderOnlyErrorAndTruncation) {
  std::string req = BuildQuery(0x4242, "a.fr", kTypeA, false);
  std::string err = BuildHeaderOnlyError(req, kFormErr);
  Header h;
  ASSERT_TRUE(ReadHeader(err, h));
  EXPECT_EQ(h.id, 0x4242);
  EXPECT_TRUE(h.qr());
  EXPECT_EQ(h.rcode(), kFormErr);
  EXPECT_EQ(err.size(), 12u);
  ParsedQuery p = ParseQuery(req);
  std::string ans = BuildBlockAnswer(req, p.query, 60);
  Truncate(ans, p.query.question_end);
  ASSERT_TRUE(ReadHeader(ans, h));
  EXPECT_TRUE(h.tc());
  EXPECT_EQ(h.ancount, 0);
  EXPECT_EQ(ans.size(), p.query.question_end);
}

TEST(DnsMessage, NeverReadsOutsideTheBufferOnRandomInput) {
  // Mutate a valid query and response at every byte with every value class: no crash, and
  // the parsers either accept or give a reason.
  std::string req = BuildQuery(1, "www.example.com", kTypeA, true);
  ParsedQuery p = ParseQuery(req);
  std::string resp = BuildCnameAnswer(req, p.query, "a.example.net", 60,
                                      {{"a.example.net", kTypeA, 60, Bytes({1, 2, 3, 4})}});
  for (const std::string& base : {req, resp}) {
    for (size_t i = 0; i < base.size(); ++i) {
      for (int v : {0x00, 0x3f, 0x40, 0xc0, 0xff}) {
        std::string m = base;
        m[i] = static_cast<char>(v);
        for (size_t cut : {m.size(), i + 1}) {
          std::string_view view(m.data(), cut);
          ParsedQuery q = ParseQuery(view);
          if (q.outcome == ParseOutcome::kFormErr) {
            EXPECT_FALSE(q.error.empty());
          }
          ResponseInfo info;
          std::string error;
          if (!ParseResponse(view, info, error)) {
            EXPECT_FALSE(error.empty());
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace preau::agent::dns

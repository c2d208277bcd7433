// DnsMessage: the small part of the DNS wire format (RFC 1035, plus the EDNS OPT record of
// RFC 6891) that the agent's filtering resolver needs: parse a client query strictly,
// build the answers the filter gives (block, CNAME rewrite for safe search, errors), and
// read an upstream response far enough to cache it and re-use its address records.
//
// Parsing never trusts the packet: names are bounded (63-byte labels, 255-byte names),
// compression pointers must point strictly backwards (so a pointer loop cannot exist), and
// every read is bounds-checked. A query that cannot be understood gets FORMERR when its
// header is readable, and is dropped otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace preau::agent::dns {

inline constexpr uint16_t kTypeA = 1;
inline constexpr uint16_t kTypeCname = 5;
inline constexpr uint16_t kTypeSoa = 6;
inline constexpr uint16_t kTypeAaaa = 28;
inline constexpr uint16_t kTypeOpt = 41;
inline constexpr uint16_t kClassIn = 1;

enum Rcode : uint8_t {
  kNoError = 0,
  kFormErr = 1,
  kServFail = 2,
  kNxDomain = 3,
  kNotImp = 4,
  kRefused = 5,
};

inline constexpr size_t kHeaderSize = 12;
inline constexpr size_t kMaxUdpPayload = 4096;  // larger datagrams are refused as oversized

struct Header {
  uint16_t id = 0;
  uint16_t flags = 0;
  uint16_t qdcount = 0, ancount = 0, nscount = 0, arcount = 0;
  bool qr() const { return flags & 0x8000; }
  uint8_t opcode() const { return (flags >> 11) & 0xf; }
  bool tc() const { return flags & 0x0200; }
  bool rd() const { return flags & 0x0100; }
  uint8_t rcode() const { return flags & 0xf; }
};

// Reads the 12-byte header; false if the message is shorter.
bool ReadHeader(std::string_view msg, Header& out);

// Reads a (possibly compressed) name at `pos`: lowercase, dotted, no trailing dot ("" is
// the root). On success `next` is the offset just after the name in the message.
// On failure returns false and sets `error` ("compression pointer loop", ...).
bool ReadName(std::string_view msg, size_t pos, std::string& name, size_t& next,
              std::string& error);

// Encodes a dotted name in uncompressed wire form; false if a label or the name is too long.
bool EncodeName(std::string_view name, std::string& out);

struct Query {
  Header header;
  std::string name;        // lowercase, dotted
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  size_t question_end = 0; // offset just after the question in the request
  bool has_edns = false;
  uint16_t udp_size = 512; // what the client can take over UDP
};

enum class ParseOutcome {
  kOk,
  kDrop,     // not worth an answer: shorter than a header, or a response (QR set)
  kFormErr,  // answer FORMERR: malformed question, wrong class, several questions
  kNotImp,   // answer NOTIMP: an opcode other than QUERY
};

struct ParsedQuery {
  ParseOutcome outcome = ParseOutcome::kDrop;
  Query query;
  std::string error;  // why, for logs and tests
};

// Parses a client query. Only standard queries (opcode 0) with exactly one question of
// class IN are accepted.
ParsedQuery ParseQuery(std::string_view msg);

// A resource record to put in an answer (rdata already in wire form, no compression).
struct Record {
  std::string name;  // dotted
  uint16_t type = 0;
  uint32_t ttl = 0;
  std::string rdata;
};

// Response skeleton: the request's id, opcode, RD and question (verbatim, so the client's
// letter case is kept), QR and RA set, `rcode`.
std::string BuildResponse(std::string_view request, const Query& q, uint8_t rcode);
// Error answer when even the question could not be read: header only.
std::string BuildHeaderOnlyError(std::string_view request, uint8_t rcode);

// The block answer: A -> 0.0.0.0, AAAA -> ::, any other type NOERROR with no records, so
// that browsers fail fast on every record type without caching a false NXDOMAIN for
// the whole name. `ttl` short so an unblock takes effect quickly.
std::string BuildBlockAnswer(std::string_view request, const Query& q, uint32_t ttl);

// The safe-search answer: "name CNAME target" then `records` (the target's addresses).
std::string BuildCnameAnswer(std::string_view request, const Query& q, std::string_view target,
                             uint32_t cname_ttl, const std::vector<Record>& records);

// Builds a query for `name`/`qtype` with id `id` and RD set (to ask upstream).
std::string BuildQuery(uint16_t id, std::string_view name, uint16_t qtype, bool edns);

// What the resolver needs from an upstream response.
struct ResponseInfo {
  Header header;
  std::string qname;
  uint16_t qtype = 0, qclass = 0;
  size_t question_end = 0;
  uint32_t min_ttl = 0;               // smallest TTL of answer and authority records
  bool has_records = false;           // any answer or authority record
  std::vector<uint16_t> ttl_offsets;  // where each TTL sits (to age cached copies)
  std::vector<Record> answers;        // answer section (A, AAAA, CNAME kept; others skipped)
};

// Parses an upstream response; false (with `error`) if it is malformed.
bool ParseResponse(std::string_view msg, ResponseInfo& out, std::string& error);

// Overwrites the 16-bit id of a message.
void SetId(std::string& msg, uint16_t id);

// Sets the TC bit and drops every section after the question (for UDP size limits).
void Truncate(std::string& msg, size_t question_end);

}  // namespace preau::agent::dns

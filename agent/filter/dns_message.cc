#include "agent/filter/dns_message.h"

namespace preau::agent::dns {
namespace {

uint16_t Get16(std::string_view m, size_t p) {
  return static_cast<uint16_t>((static_cast<uint8_t>(m[p]) << 8) | static_cast<uint8_t>(m[p + 1]));
}
uint32_t Get32(std::string_view m, size_t p) {
  return (uint32_t{Get16(m, p)} << 16) | Get16(m, p + 2);
}
void Put16(std::string& o, uint16_t v) {
  o.push_back(static_cast<char>(v >> 8));
  o.push_back(static_cast<char>(v & 0xff));
}
void Put32(std::string& o, uint32_t v) {
  Put16(o, static_cast<uint16_t>(v >> 16));
  Put16(o, static_cast<uint16_t>(v & 0xffff));
}
void Set16(std::string& o, size_t p, uint16_t v) {
  o[p] = static_cast<char>(v >> 8);
  o[p + 1] = static_cast<char>(v & 0xff);
}

// The OPT record we add when the client used EDNS: we accept up to 1232 bytes
// (the DNS flag day 2020 size, safe from fragmentation).
void PutOpt(std::string& o) {
  o.push_back(0);  // root name
  Put16(o, kTypeOpt);
  Put16(o, 1232);
  Put32(o, 0);
  Put16(o, 0);
}

// Skips one resource record starting at `p`; fills type/ttl offset; false if malformed.
bool SkipRecord(std::string_view m, size_t& p, uint16_t& type, size_t& ttl_at, size_t& rdata_at,
                uint16_t& rdlen, std::string& name, std::string& error) {
  size_t next = 0;
  if (!ReadName(m, p, name, next, error)) return false;
  if (next + 10 > m.size()) {
    error = "record header truncated";
    return false;
  }
  type = Get16(m, next);
  ttl_at = next + 4;
  rdlen = Get16(m, next + 8);
  rdata_at = next + 10;
  if (rdata_at + rdlen > m.size()) {
    error = "record data truncated";
    return false;
  }
  p = rdata_at + rdlen;
  return true;
}

}  // namespace

bool ReadHeader(std::string_view msg, Header& h) {
  if (msg.size() < kHeaderSize) return false;
  h.id = Get16(msg, 0);
  h.flags = Get16(msg, 2);
  h.qdcount = Get16(msg, 4);
  h.ancount = Get16(msg, 6);
  h.nscount = Get16(msg, 8);
  h.arcount = Get16(msg, 10);
  return true;
}

bool ReadName(std::string_view msg, size_t pos, std::string& name, size_t& next,
              std::string& error) {
  name.clear();
  size_t wire_len = 1;         // the final zero byte
  size_t segment_start = pos;  // pointers must land before this: no loop is possible
  bool jumped = false;
  for (;;) {
    if (pos >= msg.size()) {
      error = "name runs past the end of the message";
      return false;
    }
    uint8_t len = static_cast<uint8_t>(msg[pos]);
    if ((len & 0xc0) == 0xc0) {
      if (pos + 1 >= msg.size()) {
        error = "compression pointer truncated";
        return false;
      }
      size_t target = ((len & 0x3f) << 8) | static_cast<uint8_t>(msg[pos + 1]);
      if (target >= segment_start) {
        error = "compression pointer loop (pointer does not point backwards)";
        return false;
      }
      if (!jumped) next = pos + 2;
      jumped = true;
      pos = segment_start = target;
      continue;
    }
    if ((len & 0xc0) != 0) {
      error = "unsupported label type";
      return false;
    }
    if (len == 0) {
      if (!jumped) next = pos + 1;
      return true;
    }
    wire_len += len + 1;
    if (wire_len > 255) {
      error = "name longer than 255 bytes";
      return false;
    }
    if (pos + 1 + len > msg.size()) {
      error = "label runs past the end of the message";
      return false;
    }
    if (!name.empty()) name.push_back('.');
    for (size_t i = 0; i < len; ++i) {
      char c = msg[pos + 1 + i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      name.push_back(c);
    }
    pos += 1 + len;
  }
}

bool EncodeName(std::string_view name, std::string& out) {
  size_t start = out.size();
  while (!name.empty()) {
    size_t dot = name.find('.');
    std::string_view label = name.substr(0, dot);
    if (label.empty() || label.size() > 63) return false;
    out.push_back(static_cast<char>(label.size()));
    out.append(label);
    name = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
  }
  out.push_back(0);
  return out.size() - start <= 255;
}

ParsedQuery ParseQuery(std::string_view msg) {
  ParsedQuery r;
  Query& q = r.query;
  if (!ReadHeader(msg, q.header)) {
    r.error = "shorter than a DNS header";
    return r;
  }
  if (q.header.qr()) {
    r.error = "a response, not a query";
    return r;
  }
  auto formerr = [&](std::string why) {
    r.outcome = ParseOutcome::kFormErr;
    r.error = std::move(why);
    return r;
  };
  if (msg.size() > kMaxUdpPayload) return formerr("oversized message");
  if (q.header.opcode() != 0) {
    r.outcome = ParseOutcome::kNotImp;
    r.error = "opcode " + std::to_string(q.header.opcode()) + " not supported";
    return r;
  }
  if (q.header.qdcount != 1) {
    return formerr("expected one question, got " + std::to_string(q.header.qdcount));
  }
  if (q.header.ancount != 0 || q.header.nscount != 0) return formerr("records in a query");
  size_t next = 0;
  std::string error;
  if (!ReadName(msg, kHeaderSize, q.name, next, error)) return formerr(error);
  if (next + 4 > msg.size()) return formerr("question truncated");
  q.qtype = Get16(msg, next);
  q.qclass = Get16(msg, next + 2);
  q.question_end = next + 4;
  if (q.qclass != kClassIn) return formerr("class " + std::to_string(q.qclass) + " is not IN");
  // The additional section may hold an OPT record (EDNS); anything else is ignored.
  size_t p = q.question_end;
  for (uint16_t i = 0; i < q.header.arcount; ++i) {
    uint16_t type = 0, rdlen = 0;
    size_t ttl_at = 0, rdata_at = 0;
    std::string name;
    if (!SkipRecord(msg, p, type, ttl_at, rdata_at, rdlen, name, error)) {
      return formerr("additional section: " + error);
    }
    if (type == kTypeOpt) {
      q.has_edns = true;
      uint16_t size = Get16(msg, ttl_at - 2);
      q.udp_size = size < 512 ? 512 : size;
    }
  }
  r.outcome = ParseOutcome::kOk;
  return r;
}

std::string BuildResponse(std::string_view request, const Query& q, uint8_t rcode) {
  std::string o;
  o.reserve(q.question_end + 64);
  Put16(o, q.header.id);
  uint16_t flags = 0x8000 | (q.header.flags & 0x7900) | 0x0080 | rcode;  // QR, opcode, RD, RA
  flags &= ~0x0400;  // not authoritative
  Put16(o, flags);
  Put16(o, 1);
  Put16(o, 0);
  Put16(o, 0);
  Put16(o, q.has_edns ? 1 : 0);
  o.append(request.substr(kHeaderSize, q.question_end - kHeaderSize));
  if (q.has_edns) PutOpt(o);
  return o;
}

std::string BuildHeaderOnlyError(std::string_view request, uint8_t rcode) {
  Header h;
  ReadHeader(request, h);
  std::string o;
  Put16(o, h.id);
  Put16(o, static_cast<uint16_t>(0x8000 | (h.flags & 0x7900) | 0x0080 | rcode));
  Put16(o, 0);
  Put16(o, 0);
  Put16(o, 0);
  Put16(o, 0);
  return o;
}

namespace {

// Appends answer records after the question, before the OPT record if there is one.
void AppendAnswers(std::string& o, const Query& q, const std::vector<Record>& answers,
                   uint16_t first_name_ptr) {
  size_t insert_at = q.question_end;  // the OPT record, if any, follows the question
  std::string rr;
  for (const Record& a : answers) {
    if (first_name_ptr != 0) {
      Put16(rr, first_name_ptr);
      first_name_ptr = 0;
    } else {
      EncodeName(a.name, rr);
    }
    Put16(rr, a.type);
    Put16(rr, kClassIn);
    Put32(rr, a.ttl);
    Put16(rr, static_cast<uint16_t>(a.rdata.size()));
    rr.append(a.rdata);
  }
  o.insert(insert_at, rr);
  Set16(o, 6, static_cast<uint16_t>(answers.size()));
}

}  // namespace

std::string BuildBlockAnswer(std::string_view request, const Query& q, uint32_t ttl) {
  // Built in one pass: this is the answer the resolver gives most under load.
  const bool address = q.qtype == kTypeA || q.qtype == kTypeAaaa;
  const size_t rdlen = q.qtype == kTypeA ? 4 : 16;
  std::string o;
  o.reserve(q.question_end + 12 + rdlen + 11);
  Put16(o, q.header.id);
  Put16(o, static_cast<uint16_t>(0x8000 | (q.header.flags & 0x7900) | 0x0080 | kNoError));
  Put16(o, 1);
  Put16(o, address ? 1 : 0);
  Put16(o, 0);
  Put16(o, q.has_edns ? 1 : 0);
  o.append(request.substr(kHeaderSize, q.question_end - kHeaderSize));
  if (address) {
    Put16(o, 0xc000 | kHeaderSize);  // the question's name
    Put16(o, q.qtype);
    Put16(o, kClassIn);
    Put32(o, ttl);
    Put16(o, static_cast<uint16_t>(rdlen));
    o.append(rdlen, '\0');
  }
  if (q.has_edns) PutOpt(o);
  return o;
}

std::string BuildCnameAnswer(std::string_view request, const Query& q, std::string_view target,
                             uint32_t cname_ttl, const std::vector<Record>& records) {
  std::string o = BuildResponse(request, q, kNoError);
  std::vector<Record> all;
  Record cname{q.name, kTypeCname, cname_ttl, {}};
  EncodeName(target, cname.rdata);
  all.push_back(std::move(cname));
  all.insert(all.end(), records.begin(), records.end());
  AppendAnswers(o, q, all, 0xc000 | kHeaderSize);
  return o;
}

std::string BuildQuery(uint16_t id, std::string_view name, uint16_t qtype, bool edns) {
  std::string o;
  Put16(o, id);
  Put16(o, 0x0100);  // RD
  Put16(o, 1);
  Put16(o, 0);
  Put16(o, 0);
  Put16(o, edns ? 1 : 0);
  EncodeName(name, o);
  Put16(o, qtype);
  Put16(o, kClassIn);
  if (edns) PutOpt(o);
  return o;
}

bool ParseResponse(std::string_view msg, ResponseInfo& out, std::string& error) {
  out = ResponseInfo();
  if (!ReadHeader(msg, out.header)) {
    error = "shorter than a DNS header";
    return false;
  }
  if (out.header.qdcount != 1) {
    error = "response without exactly one question";
    return false;
  }
  size_t next = 0;
  if (!ReadName(msg, kHeaderSize, out.qname, next, error)) return false;
  if (next + 4 > msg.size()) {
    error = "question truncated";
    return false;
  }
  out.qtype = Get16(msg, next);
  out.qclass = Get16(msg, next + 2);
  out.question_end = next + 4;
  size_t p = out.question_end;
  uint32_t min_ttl = UINT32_MAX;
  size_t total = size_t{out.header.ancount} + out.header.nscount + out.header.arcount;
  for (size_t i = 0; i < total; ++i) {
    uint16_t type = 0, rdlen = 0;
    size_t ttl_at = 0, rdata_at = 0;
    std::string name;
    if (!SkipRecord(msg, p, type, ttl_at, rdata_at, rdlen, name, error)) return false;
    if (type == kTypeOpt) continue;  // its "TTL" holds flags
    uint32_t ttl = Get32(msg, ttl_at);
    if (ttl_at <= UINT16_MAX) out.ttl_offsets.push_back(static_cast<uint16_t>(ttl_at));
    bool in_answer = i < out.header.ancount;
    if (i < size_t{out.header.ancount} + out.header.nscount) {
      out.has_records = true;
      if (ttl < min_ttl) min_ttl = ttl;
    }
    if (!in_answer) continue;
    if (type == kTypeA || type == kTypeAaaa) {
      out.answers.push_back({name, type, ttl, std::string(msg.substr(rdata_at, rdlen))});
    } else if (type == kTypeCname) {
      Record r{name, type, ttl, {}};
      std::string target;
      size_t after = 0;
      if (!ReadName(msg, rdata_at, target, after, error)) return false;
      EncodeName(target, r.rdata);
      out.answers.push_back(std::move(r));
    }
  }
  out.min_ttl = min_ttl == UINT32_MAX ? 0 : min_ttl;
  return true;
}

void SetId(std::string& msg, uint16_t id) {
  if (msg.size() >= 2) Set16(msg, 0, id);
}

void Truncate(std::string& msg, size_t question_end) {
  if (msg.size() < kHeaderSize || question_end > msg.size()) return;
  msg.resize(question_end);
  msg[2] = static_cast<char>(msg[2] | 0x02);
  Set16(msg, 6, 0);
  Set16(msg, 8, 0);
  Set16(msg, 10, 0);
}

}  // namespace preau::agent::dns

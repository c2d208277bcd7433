// The words spoken between the agent (root) and preau-session (the pupil's desktop) over
// the agent's local socket: one line per message, fields separated by one space, the last
// field free text with control bytes and '%' percent-encoded. Text lines keep the session
// program free of protobuf and gRPC (it must stay small), and easy to read in a trace.
//
//   agent -> session   lock <until_unix_ms> <message>     show the lock (0: until lifted)
//                      unlock
//                      message <id> <text>                 show a message until dismissed
//                      open <id> <url>                     open in the session's browser
//                      focus <id> app <desktop id>|url <url>|off
//                                                          keep one app / a kiosk URL in front
//                      refused <reason>                    the agent will not talk to us
//   session -> agent   hello <pid>
//                      lock verified                       shown on every screen, input held
//                      lock unverified <reason>
//                      lock off
//                      done <verb> <id>                    message shown / URL launched
//                      failed <verb> <id> <reason>
//                      dismissed <id>                      the pupil closed a message
//                      focus lost <reason>                 a focus done before no longer holds
//                      focus held                          ... and holds again
//                      usage <ms> <input 0|1> <class>      screen in use for <ms>, input
//                                                          seen, window class in front
//                      front <class>                       the window class now in front
//                                                          ("" for none or the lock), on
//                                                          change and on connection
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace preau::session {

inline constexpr size_t kMaxLine = 8192;

// Percent-encodes control bytes, DEL and '%' so that any text fits on one line.
std::string EscapeText(std::string_view text);
std::string UnescapeText(std::string_view text);

// Splits `line` (without its newline) into at most `max_fields` fields at single spaces;
// the last field keeps the rest of the line, spaces included.
std::vector<std::string> SplitFields(std::string_view line, size_t max_fields);

// Accumulates bytes from a socket and hands out whole lines. False from Append when a
// line grows beyond kMaxLine (the peer is then not speaking this protocol).
class LineBuffer {
 public:
  bool Append(const char* data, size_t n);
  bool Next(std::string* line);

 private:
  std::string buf_;
};

}  // namespace preau::session

// Domain names as the filter understands them: one normal form ("www.example.com":
// lowercase ASCII, no leading or trailing dot) shared by list import, URL checks and DNS
// queries, so the same name always hashes the same way. Real lists are lenient about
// syntax (UT1 has labels with '_', leading dots, bare IPv4 addresses), so the checks here
// reject only what cannot be a host name and say why.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace preau::filter {

// Normalises a host name: trims spaces, lowercases, strips leading dots and one trailing
// dot. Accepts letters, digits, '-' and '_' in labels of 1..63 bytes, at most 253 bytes in
// all and at least two labels (a lone word in a list is far more often a stray line than a
// top-level domain). Bare IPv4 addresses are accepted as they are.
// Errors name the problem, e.g. "not a domain: 'foo bar' (contains a space)".
Result<std::string> NormalizeDomain(std::string_view raw);

// True for a dotted-quad IPv4 address ("192.0.2.1").
bool IsIpv4Literal(std::string_view host);

// Lowercases ASCII letters in place.
void AsciiLowercase(std::string& s);

}  // namespace preau::filter

// ValidUtf8: the one place where text from outside (a file, a database row, an error
// message that echoes what a user typed, a byte-sliced string) becomes text that protobuf,
// the audit and JSON accept. Protobuf refuses to parse a string field that is not UTF-8,
// so a single stray byte stored once would make every later read of that record fail;
// every boundary that turns bytes into text goes through ValidUtf8, which keeps valid text
// as is and replaces each byte that does not start a valid sequence with U+FFFD.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace preau {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not valid (overlong
// forms, surrogates and code points above U+10FFFF included).
size_t Utf8SequenceLength(std::string_view s, size_t i);

// True when every byte of `s` belongs to a valid UTF-8 sequence.
bool IsValidUtf8(std::string_view s);

// `s` with every invalid byte replaced by U+FFFD ("\xEF\xBF\xBD"); valid text is returned
// unchanged (and without copying when passed by value).
std::string ValidUtf8(std::string s);

// The UTF-8 sequence (one character) starting at s[i], or "\xNN" for a byte that starts
// none: how an error message names the character it refuses.
std::string Utf8CharAt(std::string_view s, size_t i);

}  // namespace preau

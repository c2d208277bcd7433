// Ut1Reader: reads a category folder in the UT1 (Toulouse) layout, the lists French schools
// filter with. One sub-folder per category holds `domains` (a domain matches itself and
// every subdomain), optionally `urls` (host/path prefixes) and `usage` ("black", "white"
// and free tags); `global_usage` at the top describes the categories.
//
// The published files are real-world data: CRLF, comments, leading dots, '_' in labels,
// bare IPv4 addresses and stray lines. The reader keeps every usable entry (normalised),
// reports every line it skipped with its number and reason, and never fails on content;
// it fails only when the folder itself cannot be read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace preau::filter {

struct SkippedLine {
  std::string file;    // "domains" or "urls"
  size_t line = 0;     // 1-based
  std::string reason;  // "line 12: not a domain: 'foo bar' (contains a space)"
};

struct Ut1Category {
  std::string name;                 // folder name: "gambling"
  std::vector<std::string> usage;   // lines of `usage`: {"black"} or {"white", "child"}
  std::string default_type;         // global_usage's DEFAULT_TYPE for it, "" when none
  std::vector<std::string> domains; // normalised, in file order, without duplicates
  std::vector<std::string> urls;    // normalised "host/path" prefixes
  std::vector<SkippedLine> skipped;
  size_t domain_lines = 0;          // lines read from `domains` (loaded + skipped)
  size_t url_lines = 0;

  // True for an allow-style list such as liste_blanche: see IsWhiteCategory.
  bool IsWhite() const;
};

// What global_usage says about one category (only the fields Préau shows).
struct Ut1Description {
  std::string default_type;  // "black" / "white"
  std::string name_en, name_fr, desc_en, desc_fr;
};

struct Ut1Data {
  std::vector<Ut1Category> categories;  // sorted by name
  std::map<std::string, Ut1Description> descriptions;  // from global_usage, by NAME

  size_t TotalDomains() const;
  size_t TotalUrls() const;
  const Ut1Category* Find(const std::string& name) const;
};

// Whether UT1 means a category as white (an allow list): global_usage's DEFAULT_TYPE when
// it has one (`chat`'s `usage` says "black" and "white": it may serve as either, and
// global_usage says black), else a `usage` that says "white" and not "black".
bool IsWhiteCategory(const std::vector<std::string>& usage, const std::string& default_type);

// Reads every category folder under `dir` (folders without a `domains` file are ignored).
Result<Ut1Data> ReadUt1(const std::string& dir);

// One category read for compiling rather than for showing: the server's import of the whole
// published set (5.8 million names) keeps each domain as its 64-bit hash (domain_hash.h),
// 8 bytes instead of a string, and quotes only the first `max_reasons` skipped lines.
// Everything counted is exact and equal to what ReadUt1 reports for the same files.
struct Ut1HashedCategory {
  std::string name;
  std::vector<std::string> usage;
  std::string default_type;
  std::vector<uint64_t> domain_hashes;  // HashDomain of each loaded domain, sorted, no duplicates
  std::vector<std::string> urls;        // as in Ut1Category
  std::vector<SkippedLine> skipped;     // the first skipped lines: domains, then urls, by line
  size_t skipped_count = 0;             // every skipped line (domains and urls)
  size_t domain_lines = 0;
  size_t url_lines = 0;

  bool IsWhite() const;
};

// Reads `dir` as ReadUt1 does, but one category at a time, in name order: each is handed to
// `fn` (which may move from it) before the next is read, so memory holds one category's
// file and the hashes. Descriptions from global_usage go to `descriptions` when not null.
// Fails when the folder cannot be read or when `fn` fails.
Status ReadUt1Hashed(const std::string& dir, size_t max_reasons,
                     const std::function<Status(Ut1HashedCategory&)>& fn,
                     std::map<std::string, Ut1Description>* descriptions = nullptr);

// Parses the text of one `domains` file into hashes (the same lines loaded and skipped,
// for the same reasons, as ParseDomainsText).
void HashDomainsText(const std::string& text, size_t max_reasons, Ut1HashedCategory& into);

// Parses the text of one `domains` file (exposed for tests and single-file imports).
void ParseDomainsText(const std::string& text, Ut1Category& into);
// Parses the text of one `urls` file.
void ParseUrlsText(const std::string& text, Ut1Category& into);

// Normalises one `urls` entry: strips a scheme, leading dots and a fragment, lowercases it
// all (UT1 lists are written for squidGuard, which compares URLs in lowercase); returns
// "host/path?query" ("host" alone when there is no path: the whole host).
Result<std::string> NormalizeUrlRule(std::string_view raw);

}  // namespace preau::filter

// Apps commands: the CatalogService side of the CLI — upload a package (streamed, with a
// progress bar on a terminal), review it (reviewers), assign or unassign it (admins),
// list versions and see what devices report.
//
// Same shape as fleet_commands.h: plain functions over the shared CliContext; results go
// to ctx.out in ctx.format, notes and the progress bar to ctx.err; a failure comes back as
// a Status that names the app and says why.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "tools/preau/cli_context.h"

namespace preau::cli {

struct AppsUploadOptions {
  std::string file;
  std::string name;       // the platform's package name, e.g. fr.lumni.android
  std::string version;
  std::string platform;   // android, linux, web, any; empty: guessed from the file name
  std::string category;
  std::string publisher;
  uint32_t minimum_age = 0;
  std::string description;
  std::string title;
  // Progress bar: "auto" draws it when ctx.err is the terminal's stderr and the file is
  // at least 1 MiB; "never" and "always" force it.
  std::string progress = "auto";
};
// Streams the file in chunks (never whole in memory); prints the new version, submitted.
Status AppsUpload(const CliContext& ctx, const AppsUploadOptions& o);

struct AppsReviewOptions {
  std::string id;  // NAME@VERSION
  bool approve = false;
  bool reject = false;
  std::string reason;
};
Status AppsReview(const CliContext& ctx, const AppsReviewOptions& o);

struct AppsAssignOptions {
  std::string id;
  std::string group;
  bool required = false;
  bool optional = false;
};
Status AppsAssign(const CliContext& ctx, const AppsAssignOptions& o);

struct AppsUnassignOptions {
  std::string app;  // NAME or NAME@VERSION
  std::string group;
};
Status AppsUnassign(const CliContext& ctx, const AppsUnassignOptions& o);

struct AppsListOptions {
  std::string name;  // one app's versions; empty: all
};
Status AppsList(const CliContext& ctx, const AppsListOptions& o);

struct AppsStatusOptions {
  std::string app;    // empty: every app
  std::string group;  // empty: every device in the caller's scopes
};
// Per device and app: installed, downloading, failed (why), available, removed.
Status AppsStatus(const CliContext& ctx, const AppsStatusOptions& o);

}  // namespace preau::cli

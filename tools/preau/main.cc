// preau: the command line for IT staff, teachers and reviewers (the contract: CLI.md in the
// shared docs).
//
// This file only wires flags to option structs; the commands live in <area>_commands.cc
// as plain functions. To add an area: write its functions, then add one Add<Area>Commands
// block below and call it from main. Each leaf command stores its work in `action`,
// which runs after the whole command line parsed, so that global flags given after the
// subcommand (`preau devices list -o json`) are already set.
//
// Exit codes (CLI.md): 0 ok, 1 the action failed ("preau: <what failed>: <why>" on
// stderr), 2 a usage error (unknown command or flag, bad value, missing argument).
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/duration.h"
#include "common/roles.h"
#include "tools/preau/apps_commands.h"
#include "tools/preau/class_commands.h"
#include "tools/preau/cli_context.h"
#include "tools/preau/console_commands.h"
#include "tools/preau/filter_commands.h"
#include "tools/preau/fleet_commands.h"
#include "tools/preau/output.h"
#include "tools/preau/report_commands.h"
#include "tools/preau/policy_commands.h"

namespace {

using preau::Status;
using preau::cli::CliContext;
using Action = std::function<Status()>;

// Everything a command-registration block needs.
struct Wiring {
  CliContext& ctx;
  Action& action;
  std::string& output;  // the raw -o value, validated by the command line parser
};

// Makes `cmd` run `fn` once parsing is over. `fn` may capture option structs held by
// shared_ptr (they must outlive the parse) and `ctx` by reference.
void OnRun(CLI::App* cmd, Wiring& w, Action fn) {
  cmd->callback([&action = w.action, fn = std::move(fn)] { action = fn; });
}

// Listings (and single-item views) take -o here too, so it shows in their --help.
void AddOutputFlag(CLI::App* cmd, Wiring& w) {
  cmd->add_option("-o,--output", w.output, "Output format: table, json or csv")
      ->check(CLI::IsMember({"table", "json", "csv"}));
}

// --limit N and --page-token T on every listing (see PageOptions).
void AddPageFlags(CLI::App* cmd, preau::cli::PageOptions& page, const std::string& noun) {
  cmd->add_option("--limit", page.limit,
                  "At most N " + noun + " (then prints the --page-token that resumes)")
      ->check(CLI::Range(1u, 1000000000u));
  cmd->add_option("--page-token", page.page_token,
                  "Resume a listing where a --limit stopped it");
}

// CLI11 validators: the value is checked while parsing, so a bad one is a usage error.
const CLI::Validator kDuration(
    [](std::string& value) {
      auto d = preau::ParseDuration(value);
      return d.ok() ? std::string() : d.status().message();
    },
    "DURATION", "duration");

const CLI::Validator kGroupPath(
    [](std::string& value) -> std::string {
      if (value.empty()) return "a group path cannot be empty";
      if (value.size() > 259) {
        return "a group path is at most 259 bytes (4 levels of 64), not " +
               std::to_string(value.size());
      }
      if (value.front() == '/' || value.back() == '/') {
        return "group path '" + value + "': write it as authority/school/class, no leading or "
               "trailing '/'";
      }
      return "";
    },
    "PATH", "group path");

// ==== Area: fleet (groups, tokens, devices, operators, audit, whoami) =====================
void AddFleetCommands(CLI::App& app, Wiring& w) {
  namespace c = preau::cli;
  auto& ctx = w.ctx;

  // groups
  auto* groups = app.add_subcommand(
      "groups", "Create, list, rename and delete groups (authority/school/class)");
  groups->require_subcommand(1);
  {
    auto o = std::make_shared<c::GroupsCreateOptions>();
    auto* cmd = groups->add_subcommand("create", "Create a group");
    cmd->add_option("PATH", o->path, "e.g. ville/jules-ferry/cm2-a")->required()->check(kGroupPath);
    OnRun(cmd, w, [&ctx, o] { return c::GroupsCreate(ctx, *o); });
  }
  {
    auto* cmd = groups->add_subcommand("list", "List groups and their device counts");
    AddOutputFlag(cmd, w);
    auto page = std::make_shared<c::PageOptions>();
    AddPageFlags(cmd, *page, "groups");
    OnRun(cmd, w, [&ctx, page] { return c::GroupsList(ctx, *page); });
  }
  {
    auto o = std::make_shared<c::GroupsRenameOptions>();
    auto* cmd = groups->add_subcommand(
        "rename", "Rename a group and the groups below it (devices, policies, tokens follow)");
    cmd->add_option("PATH", o->path, "The group, e.g. ville/jules-ferry/cm2-a")
        ->required()->check(kGroupPath);
    cmd->add_option("NEW_PATH", o->new_path, "Its new path")->required()->check(kGroupPath);
    OnRun(cmd, w, [&ctx, o] { return c::GroupsRename(ctx, *o); });
  }
  {
    auto o = std::make_shared<c::GroupsCreateOptions>();
    auto* cmd = groups->add_subcommand("delete", "Delete an empty group");
    cmd->add_option("PATH", o->path, "The group")->required()->check(kGroupPath);
    OnRun(cmd, w, [&ctx, o] { return c::GroupsDelete(ctx, *o); });
  }

  // token
  auto* token = app.add_subcommand("token", "Enrolment tokens for new devices");
  token->require_subcommand(1);
  {
    auto o = std::make_shared<c::TokenCreateOptions>();
    auto* cmd =
        token->add_subcommand("create", "Create an enrolment token; prints the token alone");
    cmd->add_option("--group", o->group, "Group the enrolled devices join")
        ->required()->check(kGroupPath);
    cmd->add_option("--uses", o->uses, "How many devices may enrol with it")
        ->capture_default_str()->check(CLI::Range(1, 10000));
    cmd->add_option("--expires", o->expires, "Lifetime, e.g. 45m, 24h, 7d")
        ->capture_default_str()->check(kDuration);
    AddOutputFlag(cmd, w);
    OnRun(cmd, w, [&ctx, o] { return c::TokenCreate(ctx, *o); });
  }

  // devices
  auto* devices = app.add_subcommand("devices", "List, inspect, move and retire devices");
  devices->require_subcommand(1);
  {
    auto o = std::make_shared<c::DevicesListOptions>();
    auto* cmd = devices->add_subcommand("list", "List devices");
    cmd->add_option("--group", o->group, "Only this group and the groups below it")
        ->check(kGroupPath);
    cmd->add_flag("--online", o->online_only, "Only devices connected now");
    cmd->add_flag("--retired", o->include_retired, "Include retired devices");
    AddPageFlags(cmd, o->page, "devices");
    AddOutputFlag(cmd, w);
    OnRun(cmd, w, [&ctx, o] { return c::DevicesList(ctx, *o); });
  }
  {
    auto o = std::make_shared<c::DeviceIdOptions>();
    auto* cmd = devices->add_subcommand("show", "Everything known about one device");
    cmd->add_option("ID", o->id, "Device id")->required();
    AddOutputFlag(cmd, w);
    OnRun(cmd, w, [&ctx, o] { return c::DevicesShow(ctx, *o); });
  }
  {
    auto o = std::make_shared<c::DevicesMoveOptions>();
    auto* cmd = devices->add_subcommand("move", "Move a device to another group");
    cmd->add_option("ID", o->id, "Device id")->required();
    cmd->add_option("--group", o->group, "Destination group")->required()->check(kGroupPath);
    OnRun(cmd, w, [&ctx, o] { return c::DevicesMove(ctx, *o); });
  }
  {
    auto o = std::make_shared<c::DeviceIdOptions>();
    auto* cmd = devices->add_subcommand(
        "retire", "Revoke a device's certificate; it can no longer connect");
    cmd->add_option("ID", o->id, "Device id")->required();
    OnRun(cmd, w, [&ctx, o] { return c::DevicesRetire(ctx, *o); });
  }
  {
    auto o = std::make_shared<c::DeviceIdOptions>();
    auto* cmd = devices->add_subcommand(
        "resend", "Send a connected device its policy, filter and apps again");
    cmd->add_option("ID", o->id, "Device id")->required();
    OnRun(cmd, w, [&ctx, o] { return c::DevicesResend(ctx, *o); });
  }
  {
    auto o = std::make_shared<c::DeviceIdOptions>();
    auto* cmd = devices->add_subcommand(
        "restart", "Close a device's connection: its agent reconnects and starts over");
    cmd->add_option("ID", o->id, "Device id")->required();
    OnRun(cmd, w, [&ctx, o] { return c::DevicesRestart(ctx, *o); });
  }

  // operators
  auto* operators = app.add_subcommand("operators", "People who use Préau, and their rights");
  operators->require_subcommand(1);
  {
    auto o = std::make_shared<c::OperatorsCreateOptions>();
    auto* cmd = operators->add_subcommand(
        "create", "Create an operator and write their credentials file (key made here)");
    cmd->add_option("NAME", o->name, "Operator name (letters, digits, - _ . @)")->required();
    cmd->add_option("--role", o->role, preau::RoleNames())->required();
    cmd->add_option("--scope", o->scopes, "Group they may act on (repeat for several)")
        ->check(kGroupPath);
    cmd->add_option("--hours", o->hours,
                    "periscolaire: when they may act, e.g. \"mon,tue,thu,fri 16:30-18:00\"")
        ->type_name("\"DAYS HH:MM-HH:MM\"");
    cmd->add_option("--out", o->out, "Credentials file to create (never overwritten)")
        ->required()->type_name("FILE");
    cmd->add_option("--server-address", o->server_address,
                    "Server address written into the file (default: the one in yours)")
        ->type_name("HOST:PORT");
    OnRun(cmd, w, [&ctx, o] { return c::OperatorsCreate(ctx, *o); });
  }
  {
    auto* cmd = operators->add_subcommand("list", "List operators");
    AddOutputFlag(cmd, w);
    auto page = std::make_shared<c::PageOptions>();
    AddPageFlags(cmd, *page, "operators");
    OnRun(cmd, w, [&ctx, page] { return c::OperatorsList(ctx, *page); });
  }
  {
    auto name = std::make_shared<std::string>();
    auto* cmd = operators->add_subcommand("show", "Show one operator: role, scopes, hours, expiry");
    cmd->add_option("NAME", *name, "Operator name")->required();
    AddOutputFlag(cmd, w);
    OnRun(cmd, w, [&ctx, name] { return c::OperatorsShow(ctx, *name); });
  }
  {
    auto name = std::make_shared<std::string>();
    auto* cmd = operators->add_subcommand(
        "revoke", "Revoke an operator now: its open calls end, its credentials are refused");
    cmd->add_option("NAME", *name, "Operator name")->required();
    OnRun(cmd, w, [&ctx, name] { return c::OperatorsRevoke(ctx, *name); });
  }
  {
    auto o = std::make_shared<c::OperatorsRenewOptions>();
    auto* cmd = operators->add_subcommand(
        "renew", "New credentials for an operator (yourself, or one you manage) before the old expire");
    cmd->add_option("NAME", o->name, "Operator name")->required();
    cmd->add_option("--out", o->out, "Credentials file to create (never overwritten)")
        ->required()->type_name("FILE");
    OnRun(cmd, w, [&ctx, o] { return c::OperatorsRenew(ctx, *o); });
  }

  {
    auto o = std::make_shared<c::OperatorsLinkOptions>();
    auto* cmd = operators->add_subcommand(
        "link", "A one-time sign-in link (and QR code) to the teachers' console, valid 10 minutes");
    cmd->add_option("NAME", o->name, "Operator name")->required();
    cmd->add_option("--until", o->until,
                    "When the console session ends, today (default: the end of the day)")
        ->type_name("HH:MM");
    cmd->add_flag("--no-qr", o->no_qr, "Print the link without its QR code");
    OnRun(cmd, w, [&ctx, o] { return c::OperatorsLink(ctx, *o); });
  }
  {
    auto o = std::make_shared<c::OperatorsPasswordOptions>();
    auto* cmd = operators->add_subcommand(
        "password", "Set the console password of an operator, read from standard input");
    cmd->add_option("NAME", o->name, "Operator name")->required();
    cmd->add_flag("--clear", o->clear, "Remove the password (links only)");
    OnRun(cmd, w, [&ctx, o] { return c::OperatorsPassword(ctx, *o, std::cin); });
  }

  // audit
  auto* audit = app.add_subcommand("audit", "The audit log of every change and refusal");
  audit->require_subcommand(1);
  {
    auto o = std::make_shared<c::AuditListOptions>();
    auto* cmd = audit->add_subcommand("list", "List audit entries, oldest first");
    cmd->add_option("--since", o->since, "Only the last DURATION, e.g. 7d (default: all)")
        ->check(kDuration);
    AddPageFlags(cmd, o->page, "entries");
    AddOutputFlag(cmd, w);
    OnRun(cmd, w, [&ctx, o] { return c::AuditList(ctx, *o); });
  }

  // whoami
  {
    auto* cmd = app.add_subcommand("whoami", "Who the server thinks you are, and which server");
    AddOutputFlag(cmd, w);
    OnRun(cmd, w, [&ctx] { return c::WhoAmI(ctx); });
  }
}

// ==== Area: policy (check, apply, status) ==================================================
void AddPolicyCommands(CLI::App& app, Wiring& w) {
  namespace c = preau::cli;
  auto& ctx = w.ctx;
  auto* policy = app.add_subcommand("policy", "Check, apply and follow policies");
  policy->require_subcommand(1);
  {
    auto o = std::make_shared<c::PolicyCheckOptions>();
    auto* cmd = policy->add_subcommand(
        "check", "Validate a policy file offline; errors name file, line and key");
    cmd->add_option("FILE", o->file, "Policy file (YAML)")->required();
    cmd->add_option("--inherit", o->inherit,
                    "A level above FILE, farthest first (repeat): check the combination")
        ->type_name("FILE");
    cmd->add_flag("--fragment", o->fragment, "FILE is one level of a chain: check it alone");
    AddOutputFlag(cmd, w);
    OnRun(cmd, w, [&ctx, o] { return c::PolicyCheck(ctx, *o); });
  }
  {
    auto o = std::make_shared<c::PolicyApplyOptions>();
    auto* cmd = policy->add_subcommand(
        "apply", "Assign a policy to a group; signed bundles go out at once");
    cmd->add_option("FILE", o->file, "Policy file (YAML)")->required();
    cmd->add_option("--group", o->group, "Group it applies to (and every group below)")
        ->required()->check(kGroupPath);
    cmd->add_option("--rollout", o->rollout,
                    "Percent of the group's devices that get it now (the same file again "
                    "with a larger percent widens it)")
        ->capture_default_str()->check(CLI::Range(1, 100));
    AddOutputFlag(cmd, w);
    OnRun(cmd, w, [&ctx, o] { return c::PolicyApply(ctx, *o); });
  }
  {
    auto o = std::make_shared<c::PolicyStatusOptions>();
    auto* cmd = policy->add_subcommand(
        "status", "Per policy version: devices applied, failed (why), pending");
    cmd->add_option("NAME", o->name, "Only this policy");
    cmd->add_option("--group", o->group, "Only this group and the groups below it")
        ->check(kGroupPath);
    AddOutputFlag(cmd, w);
    OnRun(cmd, w, [&ctx, o] { return c::PolicyStatus(ctx, *o); });
  }
}

// ==== Area: class (lock, unlock, focus, open, allow) =======================================
void AddClassCommands(CLI::App& app, Wiring& w) {
  namespace c = preau::cli;
  auto& ctx = w.ctx;
  auto* cls = app.add_subcommand("class", "Class control for teachers: lock, focus, open, allow, message, wifi");
  cls->require_subcommand(1);
  auto add = [&](const std::string& verb, const std::string& help) {
    auto o = std::make_shared<c::ClassCommandOptions>();
    o->verb = verb;
    auto* cmd = cls->add_subcommand(verb, help);
    cmd->add_option("PATH", o->group, "The class, e.g. ville/jules-ferry/cm2-a")
        ->required()->check(kGroupPath);
    cmd->add_option("--wait", o->wait, "How long to wait for the devices to answer (max 60s)")
        ->capture_default_str()->check(kDuration);
    AddOutputFlag(cmd, w);
    OnRun(cmd, w, [&ctx, o] { return c::ClassRun(ctx, *o); });
    return std::make_pair(cmd, o);
  };
  {
    auto [cmd, o] = add("lock", "Lock every device of the class, with a message on screen");
    cmd->add_option("--message", o->message, "Shown on the locked screen");
    cmd->add_option("--for", o->for_duration, "Unlock by itself after DURATION, e.g. 10m")
        ->check(kDuration);
  }
  add("unlock", "Lift the lock and the focus");
  {
    auto [cmd, o] = add("focus", "Keep every device on one app or one site");
    auto* app_opt = cmd->add_option("--app", o->app, "App id, e.g. fr.lumni.app");
    auto* url_opt = cmd->add_option("--url", o->url, "https:// address");
    app_opt->excludes(url_opt);
    cmd->add_option("--for", o->for_duration, "End by itself after DURATION")->check(kDuration);
  }
  {
    auto [cmd, o] = add("open", "Open a resource on every device");
    cmd->add_option("--url", o->url, "https:// address")->required();
  }
  {
    auto [cmd, o] = add("allow", "Let a blocked site through for the class, for a time");
    cmd->add_option("--site", o->site, "Domain, e.g. fr.wikipedia.org")->required();
    cmd->add_option("--for", o->for_duration, "How long, e.g. 45m")->required()->check(kDuration);
  }
  {
    auto [cmd, o] = add("message", "Show a message on every device of the class until dismissed");
    cmd->add_option("--text", o->message, "The message (printable text, up to 500 bytes)")
        ->required();
  }
  {
    auto [cmd, o] = add("wifi", "Switch the class's Wi-Fi on for an activity (loi Abeille), or off");
    auto* on = cmd->add_flag("--on", o->wifi_on, "On for --for (the policy's idle timeout applies)");
    auto* off = cmd->add_flag("--off", o->wifi_off, "Back to what the policy says");
    on->excludes(off);
    auto* dur = cmd->add_option("--for", o->for_duration, "How long, e.g. 45m")->check(kDuration);
    dur->needs(on);
    on->needs(dur);
  }
}

// ==== Area: apps (upload, review, assign, unassign, list, status) ==========================
void AddAppsCommands(CLI::App& app, Wiring& w) {
  namespace c = preau::cli;
  auto& ctx = w.ctx;
  auto* apps = app.add_subcommand("apps", "The pedagogical store: upload, review, assign apps");
  apps->require_subcommand(1);
  {
    auto o = std::make_shared<c::AppsUploadOptions>();
    auto* cmd = apps->add_subcommand("upload", "Upload a package (APK, .deb, web-app manifest) "
                                               "for review");
    cmd->add_option("FILE", o->file, "The package file")->required()->check(CLI::ExistingFile);
    cmd->add_option("--name", o->name, "The platform's package name, e.g. fr.lumni.android")
        ->required();
    cmd->add_option("--version", o->version, "The package's version")->required();
    cmd->add_option("--platform", o->platform, "android, linux, web or any (default: guessed "
                                               "from the file name)")
        ->check(CLI::IsMember({"android", "linux", "web", "any"}));
    cmd->add_option("--category", o->category, "e.g. mathematics, reading");
    cmd->add_option("--publisher", o->publisher, "Who publishes the app");
    cmd->add_option("--minimum-age", o->minimum_age, "Youngest pupils it suits")
        ->check(CLI::Range(0, 21));
    cmd->add_option("--description", o->description, "What it is for, for the reviewer");
    cmd->add_option("--title", o->title, "Display name (default: the package name)");
    cmd->add_option("--progress", o->progress, "Progress bar on stderr: auto, always, never")
        ->check(CLI::IsMember({"auto", "always", "never"}));
    AddOutputFlag(cmd, w);
    OnRun(cmd, w, [&ctx, o] { return c::AppsUpload(ctx, *o); });
  }
  {
    auto o = std::make_shared<c::AppsReviewOptions>();
    auto* cmd = apps->add_subcommand("review", "Approve or reject an uploaded version "
                                               "(reviewers)");
    cmd->add_option("ID", o->id, "NAME@VERSION, as `apps list` shows")->required();
    auto* approve = cmd->add_flag("--approve", o->approve, "It may reach pupils");
    auto* reject = cmd->add_flag("--reject", o->reject, "It may not (give --reason)");
    approve->excludes(reject);
    cmd->add_option("--reason", o->reason, "Why it is rejected")->needs(reject);
    AddOutputFlag(cmd, w);
    OnRun(cmd, w, [&ctx, o] { return c::AppsReview(ctx, *o); });
  }
  {
    auto o = std::make_shared<c::AppsAssignOptions>();
    auto* cmd = apps->add_subcommand("assign", "Assign an approved version to a group "
                                               "(replaces the group's earlier version)");
    cmd->add_option("ID", o->id, "NAME@VERSION, approved")->required();
    cmd->add_option("--group", o->group, "Group path")->required()->check(kGroupPath);
    auto* req = cmd->add_flag("--required", o->required, "Installed on every device");
    auto* opt = cmd->add_flag("--optional", o->optional, "Offered, not installed");
    req->excludes(opt);
    OnRun(cmd, w, [&ctx, o] { return c::AppsAssign(ctx, *o); });
  }
  {
    auto o = std::make_shared<c::AppsUnassignOptions>();
    auto* cmd = apps->add_subcommand("unassign", "Withdraw an app from a group (required apps "
                                                 "are removed from its devices)");
    cmd->add_option("APP", o->app, "NAME (or NAME@VERSION)")->required();
    cmd->add_option("--group", o->group, "Group path")->required()->check(kGroupPath);
    OnRun(cmd, w, [&ctx, o] { return c::AppsUnassign(ctx, *o); });
  }
  {
    auto o = std::make_shared<c::AppsListOptions>();
    auto* cmd = apps->add_subcommand("list", "Every uploaded version, its review and "
                                             "assignments");
    cmd->add_option("--name", o->name, "Only this app's versions");
    AddOutputFlag(cmd, w);
    OnRun(cmd, w, [&ctx, o] { return c::AppsList(ctx, *o); });
  }
  {
    auto o = std::make_shared<c::AppsStatusOptions>();
    auto* cmd = apps->add_subcommand("status", "What devices report: installed, downloading, "
                                               "failed and why");
    cmd->add_option("APP", o->app, "Only this app (NAME)");
    cmd->add_option("--group", o->group, "Only devices of this group and below")
        ->check(kGroupPath);
    AddOutputFlag(cmd, w);
    OnRun(cmd, w, [&ctx, o] { return c::AppsStatus(ctx, *o); });
  }
}

// ==== Area: filter (import, list, test) ====================================================
void AddFilterCommands(CLI::App& app, Wiring& w) {
  namespace c = preau::cli;
  auto& ctx = w.ctx;
  auto* filter = app.add_subcommand("filter", "Web protection: import the UT1 lists, list, test");
  filter->require_subcommand(1);
  {
    auto o = std::make_shared<c::FilterImportOptions>();
    auto* cmd = filter->add_subcommand(
        "import", "Import a UT1-layout folder (admins); prints per category what was loaded "
                  "and skipped");
    cmd->add_option("DIR", o->dir, "The UT1 folder (one sub-folder per category)")
        ->required()->check(CLI::ExistingDirectory);
    cmd->add_flag("--force", o->force,
                  "Import even an empty set, or one where a category loses most of its domains");
    AddOutputFlag(cmd, w);
    OnRun(cmd, w, [&ctx, o] { return c::FilterImport(ctx, *o); });
  }
  {
    auto version = std::make_shared<uint64_t>(0);
    auto* cmd = filter->add_subcommand(
        "rollback", "Make the lists of an earlier version current again (admins)");
    cmd->add_option("VERSION", *version, "The version to go back to (see `filter list`)")
        ->required()->check(CLI::PositiveNumber);
    AddOutputFlag(cmd, w);
    OnRun(cmd, w, [&ctx, version] { return c::FilterRollback(ctx, *version); });
  }
  {
    auto* cmd = filter->add_subcommand("list", "Imported versions and their categories");
    AddOutputFlag(cmd, w);
    OnRun(cmd, w, [&ctx] { return c::FilterList(ctx); });
  }
  {
    auto o = std::make_shared<c::FilterTestOptions>();
    auto* cmd = filter->add_subcommand(
        "test", "The decision for a domain or URL, and the rule that made it");
    cmd->add_option("TARGET", o->target, "A domain (casino.example.com) or a URL")->required();
    cmd->add_option("--group", o->group, "Use this group's profile (default: the default "
                                         "profile)")->check(kGroupPath);
    AddOutputFlag(cmd, w);
    OnRun(cmd, w, [&ctx, o] { return c::FilterTest(ctx, *o); });
  }
}

// ==== Area: report (inventory, usage, compliance, retention; devices export, import) =====
void AddReportCommands(CLI::App& app, Wiring& w) {
  namespace c = preau::cli;
  auto& ctx = w.ctx;
  const CLI::Validator kReportFormat =
      CLI::IsMember({"table", "csv", "json", "html"});

  auto* report = app.add_subcommand(
      "report", "Reports for the authority: inventory, usage, compliance (CSV, JSON, HTML)");
  report->require_subcommand(1);
  for (const char* kind : {"inventory", "usage", "compliance"}) {
    auto o = std::make_shared<c::ReportOptions>();
    o->kind = kind;
    std::string help = std::string("The ") + kind + " report" +
                       (std::string(kind) == "inventory"
                            ? " (enrolled devices and stock-taking)"
                            : std::string(kind) == "usage" ? " (minutes per app category, "
                                                             "screen time, blocked requests)"
                                                           : " (policy applied, failed, pending)");
    auto* cmd = report->add_subcommand(kind, help);
    cmd->add_option("--group", o->group, "Only this group and the groups below it")
        ->check(kGroupPath);
    cmd->add_option("--since", o->since, "Usage window back from today, e.g. 30d")
        ->capture_default_str()->check(kDuration);
    cmd->add_option("-o,--output", o->format,
                    "table, csv (spreadsheet), json, or html (one file with charts)")
        ->capture_default_str()->check(kReportFormat);
    cmd->add_option("--out", o->out, "Write the report to FILE instead of the terminal")
        ->type_name("FILE");
    OnRun(cmd, w, [&ctx, o] { return c::Report(ctx, *o); });
  }
  {
    auto o = std::make_shared<c::RetentionOptions>();
    auto* cmd = report->add_subcommand(
        "retention", "Show or set how long usage is kept (default 13 months)");
    cmd->add_option("--months", o->usage_months, "Keep usage this many months (1-120)")
        ->check(CLI::Range(1, 120));
    cmd->add_option("--retired-days", o->retired_days,
                    "Delete a retired device's usage this many days after (0-3650)")
        ->check(CLI::Range(0, 3650));
    AddOutputFlag(cmd, w);
    OnRun(cmd, w, [&ctx, o] { return c::ReportRetention(ctx, *o); });
  }

  // devices export / import join the fleet area's `devices` group.
  CLI::App* devices = app.get_subcommand("devices");
  {
    auto o = std::make_shared<c::DeviceExportOptions>();
    auto* cmd = devices->add_subcommand(
        "export", "Everything held about one device, as JSON (GDPR right of access)");
    cmd->add_option("ID", o->id, "Device id")->required();
    cmd->add_option("--out", o->out, "Write the JSON to FILE")->type_name("FILE");
    OnRun(cmd, w, [&ctx, o] { return c::DevicesExport(ctx, *o); });
  }
  {
    auto o = std::make_shared<c::DeviceImportOptions>();
    auto* cmd = devices->add_subcommand(
        "import", "Stock-taking: import devices without an agent from a CSV file "
                  "(serial, model, state: in service | reusable | to retire; name, group, "
                  "purchased, battery_health, disk_total_gb, disk_free_gb, notes)");
    cmd->add_option("FILE", o->file, "CSV file (comma or semicolon separated)")
        ->required()->check(CLI::ExistingFile);
    AddOutputFlag(cmd, w);
    OnRun(cmd, w, [&ctx, o] { return c::DevicesImport(ctx, *o); });
  }
}


// Help goes to stdout (exit 0). Anything else is a usage error, exit 2 rather than
// CLI11's own codes (106, 108, ...), with a pointer to the help of the command at fault.
int UsageError(CLI::App& app, const CLI::ParseError& e, int argc) {
  if (e.get_exit_code() == 0) return app.exit(e);
  if (argc <= 1) {
    std::fputs(app.help().c_str(), stderr);
    return 2;
  }
  CLI::App* cmd = &app;
  std::string path = "preau";
  while (!cmd->get_subcommands().empty()) {
    cmd = cmd->get_subcommands().front();
    path += " " + cmd->get_name();
  }
  std::string message = e.what();
  bool missing_subcommand = dynamic_cast<const CLI::RequiredError*>(&e) != nullptr &&
                            cmd->get_require_subcommand_min() > 0;
  if (missing_subcommand) {
    std::string names;
    for (const CLI::App* sub : cmd->get_subcommands([](const CLI::App*) { return true; })) {
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    // With fallthrough, a stray word may have been handed back to the root.
    std::vector<std::string> rest = cmd->remaining();
    if (rest.empty()) rest = app.remaining(true);
    message = rest.empty() ? "'" + path + "' needs a command: " + names
                           : "unknown command '" + rest.front() + "' (expected " + names + ")";
  }
  std::fprintf(stderr, "preau: %s\nRun '%s --help' for usage.\n", message.c_str(), path.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"preau: manage a Préau fleet of school devices"};
  // Set before any subcommand is added: subcommands inherit them, so global flags work
  // after the subcommand and every --help mentions them.
  app.fallthrough();
  app.footer(
      "Global options work anywhere on the line: --credentials FILE, --server HOST:PORT, "
      "-o table|json|csv, --timeout DURATION.\n"
      "Credentials: --credentials, else $PREAU_CREDENTIALS, else "
      "~/.config/preau/credentials. Server: --server, else $PREAU_SERVER, else the "
      "credentials' address.");
  app.require_subcommand(1);

  CliContext ctx;
  Action action;
  std::string output = "table";
  std::string timeout = "30s";
  Wiring wiring{ctx, action, output};

  app.add_option("--credentials", ctx.connection.credentials_path, "Operator credentials file")
      ->type_name("FILE");
  app.add_option("--server", ctx.connection.server, "Server address, overriding the file's")
      ->type_name("HOST:PORT");
  app.add_option("-o,--output", output, "Output format of listings: table, json or csv")
      ->check(CLI::IsMember({"table", "json", "csv"}));
  app.add_option("--timeout", timeout, "Deadline of each call to the server")
      ->capture_default_str()->check(kDuration);

  AddFleetCommands(app, wiring);
  AddPolicyCommands(app, wiring);
  AddClassCommands(app, wiring);
  AddAppsCommands(app, wiring);
  AddReportCommands(app, wiring);
  AddFilterCommands(app, wiring);
  // Add other areas here: AddPolicyCommands(app, wiring); ...

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return UsageError(app, e, argc);
  }

  auto format = preau::cli::ParseOutputFormat(output);
  auto deadline = preau::ParseDuration(timeout);
  if (!format.ok() || !deadline.ok()) {
    std::fprintf(stderr, "preau: %s\n",
                 (!format.ok() ? format.status() : deadline.status()).message().c_str());
    return 2;
  }
  ctx.format = *format;
  ctx.connection.deadline = std::chrono::seconds(*deadline);
  if (!action) {
    std::fprintf(stderr, "preau: no command given (see preau --help)\n");
    return 2;
  }
  Status st = action();
  if (!st.ok()) {
    // Messages may quote what devices reported (names): no escape sequences on the terminal.
    std::fprintf(stderr, "preau: %s\n", preau::cli::Printable(st.message()).c_str());
    return 1;
  }
  return 0;
}

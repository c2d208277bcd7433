// CommandRunner: runs one configured shell command for the Linux platform ("loginctl
// lock-sessions", "xdg-open {url}") and reports its exit code and output. Values put into
// {placeholders} are shell-quoted, so a URL or an app id coming from the server is always a
// single argument and can never inject shell code. A command that outlives its timeout is
// killed together with everything it started in its process group; nothing is left
// running in the agent (no threads, no zombies).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/subprocess.h"

namespace preau::agent {

// What a command printed and how it ended (common/subprocess.h runs it).
using CommandOutput = ProgramOutput;
inline constexpr size_t kMaxCommandOutput = kMaxProgramOutput;

// 'it'\''s' style quoting: the result is one word for /bin/sh whatever `value` holds.
std::string ShellQuote(std::string_view value);

// Replaces each {name} whose name is a key of `values` by the shell-quoted value. Other
// braces ("awk '{print $1}'", "${HOME}", "{unknown}") are left as written, so ordinary
// shell syntax keeps working. Placeholders must not be quoted again in the template.
std::string SubstitutePlaceholders(std::string_view command_template,
                                   const std::map<std::string, std::string>& values);

// Runs `command_template` (after substitution) with /bin/sh -c, stdin from /dev/null.
// Errors: InvalidArgument for an empty command, DeadlineExceeded when it ran longer than
// `timeout` (it is then killed), Internal when it could not be started. A non-zero exit
// is not an error here: it is in CommandOutput::exit_code.
Result<CommandOutput> RunCommand(std::string_view command_template,
                                 const std::map<std::string, std::string>& values,
                                 std::chrono::milliseconds timeout);

// RunCommand, with a non-zero exit turned into an Internal error that names `what` and
// quotes the end of the output ("lock: exited with status 1: No session").
Status RunCommandChecked(std::string_view what, std::string_view command_template,
                         const std::map<std::string, std::string>& values,
                         std::chrono::milliseconds timeout);

}  // namespace preau::agent

#include "agent/platform/command_runner.h"

#include <cctype>

namespace preau::agent {
namespace {

bool IsPlaceholderChar(char c) {
  return std::islower(static_cast<unsigned char>(c)) || c == '_' ||
         std::isdigit(static_cast<unsigned char>(c));
}

}  // namespace

std::string ShellQuote(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

std::string SubstitutePlaceholders(std::string_view tmpl,
                                   const std::map<std::string, std::string>& values) {
  std::string out;
  out.reserve(tmpl.size());
  size_t i = 0;
  while (i < tmpl.size()) {
    if (tmpl[i] == '{') {
      size_t j = i + 1;
      while (j < tmpl.size() && IsPlaceholderChar(tmpl[j])) ++j;
      if (j < tmpl.size() && tmpl[j] == '}' && j > i + 1) {
        auto it = values.find(std::string(tmpl.substr(i + 1, j - i - 1)));
        if (it != values.end()) {
          out += ShellQuote(it->second);
          i = j + 1;
          continue;
        }
      }
    }
    out += tmpl[i++];
  }
  return out;
}

Result<CommandOutput> RunCommand(std::string_view command_template,
                                 const std::map<std::string, std::string>& values,
                                 std::chrono::milliseconds timeout) {
  if (command_template.find_first_not_of(" \t\n") == std::string_view::npos) {
    return InvalidArgument("empty command");
  }
  const std::string command = SubstitutePlaceholders(command_template, values);
  Result<CommandOutput> out = RunProgram({"/bin/sh", "-c", command}, timeout);
  if (out.status().code() == Code::kDeadlineExceeded) {
    return Status(Code::kDeadlineExceeded,
                  "command timed out after " + std::to_string(timeout.count()) +
                      " ms and was killed: " + std::string(command_template));
  }
  return out;
}

Status RunCommandChecked(std::string_view what, std::string_view command_template,
                         const std::map<std::string, std::string>& values,
                         std::chrono::milliseconds timeout) {
  Result<CommandOutput> out = RunCommand(command_template, values, timeout);
  if (!out.ok()) return out.status().Context(std::string(what));
  if (out->exit_code != 0) {
    std::string msg = std::string(what) + ": exited with status " +
                      std::to_string(out->exit_code);
    std::string tail = OutputTail(out->output, 200);
    if (!tail.empty()) msg += ": " + tail;
    return Internal(msg);
  }
  return Status::Ok();
}

}  // namespace preau::agent

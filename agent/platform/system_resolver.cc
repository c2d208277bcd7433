#include "agent/platform/system_resolver.h"

#include <chrono>
#include <filesystem>
#include <sstream>

#include "agent/platform/command_runner.h"
#include "common/files.h"

namespace preau::agent {

namespace {

constexpr const char* kMarker = "# Managed by preau-agent: the web filter answers here.";

}  // namespace

std::vector<std::string> NameserversOf(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key, value;
    if (words >> key >> value && key == "nameserver") out.push_back(value);
  }
  return out;
}

Status SystemResolver::Point(const std::string& address) {
  switch (options_.mode) {
    case SystemResolverOptions::Mode::kOff:
      return Status::Ok();
    case SystemResolverOptions::Mode::kCommand:
      if (options_.point_command.empty()) {
        return InvalidArgument("system resolver: the command mode needs a point command");
      }
      return RunCommandChecked("pointing the system resolver", options_.point_command,
                               {{"address", address}}, std::chrono::seconds(10));
    case SystemResolverOptions::Mode::kResolvConf:
      break;
  }
  std::string wanted = std::string(kMarker) + "\nnameserver " + address + "\noptions edns0\n";
  auto current = ReadFile(options_.resolv_conf);
  if (current.ok() && *current == wanted) return Status::Ok();
  std::error_code ec;
  bool ours = current.ok() && current->rfind(kMarker, 0) == 0;
  if (current.ok() && !ours && !std::filesystem::exists(backup_path(), ec)) {
    PREAU_RETURN_IF_ERROR(WriteFileAtomic(backup_path(), *current, 0644));
  }
  return WriteFileAtomic(options_.resolv_conf, wanted, 0644);
}

Status SystemResolver::Restore() {
  switch (options_.mode) {
    case SystemResolverOptions::Mode::kOff:
      return Status::Ok();
    case SystemResolverOptions::Mode::kCommand:
      if (options_.restore_command.empty()) return Status::Ok();
      return RunCommandChecked("restoring the system resolver", options_.restore_command, {},
                               std::chrono::seconds(10));
    case SystemResolverOptions::Mode::kResolvConf:
      break;
  }
  auto backup = ReadFile(backup_path());
  if (!backup.ok()) return Status::Ok();  // never pointed: nothing to undo
  PREAU_RETURN_IF_ERROR(WriteFileAtomic(options_.resolv_conf, *backup, 0644));
  std::error_code ec;
  std::filesystem::remove(backup_path(), ec);
  return Status::Ok();
}

std::vector<std::string> SystemResolver::OriginalUpstreams(const std::string& self) const {
  auto text = ReadFile(backup_path());
  if (!text.ok()) text = ReadFile(options_.resolv_conf);
  std::vector<std::string> out;
  if (!text.ok() || text->rfind(kMarker, 0) == 0) return out;
  for (auto& ns : NameserversOf(*text)) {
    if (ns != self) out.push_back(ns);
  }
  return out;
}

}  // namespace preau::agent

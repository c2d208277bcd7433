#include "common/policy/policy_error.h"

namespace preau::policy {

std::string PolicyError::ToString() const {
  std::string out;
  if (!file.empty()) {
    out += file;
    if (line > 0) out += ":" + std::to_string(line);
    out += ": ";
  } else if (line > 0) {
    out += "line " + std::to_string(line) + ": ";
  }
  if (!key.empty()) out += key + ": ";
  return out + message;
}

int SourceMap::LineOf(const std::string& key_path) const {
  std::string path = key_path;
  while (!path.empty()) {
    auto it = lines_.find(path);
    if (it != lines_.end()) return it->second;
    size_t cut = path.find_last_of(".[");
    if (cut == std::string::npos) break;
    path.resize(cut);
  }
  return 0;
}

std::string FormatErrors(const std::vector<PolicyError>& errors) {
  std::string out;
  for (const auto& e : errors) {
    if (!out.empty()) out += "\n";
    out += e.ToString();
  }
  return out;
}

Status ErrorsToStatus(const std::vector<PolicyError>& errors) {
  if (errors.empty()) return Status::Ok();
  return InvalidArgument(FormatErrors(errors));
}

}  // namespace preau::policy

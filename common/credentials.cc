#include "common/credentials.h"

#include <sstream>

#include "common/files.h"

namespace preau {

// Format: "key: value" header lines, then three labelled PEM sections. Plain text so that
// an administrator can read (and diff) what a file holds.
std::string SerializeCredentials(const Credentials& c) {
  std::ostringstream o;
  o << "# Préau operator credentials. Contains a private key: keep it secret.\n"
    << "server: " << c.server << "\n"
    << "operator: " << c.name << "\n"
    << "ca: |\n" << c.ca_pem << "certificate: |\n" << c.cert_pem << "key: |\n" << c.key_pem;
  return o.str();
}

Result<Credentials> ParseCredentials(const std::string& text, const std::string& origin) {
  Credentials c;
  std::istringstream in(text);
  std::string line;
  std::string* section = nullptr;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("-----", 0) == 0 || (section && line.find(':') == std::string::npos)) {
      if (!section) {
        return InvalidArgument(origin + ":" + std::to_string(lineno) + ": PEM data outside a section");
      }
      *section += line + "\n";
      continue;
    }
    auto colon = line.find(':');
    if (colon == std::string::npos) {
      return InvalidArgument(origin + ":" + std::to_string(lineno) + ": expected 'key: value'");
    }
    std::string key = line.substr(0, colon);
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    section = nullptr;
    if (key == "server") c.server = value;
    else if (key == "operator") c.name = value;
    else if (key == "ca") section = &c.ca_pem;
    else if (key == "certificate") section = &c.cert_pem;
    else if (key == "key") section = &c.key_pem;
    else return InvalidArgument(origin + ":" + std::to_string(lineno) + ": unknown key '" + key + "'");
  }
  if (c.ca_pem.empty()) return InvalidArgument(origin + ": no 'ca' section");
  if (c.cert_pem.empty()) return InvalidArgument(origin + ": no 'certificate' section");
  if (c.key_pem.empty()) return InvalidArgument(origin + ": no 'key' section");
  return c;
}

Result<Credentials> LoadCredentials(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status().Context("credentials");
  return ParseCredentials(*text, path);
}

Status SaveCredentials(const std::string& path, const Credentials& c) {
  return WriteFileAtomic(path, SerializeCredentials(c), 0600);
}

}  // namespace preau

#include "tools/preau/fleet_commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/credentials.h"
#include "common/duration.h"
#include "common/pki.h"
#include "common/roles.h"

namespace preau::cli {

namespace {

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::unique_ptr<AdminClient>> Connect(const CliContext& ctx) {
  return AdminClient::Connect(ctx.connection);
}

// One AdminService call as most commands make it: connect, send `req`, and return the
// answer, or the failure explained and put in context (`what`: "retiring device X").
template <typename Req, typename Resp>
Result<Resp> AdminCall(const CliContext& ctx,
                       grpc::Status (v1::AdminService::Stub::*rpc)(grpc::ClientContext*,
                                                                   const Req&, Resp*),
                       const Req& req, const std::string& what) {
  PREAU_ASSIGN_OR_RETURN(auto client, Connect(ctx));
  Resp resp;
  PREAU_RETURN_IF_ERROR(client->Call([&](grpc::ClientContext* c) {
    return (client->admin().*rpc)(c, req, &resp);
  }).Context(what));
  return resp;
}

// The same for a call that names one device by its id and answers with the device.
template <typename Req>
Result<v1::Device> DeviceCall(const CliContext& ctx,
                              grpc::Status (v1::AdminService::Stub::*rpc)(grpc::ClientContext*,
                                                                          const Req&,
                                                                          v1::Device*),
                              const std::string& id, const std::string& what) {
  Req req;
  req.set_id(id);
  return AdminCall(ctx, rpc, req, what);
}

// The same for a call that names one operator and answers with it.
template <typename Req>
Result<v1::Operator> OperatorCall(const CliContext& ctx,
                                  grpc::Status (v1::AdminService::Stub::*rpc)(
                                      grpc::ClientContext*, const Req&, v1::Operator*),
                                  const std::string& name, const std::string& what) {
  Req req;
  req.set_name(name);
  return AdminCall(ctx, rpc, req, what);
}

// Prints a listing page after page as the server hands them out (`items(resp)` the page's
// items, `add_row(table, item)` one row), in bounded memory whatever its length; with
// --limit, stops after that many and tells how to resume.
template <typename Req, typename Resp, typename Items, typename AddRow>
Status ListPages(const CliContext& ctx,
                 grpc::Status (v1::AdminService::Stub::*rpc)(grpc::ClientContext*, const Req&,
                                                             Resp*),
                 Req req, const PageOptions& o, const Table& shape,
                 Items&& items, AddRow&& add_row, const std::string& what,
                 const std::string& noun) {
  PREAU_ASSIGN_OR_RETURN(auto client, Connect(ctx));
  TableStream stream(shape.columns(), ctx.format, *ctx.out);
  std::string token = o.page_token;
  uint64_t printed = 0;
  for (;;) {
    req.set_page_token(token);
    req.set_page_size(o.limit == 0 ? 0 : static_cast<uint32_t>(o.limit - printed));
    Resp resp;
    PREAU_RETURN_IF_ERROR(client->Call([&](grpc::ClientContext* c) {
      return (client->admin().*rpc)(c, req, &resp);
    }).Context(what));
    Table page(shape.columns());
    for (const auto& item : items(resp)) add_row(page, item);
    stream.Write(page);
    printed += page.size();
    token = resp.next_page_token();
    if (token.empty()) break;
    if (o.limit != 0 && printed >= o.limit) {
      stream.Finish();
      *ctx.err << "More " << noun << " follow: resume with --page-token " << token << "\n";
      return Status::Ok();
    }
  }
  stream.Finish();
  return Status::Ok();
}

std::string Plural(uint64_t n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

// A single item (whoami, devices show): key/value lines, one JSON object, or a one-row CSV.
std::string RenderSingle(const Table& table, OutputFormat format) {
  switch (format) {
    case OutputFormat::kTable: return table.RenderRecord(0);
    case OutputFormat::kJson: return table.RowObject(0).Dump() + "\n";
    case OutputFormat::kCsv: return table.Render(OutputFormat::kCsv);
  }
  return "";
}

std::string Indent(const std::string& text) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size() - 1;
    out += "  " + text.substr(start, end - start + 1);
    start = end + 1;
  }
  return out;
}

// --- devices: one column list for the listing, the single view and both data formats ---

Table DeviceTable() {
  using S = Shown;
  return Table({
      {"id", "ID"},
      {"name", "Name"},
      {"group", "Group"},
      {"online", "Online"},
      {"last_seen", "Last seen"},
      {"model", "Model"},
      {"os", "OS", S::kTableOnly},
      {"battery_percent", "Battery"},
      {"policy", "Policy", S::kTableOnly},
      {"policy_version", "Policy version", S::kDataOnly},
      {"policy_state", "Policy state", S::kDataOnly},
      {"lock", "Lock", S::kDataOnly},
      {"lock_reason", "Lock unverified because", S::kDataOnly},
      {"foreground_app", "App in front", S::kDataOnly},
      {"focus", "Focus", S::kDataOnly},
      {"focus_reason", "Focus not held because", S::kDataOnly},
      {"dismissed_message", "Message dismissed", S::kDataOnly},
      {"dismissed_at", "Dismissed at", S::kDataOnly},
      {"agent_version", "Agent version", S::kDataOnly},
      {"os_name", "OS name", S::kDataOnly},
      {"os_version", "OS version", S::kDataOnly},
      {"manufacturer", "Manufacturer", S::kDataOnly},
      {"serial", "Serial", S::kDataOnly},
      {"device_kind", "Kind", S::kDataOnly},
      {"platform", "Platform", S::kDataOnly},
      {"hostname", "Hostname", S::kDataOnly},
      {"cpu", "CPU", S::kDataOnly},
      {"cpu_cores", "CPU cores", S::kDataOnly},
      {"memory_bytes", "Memory", S::kDataOnly},
      {"disk_total_bytes", "Disk total", S::kDataOnly},
      {"disk_free_bytes", "Disk free", S::kDataOnly},
      {"battery_health", "Battery health", S::kDataOnly},
      {"battery_charging", "Charging", S::kDataOnly},
      {"battery_cycles", "Battery cycles", S::kDataOnly},
      {"enrolled", "Enrolled", S::kDataOnly},
      {"retired", "Retired", S::kDataOnly},
      {"certificate_serial", "Certificate serial", S::kDataOnly},
      {"clone_refusals", "Clones refused", S::kDataOnly},
      {"last_clone", "Last clone", S::kDataOnly},
  });
}

Cell Percent(uint32_t n) { return Cell::Custom(std::to_string(n) + "%", Json::Uint(n)); }

// The device's lock as the CLI contract names it: unlocked, locked (verified) or unverified;
// the server keeps "unverified: why".
std::string LockWord(const std::string& state) {
  if (state.rfind("unverified", 0) == 0) return "unverified";
  return state == "locked" ? "locked" : "unlocked";
}
std::string LockReason(const std::string& state) {
  size_t colon = state.find(": ");
  return state.rfind("unverified", 0) == 0 && colon != std::string::npos ? state.substr(colon + 2) : "";
}

// A teacher's focus: none, held (verified), not held; the server keeps "not held: why".
std::string FocusWord(const std::string& state) {
  if (state.empty()) return "none";
  return state == "held" ? "held" : "not held";
}
std::string FocusReason(const std::string& state) {
  size_t colon = state.find(": ");
  return state.rfind("not held", 0) == 0 && colon != std::string::npos ? state.substr(colon + 2) : "";
}

std::vector<Cell> DeviceRow(const v1::Device& d) {
  const v1::Inventory& inv = d.inventory();
  uint64_t disk_total = 0;
  uint64_t disk_free = 0;
  for (const auto& disk : inv.disks()) {
    disk_total += disk.total_bytes();
    disk_free += disk.free_bytes();
  }
  std::string os = inv.os_name();
  if (!inv.os_version().empty()) os += (os.empty() ? "" : " ") + inv.os_version();
  std::string policy = "-";
  if (d.policy_version() != 0) {
    policy = "v" + std::to_string(d.policy_version());
    if (!d.policy_state().empty()) policy += " " + d.policy_state();
  } else if (!d.policy_state().empty()) {
    policy = d.policy_state();
  }
  bool battery = inv.has_battery() && inv.battery().present();
  return {
      Cell::Text(d.id()),
      Cell::Text(d.name()),
      Cell::Text(d.group()),
      // A retired device is never online; say why in the table (listed with --retired).
      Cell::Custom(d.retired() ? "retired" : d.online() ? "yes" : "no",
                   Json::Bool(d.online())),
      Cell::Time(d.last_seen_unix_ms()),
      Cell::Text(inv.model()),
      Cell::Text(os),
      battery ? Percent(inv.battery().percent()) : Cell::Null(),
      Cell::Text(policy),
      Cell::Uint(d.policy_version()),
      Cell::Text(d.policy_state()),
      Cell::Text(LockWord(d.lock_state())),
      Cell::OptionalText(LockReason(d.lock_state())),
      Cell::OptionalText(Printable(d.foreground_app())),
      Cell::Text(FocusWord(d.focus_state())),
      Cell::OptionalText(FocusReason(d.focus_state())),
      Cell::OptionalText(Printable(d.dismissed_message())),
      d.dismissed_unix_ms() != 0 ? Cell::Time(d.dismissed_unix_ms()) : Cell::Null(),
      Cell::Text(inv.agent_version()),
      Cell::Text(inv.os_name()),
      Cell::Text(inv.os_version()),
      Cell::Text(inv.manufacturer()),
      Cell::Text(inv.serial()),
      Cell::Text(inv.device_kind()),
      Cell::Text(inv.platform()),
      Cell::Text(inv.hostname()),
      Cell::Text(inv.cpu()),
      Cell::Uint(inv.cpu_cores()),
      Cell::Bytes(inv.memory_bytes()),
      Cell::Bytes(disk_total),
      Cell::Bytes(disk_free),
      battery ? Percent(inv.battery().health_percent()) : Cell::Null(),
      battery ? Cell::Bool(inv.battery().charging()) : Cell::Null(),
      battery ? Cell::Uint(inv.battery().cycle_count()) : Cell::Null(),
      Cell::Time(d.enrolled_unix_ms()),
      Cell::Bool(d.retired()),
      Cell::Text(d.certificate_serial()),
      // A second connection of this identity was refused: a copied disk image.
      Cell::Uint(d.clone_refusals()),
      d.last_clone_unix_ms() != 0 ? Cell::Time(d.last_clone_unix_ms()) : Cell::Null(),
  };
}

Table DiskTable(const v1::Inventory& inv) {
  Table t({{"mount_point", "Mount point"}, {"total_bytes", "Total"}, {"free_bytes", "Free"}});
  for (const auto& disk : inv.disks()) {
    t.AddRow({Cell::Text(disk.mount_point()), Cell::Bytes(disk.total_bytes()),
              Cell::Bytes(disk.free_bytes())});
  }
  return t;
}

Table InterfaceTable(const v1::Inventory& inv) {
  Table t({{"name", "Name"}, {"mac", "MAC"}, {"wireless", "Wireless"}});
  for (const auto& nic : inv.interfaces()) {
    t.AddRow({Cell::Text(nic.name()), Cell::Text(nic.mac()), Cell::Bool(nic.wireless())});
  }
  return t;
}

Table AppTable(const v1::Inventory& inv) {
  // Linux devices list the desktop entries users can launch, each with its package.
  Table t({{"id", "App"}, {"version", "Version"}, {"title", "Title"},
           {"desktop_entry", "Desktop entry"}, {"format", "Format"}});
  for (const auto& app : inv.apps()) {
    t.AddRow({Cell::Text(Printable(app.id())), Cell::Text(Printable(app.version())),
              Cell::OptionalText(Printable(app.title())),
              Cell::OptionalText(Printable(app.desktop_entry())),
              Cell::OptionalText(app.format())});
  }
  return t;
}

Json BatteryObject(const v1::Inventory& inv) {
  if (!inv.has_battery() || !inv.battery().present()) return Json::Null();
  const auto& b = inv.battery();
  return Json::Object()
      .Set("percent", Json::Uint(b.percent()))
      .Set("health_percent", Json::Uint(b.health_percent()))
      .Set("charging", Json::Bool(b.charging()))
      .Set("cycle_count", Json::Uint(b.cycle_count()));
}

Json TableArray(const Table& t) {
  Json a = Json::Array();
  for (size_t i = 0; i < t.size(); ++i) a.Add(t.RowObject(i));
  return a;
}

std::string Section(const std::string& title, const Table& t) {
  if (t.size() == 0) return title + ": none\n";
  return title + "\n" + Indent(t.Render(OutputFormat::kTable));
}

Result<v1::Device> GetDevice(AdminClient& client, const std::string& id) {
  v1::GetDeviceRequest req;
  req.set_id(id);
  v1::Device d;
  PREAU_RETURN_IF_ERROR(client.Call([&](grpc::ClientContext* c) {
    return client.admin().GetDevice(c, req, &d);
  }));
  return d;
}

// Names come from devices: keep their control characters off the terminal.
std::string DeviceLabel(const v1::Device& d) {
  return Printable(d.name().empty() ? d.id() : d.id() + " (" + d.name() + ")");
}

// --- operators: the new credentials file ----------------------------------------------------

// The --out file, created empty (mode 0600, never over an existing file or a symlink)
// before the server is asked, and removed again unless Commit succeeds.
class ReservedFile {
 public:
  static Result<std::unique_ptr<ReservedFile>> Create(const std::string& path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
      if (errno == EEXIST) {
        return AlreadyExists(path +
                             " already exists; refusing to overwrite it (choose another --out)");
      }
      return FailedPrecondition("cannot create " + path + ": " + std::strerror(errno));
    }
    return std::unique_ptr<ReservedFile>(new ReservedFile(path, fd));
  }
  ~ReservedFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }

  Status Commit(const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return DataLoss("writing " + path_ + ": " + std::strerror(errno));
      done += static_cast<size_t>(n);
    }
    if (::fsync(fd_) != 0) return DataLoss("writing " + path_ + ": " + std::strerror(errno));
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return DataLoss("writing " + path_ + ": " + std::strerror(errno));
    committed_ = true;
    return Status::Ok();
  }

 private:
  ReservedFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_;
  bool committed_ = false;
};

std::string ScopesText(const google::protobuf::RepeatedPtrField<std::string>& scopes) {
  if (scopes.empty()) return "all groups";
  std::string s;
  for (const auto& g : scopes) s += (s.empty() ? "" : ", ") + g;
  return s;
}

std::vector<std::string> ToVector(const google::protobuf::RepeatedPtrField<std::string>& v) {
  return {v.begin(), v.end()};
}

// What `operators create` and `operators renew` share: the credentials file reserved first
// (nothing is asked of the server for a file that cannot be written), then a new key and its
// certificate request. The key never leaves this process but in that file.
struct NewOperatorKey {
  std::unique_ptr<ReservedFile> file;
  std::string key_pem;
  std::string csr_pem;
};

Result<NewOperatorKey> PrepareOperatorKey(const std::string& name, const std::string& out,
                                          const std::string& what) {
  NewOperatorKey k;
  auto file = ReservedFile::Create(out);
  if (!file.ok()) return file.status().Context(what);
  k.file = std::move(*file);
  auto key = pki::GenerateKey();
  if (!key.ok()) return key.status().Context(what + ": generating its key");
  auto csr = pki::CreateCsr(key->private_key_pem, name);
  if (!csr.ok()) return csr.status().Context(what + ": creating its certificate request");
  k.key_pem = key->private_key_pem;
  k.csr_pem = *csr;
  return k;
}

// The credentials the server's answer makes, with the key of `k`, written to its file.
Status CommitOperatorCredentials(AdminClient& client, const std::string& server,
                                 const std::string& name, const v1::CreateOperatorResponse& resp,
                                 NewOperatorKey& k, Credentials* creds) {
  creds->server = server;
  if (creds->server.empty()) creds->server = client.credentials().server;
  if (creds->server.empty()) creds->server = client.server();
  creds->name = name;
  creds->ca_pem = resp.ca_pem().empty() ? client.credentials().ca_pem : resp.ca_pem();
  creds->cert_pem = resp.certificate_pem();
  creds->key_pem = k.key_pem;
  return k.file->Commit(SerializeCredentials(*creds));
}

}  // namespace

// --- groups -------------------------------------------------------------------------------

Status GroupsCreate(const CliContext& ctx, const GroupsCreateOptions& o) {
  v1::CreateGroupRequest req;
  req.set_path(o.path);
  PREAU_ASSIGN_OR_RETURN(v1::Group group,
                         AdminCall(ctx, &v1::AdminService::Stub::CreateGroup, req,
                                   "creating group '" + o.path + "'"));
  Print(ctx, "Created group " + group.path() + "\n");
  return Status::Ok();
}

Status GroupsRename(const CliContext& ctx, const GroupsRenameOptions& o) {
  v1::RenameGroupRequest req;
  req.set_path(o.path);
  req.set_new_path(o.new_path);
  PREAU_ASSIGN_OR_RETURN(v1::Group group,
                         AdminCall(ctx, &v1::AdminService::Stub::RenameGroup, req,
                                   "renaming group '" + o.path + "'"));
  Print(ctx, "Renamed group " + o.path + " to " + group.path() + "\n");
  return Status::Ok();
}

Status GroupsDelete(const CliContext& ctx, const GroupsCreateOptions& o) {
  v1::DeleteGroupRequest req;
  req.set_path(o.path);
  PREAU_RETURN_IF_ERROR(AdminCall(ctx, &v1::AdminService::Stub::DeleteGroup, req,
                                  "deleting group '" + o.path + "'")
                            .status());
  Print(ctx, "Deleted group " + o.path + "\n");
  return Status::Ok();
}

Status GroupsList(const CliContext& ctx, const PageOptions& page) {
  return ListPages(
      ctx, &v1::AdminService::Stub::ListGroups, v1::ListGroupsRequest(), page,
      Table({{"path", "Path"}, {"device_count", "Devices"}}),
      [](const v1::ListGroupsResponse& r) -> const auto& { return r.groups(); },
      [](Table& t, const v1::Group& g) {
        t.AddRow({Cell::Text(g.path()), Cell::Uint(g.device_count())});
      },
      "listing groups", "groups");
}

// --- enrolment tokens -----------------------------------------------------------------------

Status TokenCreate(const CliContext& ctx, const TokenCreateOptions& o) {
  if (o.uses == 0) return InvalidArgument("--uses must be at least 1");
  PREAU_ASSIGN_OR_RETURN(int64_t ttl, ParseDuration(o.expires));
  PREAU_ASSIGN_OR_RETURN(auto client, Connect(ctx));
  v1::CreateTokenRequest req;
  req.set_group(o.group);
  req.set_uses(o.uses);
  req.set_ttl_seconds(ttl);
  v1::CreateTokenResponse resp;
  PREAU_RETURN_IF_ERROR(client->Call([&](grpc::ClientContext* c) {
    return client->admin().CreateToken(c, req, &resp);
  }).Context("creating a token for '" + o.group + "'"));
  if (ctx.format == OutputFormat::kTable) {
    // The token alone on stdout, so that `TOKEN=$(preau token create ...)` works.
    Print(ctx, resp.token() + "\n");
    *ctx.err << "Token for " << o.group << ": " << Plural(resp.uses(), "use") << ", expires "
             << FormatLocalTime(resp.expires_unix_ms()) << "\n";
    return Status::Ok();
  }
  Table t({{"token", "Token"}, {"group", "Group"}, {"uses", "Uses"}, {"expires", "Expires"}});
  t.AddRow({Cell::Text(resp.token()), Cell::Text(o.group), Cell::Uint(resp.uses()),
            Cell::Time(resp.expires_unix_ms())});
  Print(ctx, RenderSingle(t, ctx.format));
  return Status::Ok();
}

// --- devices --------------------------------------------------------------------------------

Status DevicesList(const CliContext& ctx, const DevicesListOptions& o) {
  v1::ListDevicesRequest req;
  req.set_group(o.group);
  req.set_online_only(o.online_only);
  req.set_include_retired(o.include_retired);
  return ListPages(
      ctx, &v1::AdminService::Stub::ListDevices, req, o.page, DeviceTable(),
      [](const v1::ListDevicesResponse& r) -> const auto& { return r.devices(); },
      [](Table& t, const v1::Device& d) { t.AddRow(DeviceRow(d)); }, "listing devices",
      "devices");
}

Status DevicesShow(const CliContext& ctx, const DeviceIdOptions& o) {
  PREAU_ASSIGN_OR_RETURN(auto client, Connect(ctx));
  auto d = GetDevice(*client, o.id);
  if (!d.ok()) return d.status().Context("device " + o.id);
  Table t = DeviceTable();
  t.AddRow(DeviceRow(*d));
  const v1::Inventory& inv = d->inventory();
  switch (ctx.format) {
    case OutputFormat::kTable: {
      std::string text = t.RenderRecord(0);
      text += Section("Disks", DiskTable(inv));
      text += Section("Network interfaces", InterfaceTable(inv));
      text += Section("Apps (" + std::to_string(inv.apps_size()) + ")", AppTable(inv));
      Print(ctx, text);
      break;
    }
    case OutputFormat::kJson: {
      Json obj = t.RowObject(0);
      obj.Set("battery", BatteryObject(inv));
      obj.Set("disks", TableArray(DiskTable(inv)));
      obj.Set("interfaces", TableArray(InterfaceTable(inv)));
      obj.Set("apps", TableArray(AppTable(inv)));
      Print(ctx, obj.Dump() + "\n");
      break;
    }
    case OutputFormat::kCsv:
      // One flat row, the same columns as `devices list -o csv`.
      Print(ctx, t.Render(OutputFormat::kCsv));
      break;
  }
  return Status::Ok();
}

Status DevicesMove(const CliContext& ctx, const DevicesMoveOptions& o) {
  v1::MoveDeviceRequest req;
  req.set_id(o.id);
  req.set_group(o.group);
  PREAU_ASSIGN_OR_RETURN(v1::Device d,
                         AdminCall(ctx, &v1::AdminService::Stub::MoveDevice, req,
                                   "moving device " + o.id + " to '" + o.group + "'"));
  Print(ctx, "Moved " + DeviceLabel(d) + " to " + d.group() + "\n");
  return Status::Ok();
}

Status DevicesRetire(const CliContext& ctx, const DeviceIdOptions& o) {
  PREAU_ASSIGN_OR_RETURN(v1::Device d, DeviceCall(ctx, &v1::AdminService::Stub::RetireDevice,
                                                  o.id, "retiring device " + o.id));
  Print(ctx, "Retired " + DeviceLabel(d) +
                 ": its certificate is revoked and it can no longer connect\n");
  return Status::Ok();
}

Status DevicesResend(const CliContext& ctx, const DeviceIdOptions& o) {
  PREAU_ASSIGN_OR_RETURN(v1::Device d, DeviceCall(ctx, &v1::AdminService::Stub::ResendPolicy,
                                                  o.id, "resending the policy of device " + o.id));
  Print(ctx, "Sent " + DeviceLabel(d) + " its policy, filter and apps again\n");
  return Status::Ok();
}

Status DevicesRestart(const CliContext& ctx, const DeviceIdOptions& o) {
  PREAU_ASSIGN_OR_RETURN(v1::Device d,
                         DeviceCall(ctx, &v1::AdminService::Stub::RestartAgent, o.id,
                                    "restarting the agent of device " + o.id));
  Print(ctx, "Closed the connection of " + DeviceLabel(d) + ": its agent reconnects and starts over\n");
  return Status::Ok();
}

// --- operators --------------------------------------------------------------------------------

Status OperatorsCreate(const CliContext& ctx, const OperatorsCreateOptions& o) {
  PREAU_ASSIGN_OR_RETURN(v1::Role role, ParseRoleName(o.role));
  if (o.name.empty()) return InvalidArgument("an operator needs a NAME");
  if (o.out.empty()) return InvalidArgument("--out FILE is required (the new credentials file)");
  PREAU_ASSIGN_OR_RETURN(auto client, Connect(ctx));
  std::string what = "creating operator '" + o.name + "'";
  PREAU_ASSIGN_OR_RETURN(auto key, PrepareOperatorKey(o.name, o.out, what));

  v1::CreateOperatorRequest req;
  req.set_name(o.name);
  req.set_role(role);
  for (const auto& s : o.scopes) req.add_scopes(s);
  req.set_hours(o.hours);
  req.set_csr_pem(key.csr_pem);
  v1::CreateOperatorResponse resp;
  PREAU_RETURN_IF_ERROR(client->Call([&](grpc::ClientContext* c) {
    return client->admin().CreateOperator(c, req, &resp);
  }).Context(what));

  Credentials creds;
  Status written = CommitOperatorCredentials(*client, o.server_address, o.name, resp, key, &creds);
  if (!written.ok()) {
    return written.Context("operator '" + o.name +
                           "' was created but its credentials could not be saved (its key is "
                           "lost; create the operator again under another name)");
  }
  std::string hours = resp.operator_().hours().empty() ? "" : ", " + resp.operator_().hours();
  Print(ctx, "Created operator " + o.name + " (" + RoleName(resp.operator_().role()) +
                 ", " + ScopesText(resp.operator_().scopes()) + hours + "); credentials for " +
                 creds.server + " in " + o.out + " (secret: it holds the operator's key)\n");
  return Status::Ok();
}

namespace {
Table OperatorTable() {
  using S = Shown;
  return Table({{"name", "Name"},
                {"role", "Role"},
                {"scopes", "Scopes"},
                {"hours", "Hours"},
                {"state", "State"},
                {"expires", "Certificate expires"},
                {"created", "Created"},
                {"created_by", "Created by", S::kDataOnly},
                {"permissions", "Permissions", S::kDataOnly}});
}

void AddOperatorRow(Table& t, const v1::Operator& op) {
  std::string hours = op.hours().empty() ? "" : op.hours() + " (" + op.time_zone() + ")";
  t.AddRow({Cell::Text(op.name()), Cell::Text(RoleName(op.role())),
            Cell::List(ToVector(op.scopes()), "(all)"), Cell::Text(hours),
            Cell::Text(op.revoked_unix_ms() ? "revoked " + FormatLocalTime(op.revoked_unix_ms())
                                            : "active"),
            Cell::Time(op.certificate_expires_unix_ms()), Cell::Time(op.created_unix_ms()),
            Cell::Text(op.created_by()), Cell::List(ToVector(op.permissions()), "")});
}
}  // namespace

Status OperatorsList(const CliContext& ctx, const PageOptions& page) {
  return ListPages(
      ctx, &v1::AdminService::Stub::ListOperators, v1::ListOperatorsRequest(), page,
      OperatorTable(),
      [](const v1::ListOperatorsResponse& r) -> const auto& { return r.operators(); },
      [](Table& t, const v1::Operator& op) { AddOperatorRow(t, op); }, "listing operators",
      "operators");
}

Status OperatorsShow(const CliContext& ctx, const std::string& name) {
  PREAU_ASSIGN_OR_RETURN(v1::Operator op,
                         OperatorCall(ctx, &v1::AdminService::Stub::GetOperator, name,
                                      "showing operator '" + name + "'"));
  Table t = OperatorTable();
  AddOperatorRow(t, op);
  Print(ctx, RenderSingle(t, ctx.format));
  return Status::Ok();
}

Status OperatorsRevoke(const CliContext& ctx, const std::string& name) {
  PREAU_RETURN_IF_ERROR(OperatorCall(ctx, &v1::AdminService::Stub::RevokeOperator, name,
                                     "revoking operator '" + name + "'")
                            .status());
  Print(ctx, "Revoked operator " + name + ": its open calls were ended and its credentials "
                                          "are refused from now on\n");
  return Status::Ok();
}

Status OperatorsRenew(const CliContext& ctx, const OperatorsRenewOptions& o) {
  if (o.out.empty()) return InvalidArgument("--out FILE is required (the new credentials file)");
  PREAU_ASSIGN_OR_RETURN(auto client, Connect(ctx));
  std::string what = "renewing the credentials of operator '" + o.name + "'";
  PREAU_ASSIGN_OR_RETURN(auto key, PrepareOperatorKey(o.name, o.out, what));
  v1::RenewOperatorRequest req;
  req.set_name(o.name);
  req.set_csr_pem(key.csr_pem);
  v1::CreateOperatorResponse resp;
  PREAU_RETURN_IF_ERROR(client->Call([&](grpc::ClientContext* c) {
    return client->admin().RenewOperator(c, req, &resp);
  }).Context(what));
  Credentials creds;
  Status written = CommitOperatorCredentials(*client, "", o.name, resp, key, &creds);
  if (!written.ok()) {
    return written.Context("the credentials of '" + o.name + "' were renewed but could not be "
                           "saved (renew them again)");
  }
  Print(ctx, "Renewed the credentials of " + o.name + " in " + o.out + ", valid until " +
                 FormatLocalTime(resp.operator_().certificate_expires_unix_ms()) +
                 "; the previous ones are refused from now on\n");
  return Status::Ok();
}

// --- audit ------------------------------------------------------------------------------------

Status AuditList(const CliContext& ctx, const AuditListOptions& o) {
  v1::ListAuditRequest req;
  if (!o.since.empty()) {
    PREAU_ASSIGN_OR_RETURN(int64_t seconds, ParseDuration(o.since));
    req.set_since_unix_ms(NowUnixMs() - seconds * 1000);
  }
  return ListPages(
      ctx, &v1::AdminService::Stub::ListAudit, req, o.page,
      Table({{"seq", "Seq"},
             {"at", "Time"},
             {"actor", "Actor"},
             {"action", "Action"},
             {"target", "Target"},
             {"result", "Result"},
             {"detail", "Detail"}}),
      [](const v1::ListAuditResponse& r) -> const auto& { return r.entries(); },
      [](Table& t, const v1::AuditEntry& e) {
        t.AddRow({Cell::Int(e.seq()), Cell::Time(e.at_unix_ms()), Cell::Text(e.actor()),
                  Cell::Text(e.action()), Cell::Text(e.target()), Cell::Text(e.result()),
                  Cell::Text(e.detail())});
      },
      "reading the audit log", "entries");
}

// --- whoami -----------------------------------------------------------------------------------

Status WhoAmI(const CliContext& ctx) {
  PREAU_ASSIGN_OR_RETURN(auto client, Connect(ctx));
  v1::Operator op;
  PREAU_RETURN_IF_ERROR(client->Call([&](grpc::ClientContext* c) {
    return client->admin().WhoAmI(c, v1::WhoAmIRequest(), &op);
  }).Context("asking the server who we are"));
  Table t({{"name", "Name"},
           {"role", "Role"},
           {"scopes", "Scopes"},
           {"hours", "Hours"},
           {"expires", "Certificate expires"},
           {"created", "Created"},
           {"server", "Server"},
           {"credentials", "Credentials"},
           {"permissions", "Permissions", Shown::kDataOnly}});
  std::string hours = op.hours().empty() ? "" : op.hours() + " (" + op.time_zone() + ")";
  t.AddRow({Cell::Text(op.name()), Cell::Text(RoleName(op.role())),
            Cell::List(ToVector(op.scopes()), "(all groups)"), Cell::Text(hours),
            Cell::Time(op.certificate_expires_unix_ms()), Cell::Time(op.created_unix_ms()),
            Cell::Text(client->server()), Cell::Text(client->credentials_path()),
            Cell::List(ToVector(op.permissions()), "")});
  Print(ctx, RenderSingle(t, ctx.format));
  return Status::Ok();
}

}  // namespace preau::cli

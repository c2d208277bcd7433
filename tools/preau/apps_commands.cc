#include "tools/preau/apps_commands.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "common/review_state.h"
#include "preau/v1/catalog.grpc.pb.h"

namespace preau::cli {

namespace {

constexpr size_t kUploadChunk = 256 * 1024;
constexpr uint64_t kProgressMinBytes = 1 << 20;

std::string AssignmentText(const v1::AppAssignment& a) {
  return a.group() + (a.required() ? " (required)" : " (optional)");
}

Table VersionTable() {
  using S = Shown;
  return Table({
      {"id", "ID"},
      {"name", "Name", S::kDataOnly},
      {"version", "Version", S::kDataOnly},
      {"title", "Title", S::kDataOnly},
      {"platform", "Platform"},
      {"format", "Format", S::kDataOnly},
      {"category", "Category"},
      {"state", "State"},
      {"size_bytes", "Size"},
      {"assigned", "Assigned"},
      {"installed_devices", "Installed"},
      {"failed_devices", "Failed"},
      {"reason", "Reason"},
      {"publisher", "Publisher", S::kDataOnly},
      {"minimum_age", "Minimum age", S::kDataOnly},
      {"description", "Description", S::kDataOnly},
      {"sha256", "SHA-256", S::kDataOnly},
      {"uploaded_by", "Uploaded by", S::kDataOnly},
      {"uploaded_at", "Uploaded", S::kDataOnly},
      {"reviewed_by", "Reviewed by", S::kDataOnly},
      {"reviewed_at", "Reviewed", S::kDataOnly},
  });
}

std::vector<Cell> VersionRow(const v1::AppVersion& v) {
  const v1::AppMetadata& m = v.metadata();
  std::vector<std::string> assigned;
  for (const auto& a : v.assignments()) assigned.push_back(AssignmentText(a));
  return {
      Cell::Text(Printable(v.id())),
      Cell::Text(Printable(m.name())),
      Cell::Text(Printable(m.version())),
      Cell::OptionalText(Printable(m.title())),
      Cell::Text(m.platform()),
      Cell::OptionalText(m.format()),
      Cell::OptionalText(Printable(m.category())),
      Cell::Text(ReviewStateName(v.state())),
      Cell::Bytes(v.size()),
      Cell::List(assigned, "-"),
      Cell::Uint(v.installed_devices()),
      Cell::Uint(v.failed_devices()),
      Cell::OptionalText(Printable(v.reason())),
      Cell::OptionalText(Printable(m.publisher())),
      Cell::Uint(m.minimum_age()),
      Cell::OptionalText(Printable(m.description())),
      Cell::Text(v.sha256()),
      Cell::Text(Printable(v.uploaded_by())),
      Cell::Time(v.uploaded_unix_ms()),
      Cell::OptionalText(Printable(v.reviewed_by())),
      Cell::Time(v.reviewed_unix_ms()),
  };
}

std::string RenderSingle(const Table& table, OutputFormat format) {
  switch (format) {
    case OutputFormat::kTable: return table.RenderRecord(0);
    case OutputFormat::kJson: return table.RowObject(0).Dump() + "\n";
    case OutputFormat::kCsv: return table.Render(OutputFormat::kCsv);
  }
  return "";
}

// A one-line progress bar redrawn in place, at most ten times a second.
class ProgressBar {
 public:
  ProgressBar(std::ostream* err, bool enabled, uint64_t total)
      : err_(err), enabled_(enabled), total_(total), start_(Clock::now()) {}

  void Update(uint64_t done, bool final = false) {
    if (!enabled_) return;
    auto now = Clock::now();
    if (!final && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    double secs = std::chrono::duration<double>(now - start_).count();
    int pct = total_ == 0 ? 100 : static_cast<int>(done * 100 / total_);
    constexpr int kWidth = 30;
    std::string bar(static_cast<size_t>(pct * kWidth / 100), '#');
    bar.resize(kWidth, '.');
    std::string rate = secs > 0 ? HumanBytes(static_cast<uint64_t>(done / secs)) + "/s" : "";
    *err_ << "\r[" << bar << "] " << pct << "%  " << HumanBytes(done) << " / "
          << HumanBytes(total_) << "  " << rate << "   " << (final ? "\n" : "") << std::flush;
  }

 private:
  using Clock = std::chrono::steady_clock;
  std::ostream* err_;
  bool enabled_;
  uint64_t total_;
  Clock::time_point start_;
  Clock::time_point last_{};
};

Status Errno(const std::string& what) {
  return InvalidArgument(what + ": " + std::strerror(errno));
}

}  // namespace

Status AppsUpload(const CliContext& ctx, const AppsUploadOptions& o) {
  const std::string target = o.name + "@" + o.version;
  int fd = ::open(o.file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot read " + o.file);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) return Errno("cannot read " + o.file);
  if (!S_ISREG(st.st_mode)) return InvalidArgument(o.file + " is not a regular file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size == 0) return InvalidArgument(o.file + " is empty");

  PREAU_ASSIGN_OR_RETURN(auto client, AdminClient::Connect(ctx.connection));
  v1::CatalogService::Stub stub(client->channel());
  v1::UploadAppRequest first;
  v1::AppMetadata* m = first.mutable_metadata();
  m->set_name(o.name);
  m->set_version(o.version);
  m->set_platform(o.platform);
  m->set_category(o.category);
  m->set_publisher(o.publisher);
  m->set_minimum_age(o.minimum_age);
  m->set_description(o.description);
  m->set_title(o.title);
  m->set_file_name(std::filesystem::path(o.file).filename().string());
  m->set_size(size);

  bool tty = ctx.err == &std::cerr && ::isatty(STDERR_FILENO);
  bool show = o.progress == "always" || (o.progress == "auto" && tty && size >= kProgressMinBytes);
  ProgressBar bar(ctx.err, show, size);

  // The per-call deadline, plus time for the bytes at a slow 256 KiB/s.
  grpc::ClientContext call;
  call.set_deadline(std::chrono::system_clock::now() + ctx.connection.deadline +
                    std::chrono::seconds(size / (256 * 1024)));
  v1::AppVersion resp;
  auto writer = stub.Upload(&call, &resp);
  bool open = writer->Write(first);
  uint64_t sent = 0;
  Status local;
  v1::UploadAppRequest req;
  std::string* buf = req.mutable_chunk();
  while (open && sent < size) {
    buf->resize(kUploadChunk);
    ssize_t n = ::read(fd, buf->data(), buf->size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      local = n < 0 ? Errno("reading " + o.file)
                    : InvalidArgument(o.file + " shrank while uploading");
      call.TryCancel();
      break;
    }
    buf->resize(static_cast<size_t>(n));
    open = writer->Write(req);
    sent += static_cast<uint64_t>(n);
    bar.Update(sent);
  }
  if (open) writer->WritesDone();
  grpc::Status s = writer->Finish();
  bar.Update(sent, /*final=*/true);
  if (!local.ok()) return local.Context("uploading " + target);
  if (!s.ok()) return client->Explain(s).Context("uploading " + target);

  if (ctx.format == OutputFormat::kTable) {
    Print(ctx, "Uploaded " + Printable(resp.id()) + " (" + HumanBytes(resp.size()) + ", " +
                   resp.metadata().platform() + ", sha256 " + resp.sha256() +
                   "): submitted for review\n");
    return Status::Ok();
  }
  Table t = VersionTable();
  t.AddRow(VersionRow(resp));
  Print(ctx, RenderSingle(t, ctx.format));
  return Status::Ok();
}

Status AppsReview(const CliContext& ctx, const AppsReviewOptions& o) {
  if (o.approve == o.reject) return InvalidArgument("give exactly one of --approve or --reject");
  if (o.reject && o.reason.empty()) {
    return InvalidArgument("--reject needs --reason TEXT: the uploader reads why");
  }
  PREAU_ASSIGN_OR_RETURN(auto client, AdminClient::Connect(ctx.connection));
  v1::CatalogService::Stub stub(client->channel());
  v1::ReviewAppRequest req;
  req.set_id(o.id);
  req.set_approve(o.approve);
  req.set_reason(o.reason);
  v1::AppVersion resp;
  PREAU_RETURN_IF_ERROR(client->Call([&](grpc::ClientContext* c) {
    return stub.Review(c, req, &resp);
  }).Context(std::string(o.approve ? "approving " : "rejecting ") + o.id));
  if (ctx.format == OutputFormat::kTable) {
    Print(ctx, Printable(resp.id()) + ": " + ReviewStateName(resp.state()) +
                   (resp.reason().empty() ? "" : " (" + Printable(resp.reason()) + ")") + "\n");
    return Status::Ok();
  }
  Table t = VersionTable();
  t.AddRow(VersionRow(resp));
  Print(ctx, RenderSingle(t, ctx.format));
  return Status::Ok();
}

Status AppsAssign(const CliContext& ctx, const AppsAssignOptions& o) {
  if (o.required == o.optional) {
    return InvalidArgument("give exactly one of --required or --optional");
  }
  PREAU_ASSIGN_OR_RETURN(auto client, AdminClient::Connect(ctx.connection));
  v1::CatalogService::Stub stub(client->channel());
  v1::AssignAppRequest req;
  req.set_id(o.id);
  req.set_group(o.group);
  req.set_required(o.required);
  v1::AppAssignment resp;
  PREAU_RETURN_IF_ERROR(client->Call([&](grpc::ClientContext* c) {
    return stub.Assign(c, req, &resp);
  }).Context("assigning " + o.id + " to '" + o.group + "'"));
  Print(ctx, "Assigned " + Printable(resp.version_id()) + " to " + AssignmentText(resp) + "\n");
  return Status::Ok();
}

Status AppsUnassign(const CliContext& ctx, const AppsUnassignOptions& o) {
  PREAU_ASSIGN_OR_RETURN(auto client, AdminClient::Connect(ctx.connection));
  v1::CatalogService::Stub stub(client->channel());
  v1::UnassignAppRequest req;
  req.set_app(o.app);
  req.set_group(o.group);
  v1::UnassignAppResponse resp;
  PREAU_RETURN_IF_ERROR(client->Call([&](grpc::ClientContext* c) {
    return stub.Unassign(c, req, &resp);
  }).Context("unassigning " + o.app + " from '" + o.group + "'"));
  Print(ctx, "Unassigned " + Printable(resp.removed().version_id()) + " from " +
                 resp.removed().group() +
                 (resp.removed().required() ? "; devices that got it from there remove it\n"
                                            : "\n"));
  return Status::Ok();
}

Status AppsList(const CliContext& ctx, const AppsListOptions& o) {
  PREAU_ASSIGN_OR_RETURN(auto client, AdminClient::Connect(ctx.connection));
  v1::CatalogService::Stub stub(client->channel());
  v1::ListAppsRequest req;
  req.set_name(o.name);
  v1::ListAppsResponse resp;
  PREAU_RETURN_IF_ERROR(client->Call([&](grpc::ClientContext* c) {
    return stub.List(c, req, &resp);
  }).Context("listing apps"));
  Table t = VersionTable();
  for (const auto& v : resp.versions()) t.AddRow(VersionRow(v));
  Print(ctx, t.Render(ctx.format));
  return Status::Ok();
}

Status AppsStatus(const CliContext& ctx, const AppsStatusOptions& o) {
  PREAU_ASSIGN_OR_RETURN(auto client, AdminClient::Connect(ctx.connection));
  v1::CatalogService::Stub stub(client->channel());
  v1::AppDeviceStatusRequest req;
  req.set_app(o.app);
  req.set_group(o.group);
  v1::AppDeviceStatusResponse resp;
  PREAU_RETURN_IF_ERROR(client->Call([&](grpc::ClientContext* c) {
    return stub.DeviceStatus(c, req, &resp);
  }).Context("reading the devices' app status"));
  using S = Shown;
  Table t({{"device_id", "Device"},
           {"device_name", "Name"},
           {"group", "Group"},
           {"app", "App"},
           {"version", "Version"},
           {"state", "State"},
           {"detail", "Detail"},
           {"bytes_done", "Downloaded", S::kDataOnly},
           {"sha256", "SHA-256", S::kDataOnly},
           {"reported_at", "Reported"}});
  for (const auto& d : resp.devices()) {
    const v1::AppStatus& s = d.status();
    t.AddRow({Cell::Text(d.device_id()), Cell::Text(Printable(d.device_name())),
              Cell::Text(d.group()), Cell::Text(Printable(s.app_id())),
              Cell::Text(Printable(s.version())), Cell::Text(Printable(s.state())),
              Cell::OptionalText(Printable(s.detail())), Cell::Uint(s.bytes_done()),
              Cell::OptionalText(s.sha256()), Cell::Time(d.reported_unix_ms())});
  }
  Print(ctx, t.Render(ctx.format));
  return Status::Ok();
}

}  // namespace preau::cli

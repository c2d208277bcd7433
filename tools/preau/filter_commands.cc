#include "tools/preau/filter_commands.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>
#include <vector>

#include "preau/v1/filter.grpc.pb.h"
#include "tools/preau/admin_client.h"
#include "tools/preau/output.h"

namespace preau::cli {

namespace fs = std::filesystem;

namespace {

constexpr size_t kChunk = 1 << 20;

// One file of the folder, open: it is opened once, without following links (a link
// inside the folder could point anywhere, /etc/shadow included), and read from that
// descriptor, so what is checked is what is sent.
struct ImportFile {
  std::string category;  // "" for global_usage
  std::string file;
  std::string shown;     // "gambling/domains", for messages
  int fd = -1;
  uint64_t size = 0;
  ImportFile() = default;
  ImportFile(ImportFile&& o) noexcept
      : category(std::move(o.category)), file(std::move(o.file)), shown(std::move(o.shown)),
        fd(std::exchange(o.fd, -1)), size(o.size) {}
  ImportFile(const ImportFile&) = delete;
  ~ImportFile() {
    if (fd >= 0) ::close(fd);
  }
};

// A descriptor that closes itself.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

enum class Opened { kOk, kMissing, kLink, kNotThatKind };

// Opens `name` under `dir_fd` without following a link; `directory` selects what it must be.
Opened OpenBeneath(int dir_fd, const std::string& name, bool directory, int* out) {
  int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (directory ? O_DIRECTORY : O_NOCTTY);
  int fd = ::openat(dir_fd, name.c_str(), flags);
  if (fd < 0) {
    if (errno == ENOENT) return Opened::kMissing;
    struct stat st {};
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
      return Opened::kLink;
    }
    return Opened::kNotThatKind;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || (directory ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))) {
    ::close(fd);
    return Opened::kNotThatKind;
  }
  *out = fd;
  return Opened::kOk;
}

// The files of a UT1 folder that the server reads, in a stable order, open. The folder named
// on the command line may itself be a link (the operator chose it); nothing inside it is
// followed: a linked category or file is left out and named in `notes`.
Result<std::vector<ImportFile>> FilesOf(const std::string& dir, std::vector<std::string>* notes) {
  Fd top(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (top.fd < 0) {
    return InvalidArgument(dir + " is not a folder" +
                           (errno == ENOTDIR || errno == ENOENT ? std::string()
                                                                : ": " + std::string(std::strerror(errno))));
  }
  std::vector<std::string> cats;
  {
    int list_fd = ::dup(top.fd);
    DIR* d = list_fd >= 0 ? ::fdopendir(list_fd) : nullptr;
    if (d == nullptr) {
      if (list_fd >= 0) ::close(list_fd);
      return InvalidArgument("cannot read " + dir + ": " + std::strerror(errno));
    }
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") cats.push_back(name);
    }
    ::closedir(d);
  }
  std::sort(cats.begin(), cats.end());
  std::vector<ImportFile> out;
  for (const auto& c : cats) {
    int cat_fd = -1;
    Opened o = OpenBeneath(top.fd, c, /*directory=*/true, &cat_fd);
    if (o == Opened::kLink) {
      notes->push_back(c + " is a link: not followed");
      continue;
    }
    if (o != Opened::kOk) continue;  // a plain file at the top (global_usage, a README)
    Fd cat(cat_fd);
    std::vector<ImportFile> files;
    for (const char* f : {"domains", "urls", "usage"}) {
      int fd = -1;
      Opened fo = OpenBeneath(cat.fd, f, /*directory=*/false, &fd);
      if (fo == Opened::kLink) notes->push_back(c + "/" + f + " is a link: not followed");
      if (fo == Opened::kNotThatKind) notes->push_back(c + "/" + f + " is not a regular file: left out");
      if (fo != Opened::kOk) continue;
      ImportFile file;
      file.category = c;
      file.file = f;
      file.shown = c + "/" + f;
      file.fd = fd;
      struct stat st {};
      ::fstat(fd, &st);
      file.size = static_cast<uint64_t>(st.st_size);
      files.push_back(std::move(file));
    }
    // A category is a folder with a `domains` file.
    if (!files.empty() && files.front().file == "domains") {
      for (auto& f : files) out.push_back(std::move(f));
    }
  }
  if (out.empty()) {
    return InvalidArgument(dir + " holds no category folder with a `domains` file: give the "
                           "UT1 folder (e.g. blacklists/)");
  }
  int fd = -1;
  Opened go = OpenBeneath(top.fd, "global_usage", /*directory=*/false, &fd);
  if (go == Opened::kLink) notes->push_back("global_usage is a link: not followed");
  if (go == Opened::kOk) {
    ImportFile file;
    file.file = "global_usage";
    file.shown = "global_usage";
    file.fd = fd;
    struct stat st {};
    ::fstat(fd, &st);
    file.size = static_cast<uint64_t>(st.st_size);
    out.push_back(std::move(file));
  }
  return out;
}

std::vector<Cell> CategoryRow(const v1::FilterCategorySummary& c) {
  std::vector<std::string> reasons(c.skipped_reasons().begin(), c.skipped_reasons().end());
  return {Cell::Text(Printable(c.name())),
          Cell::Text(c.white() ? "white" : "black"),
          Cell::Uint(c.domains()),
          Cell::Uint(c.domain_lines()),
          Cell::Uint(c.urls()),
          Cell::Uint(c.url_lines()),
          Cell::Uint(c.skipped()),
          Cell::List(reasons, "-"),
          Cell::OptionalText(Printable(c.description()))};
}

// One row per category of version `v`.
Table CategoryTable(const v1::FilterVersion& v) {
  Table t({{"name", "Category"},
                {"type", "Type"},
                {"domains", "Domains"},
                {"domain_lines", "Domain lines", Shown::kDataOnly},
                {"urls", "URLs"},
                {"url_lines", "URL lines", Shown::kDataOnly},
                {"skipped", "Skipped"},
                {"skipped_reasons", "Skipped reasons", Shown::kDataOnly},
                {"description", "Description", Shown::kDataOnly}});
  for (const auto& c : v.categories()) t.AddRow(CategoryRow(c));
  return t;
}

// The skipped lines under the table, for people: the reader's reasons, as the server kept
// them (the first few of each category).
std::string SkippedText(const v1::FilterVersion& v) {
  std::string out;
  for (const auto& c : v.categories()) {
    if (c.skipped() == 0) continue;
    out += Printable(c.name()) + ": " + std::to_string(c.skipped()) + " line" +
           (c.skipped() == 1 ? "" : "s") + " skipped\n";
    for (const auto& r : c.skipped_reasons()) out += "  " + Printable(r) + "\n";
    if (static_cast<uint64_t>(c.skipped_reasons_size()) < c.skipped()) {
      out += "  ... and " + std::to_string(c.skipped() - c.skipped_reasons_size()) + " more\n";
    }
  }
  return out;
}

}  // namespace

Status FilterImport(const CliContext& ctx, const FilterImportOptions& o) {
  std::vector<std::string> notes;
  PREAU_ASSIGN_OR_RETURN(auto files, FilesOf(o.dir, &notes));
  for (const auto& n : notes) *ctx.err << "preau: " << Printable(n) << "\n";
  uint64_t total = 0;
  for (const auto& f : files) total += f.size;
  PREAU_ASSIGN_OR_RETURN(auto client, AdminClient::Connect(ctx.connection));
  v1::FilterService::Stub stub(client->channel());
  grpc::ClientContext call;
  // The per-call deadline, plus time for the bytes at 1 MiB/s and the server's compile.
  call.set_deadline(std::chrono::system_clock::now() + ctx.connection.deadline +
                    std::chrono::seconds(total / (1 << 20)) + std::chrono::seconds(60));
  v1::ImportFilterResponse resp;
  auto writer = stub.Import(&call, &resp);
  v1::ImportFilterRequest start;
  std::string source = fs::path(o.dir).lexically_normal().filename().string();
  if (source.empty() || source == ".") source = fs::absolute(o.dir).lexically_normal().parent_path().filename().string();
  start.mutable_start()->set_source(source);
  start.mutable_start()->set_force(o.force);
  bool open = writer->Write(start);
  Status local;
  for (const auto& f : files) {
    if (!open) break;
    v1::ImportFilterRequest req;
    auto* c = req.mutable_chunk();
    c->set_category(f.category);
    c->set_file(f.file);
    std::string* buf = c->mutable_data();
    uint64_t sent = 0;
    while (open) {
      buf->resize(kChunk);
      ssize_t n = ::read(f.fd, buf->data(), buf->size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        local = InvalidArgument("cannot read " + f.shown + ": " + std::strerror(errno));
        break;
      }
      buf->resize(static_cast<size_t>(n));
      sent += static_cast<uint64_t>(n);
      // The size was taken when the file was opened: a file still growing is cut there.
      bool last = n == 0 || sent >= f.size;
      c->set_last(last);
      open = writer->Write(req);
      if (last) break;
    }
    if (!local.ok()) {
      call.TryCancel();
      break;
    }
  }
  if (open) writer->WritesDone();
  grpc::Status s = writer->Finish();
  if (!local.ok()) return local.Context("importing " + o.dir);
  if (!s.ok()) return client->Explain(s).Context("importing " + o.dir);

  const v1::FilterVersion& v = resp.version();
  Print(ctx, CategoryTable(v).Render(ctx.format));
  if (ctx.format != OutputFormat::kTable) return Status::Ok();
  Print(ctx, SkippedText(v));
  Print(ctx, "Imported version " + std::to_string(v.version()) + ": " +
                 std::to_string(v.domains()) + " domains and " + std::to_string(v.urls()) +
                 " URLs in " + std::to_string(v.categories_size()) + " categories, " +
                 std::to_string(v.skipped()) + " lines skipped. Devices get it as they connect.\n");
  return Status::Ok();
}

Status FilterRollback(const CliContext& ctx, uint64_t version) {
  PREAU_ASSIGN_OR_RETURN(auto client, AdminClient::Connect(ctx.connection));
  v1::FilterService::Stub stub(client->channel());
  v1::RollbackFilterRequest req;
  req.set_version(version);
  v1::ImportFilterResponse resp;
  PREAU_RETURN_IF_ERROR(client->Call([&](grpc::ClientContext* call) {
    return stub.Rollback(call, req, &resp);
  }).Context("rolling back to version " + std::to_string(version)));
  const v1::FilterVersion& v = resp.version();
  Table t = CategoryTable(v);
  if (ctx.format != OutputFormat::kTable) {
    Print(ctx, t.Render(ctx.format));
    return Status::Ok();
  }
  Print(ctx, "Version " + std::to_string(v.version()) + " is current: " + Printable(v.source()) +
                 ", " + std::to_string(v.domains()) + " domains and " +
                 std::to_string(v.urls()) + " URLs in " + std::to_string(v.categories_size()) +
                 " categories. Devices get it as they connect.\n");
  return Status::Ok();
}

Status FilterList(const CliContext& ctx) {
  PREAU_ASSIGN_OR_RETURN(auto client, AdminClient::Connect(ctx.connection));
  v1::FilterService::Stub stub(client->channel());
  v1::ListFiltersResponse resp;
  PREAU_RETURN_IF_ERROR(client->Call([&](grpc::ClientContext* c) {
    return stub.List(c, v1::ListFiltersRequest(), &resp);
  }).Context("listing filter versions"));
  Table versions({{"version", "Version"},
                  {"current", "Current"},
                  {"source", "Source"},
                  {"imported_by", "Imported by"},
                  {"imported", "Imported"},
                  {"categories", "Categories"},
                  {"domains", "Domains"},
                  {"urls", "URLs"},
                  {"skipped", "Skipped"},
                  {"sha256", "SHA-256", Shown::kDataOnly},
                  {"size_bytes", "Size", Shown::kDataOnly}});
  for (const auto& v : resp.versions()) {
    versions.AddRow({Cell::Uint(v.version()), Cell::Bool(v.current()),
                     Cell::Text(Printable(v.source())), Cell::Text(Printable(v.imported_by())),
                     Cell::Time(v.imported_unix_ms()),
                     Cell::Uint(static_cast<uint64_t>(v.categories_size())),
                     Cell::Uint(v.domains()), Cell::Uint(v.urls()), Cell::Uint(v.skipped()),
                     Cell::Text(v.sha256()), Cell::Uint(v.size())});
  }
  if (ctx.format == OutputFormat::kCsv) {
    Print(ctx, versions.Render(ctx.format));
    return Status::Ok();
  }
  if (ctx.format == OutputFormat::kJson) {
    // Each version as an object, the current one with its categories.
    Json out = Json::Array();
    for (size_t i = 0; i < versions.size(); ++i) {
      Json v = versions.RowObject(i);
      Json cats = Json::Array();
      Table ct = CategoryTable(resp.versions(static_cast<int>(i)));
      for (size_t j = 0; j < ct.size(); ++j) cats.Add(ct.RowObject(j));
      v.Set("category_list", std::move(cats));
      out.Add(std::move(v));
    }
    Print(ctx, out.Dump() + "\n");
    return Status::Ok();
  }
  if (resp.versions_size() == 0) {
    Print(ctx, "No filter lists imported yet: run `preau filter import DIR`.\n");
    return Status::Ok();
  }
  Print(ctx, versions.Render(ctx.format));
  const v1::FilterVersion& cur = resp.versions(0);
  Table ct = CategoryTable(cur);
  Print(ctx, "\nCategories of version " + std::to_string(cur.version()) + " (" +
                 std::to_string(resp.snapshots()) + " device snapshots built):\n");
  Print(ctx, ct.Render(ctx.format));
  return Status::Ok();
}

Status FilterTest(const CliContext& ctx, const FilterTestOptions& o) {
  PREAU_ASSIGN_OR_RETURN(auto client, AdminClient::Connect(ctx.connection));
  v1::FilterService::Stub stub(client->channel());
  v1::TestFilterRequest req;
  req.set_target(o.target);
  req.set_group(o.group);
  v1::TestFilterResponse resp;
  PREAU_RETURN_IF_ERROR(client->Call([&](grpc::ClientContext* c) {
    return stub.Test(c, req, &resp);
  }).Context("testing " + o.target));
  std::vector<std::string> cats(resp.blocked_categories().begin(), resp.blocked_categories().end());
  Table t({{"target", "Target"},
           {"blocked", "Blocked"},
           {"rule", "Rule"},
           {"matched_entry", "Matched entry"},
           {"decision", "Decision", Shown::kDataOnly},
           {"group", "Group"},
           {"profile", "Profile"},
           {"blocked_categories", "Blocked categories"},
           {"safe_search", "Safe search"},
           {"filter_version", "Filter version"},
           {"warnings", "Warnings", Shown::kDataOnly}});
  std::vector<std::string> warnings(resp.warnings().begin(), resp.warnings().end());
  t.AddRow({Cell::Text(Printable(o.target)), Cell::Bool(resp.blocked()),
            Cell::OptionalText(resp.rule()), Cell::OptionalText(Printable(resp.matched_entry())),
            Cell::Text(Printable(resp.decision())), Cell::OptionalText(o.group),
            Cell::Text(Printable(resp.profile_source())), Cell::List(cats, "none"),
            Cell::Text(resp.safe_search()), Cell::Uint(resp.filter_version()),
            Cell::List(warnings, "-")});
  if (ctx.format == OutputFormat::kJson) {
    Print(ctx, t.RowObject(0).Dump() + "\n");
    return Status::Ok();
  }
  if (ctx.format == OutputFormat::kCsv) {
    Print(ctx, t.Render(ctx.format));
    return Status::Ok();
  }
  std::string verdict = resp.blocked() ? "BLOCKED" : "allowed";
  std::string why = resp.decision().empty() ? "no rule matches" : resp.decision();
  Print(ctx, Printable(o.target) + ": " + verdict + " — " + Printable(why) + "\n");
  Print(ctx, "profile: " + Printable(resp.profile_source()) +
                 (o.group.empty() ? "" : " for " + o.group) + "; blocked categories: " +
                 (cats.empty() ? "none" : [&] {
                   std::string s;
                   for (const auto& c : cats) s += (s.empty() ? "" : ", ") + c;
                   return s;
                 }()) + "; safe search " + resp.safe_search() + "; filter version " +
                 std::to_string(resp.filter_version()) + "\n");
  for (const auto& w : warnings) *ctx.err << "preau: warning: " << Printable(w) << "\n";
  return Status::Ok();
}

}  // namespace preau::cli

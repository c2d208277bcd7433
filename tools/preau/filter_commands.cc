#include "tools/preau/filter_commands.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "preau/v1/filter.grpc.pb.h"
#include "tools/preau/admin_client.h"
#include "tools/preau/output.h"

namespace preau::cli {

namespace fs = std::filesystem;

namespace {

constexpr size_t kChunk = 1 << 20;

struct ImportFile {
  std::string category;  // "" for global_usage
  std::string file;
  fs::path path;
};

// The files of a UT1 folder that the server reads, in a stable order.
Result<std::vector<ImportFile>> FilesOf(const std::string& dir) {
  std::vector<ImportFile> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return InvalidArgument(dir + " is not a folder");
  std::vector<fs::path> cats;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_directory() && fs::exists(e.path() / "domains")) cats.push_back(e.path());
  }
  if (ec) return InvalidArgument("cannot read " + dir + ": " + ec.message());
  std::sort(cats.begin(), cats.end());
  for (const auto& c : cats) {
    for (const char* f : {"domains", "urls", "usage"}) {
      if (fs::is_regular_file(c / f)) out.push_back({c.filename().string(), f, c / f});
    }
  }
  if (out.empty()) {
    return InvalidArgument(dir + " holds no category folder with a `domains` file: give the "
                           "UT1 folder (e.g. blacklists/)");
  }
  if (fs::is_regular_file(fs::path(dir) / "global_usage")) {
    out.push_back({"", "global_usage", fs::path(dir) / "global_usage"});
  }
  return out;
}

Table CategoryTable() {
  return Table({{"name", "Category"},
                {"type", "Type"},
                {"domains", "Domains"},
                {"domain_lines", "Domain lines", Shown::kDataOnly},
                {"urls", "URLs"},
                {"url_lines", "URL lines", Shown::kDataOnly},
                {"skipped", "Skipped"},
                {"skipped_reasons", "Skipped reasons", Shown::kDataOnly},
                {"description", "Description", Shown::kDataOnly}});
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
  PREAU_ASSIGN_OR_RETURN(auto files, FilesOf(o.dir));
  uint64_t total = 0;
  for (const auto& f : files) total += fs::file_size(f.path);
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
  bool open = writer->Write(start);
  Status local;
  for (const auto& f : files) {
    if (!open) break;
    std::ifstream in(f.path, std::ios::binary);
    if (!in) {
      local = InvalidArgument("cannot read " + f.path.string() + ": " + std::strerror(errno));
      call.TryCancel();
      break;
    }
    v1::ImportFilterRequest req;
    auto* c = req.mutable_chunk();
    c->set_category(f.category);
    c->set_file(f.file);
    std::string* buf = c->mutable_data();
    while (open) {
      buf->resize(kChunk);
      in.read(buf->data(), static_cast<std::streamsize>(buf->size()));
      buf->resize(static_cast<size_t>(in.gcount()));
      bool last = !in || in.peek() == std::char_traits<char>::eof();
      c->set_last(last);
      open = writer->Write(req);
      if (last) break;
    }
  }
  if (open) writer->WritesDone();
  grpc::Status s = writer->Finish();
  if (!local.ok()) return local.Context("importing " + o.dir);
  if (!s.ok()) return client->Explain(s).Context("importing " + o.dir);

  const v1::FilterVersion& v = resp.version();
  Table t = CategoryTable();
  for (const auto& c : v.categories()) t.AddRow(CategoryRow(c));
  if (ctx.format != OutputFormat::kTable) {
    Print(ctx, t.Render(ctx.format));
    return Status::Ok();
  }
  Print(ctx, t.Render(ctx.format));
  Print(ctx, SkippedText(v));
  Print(ctx, "Imported version " + std::to_string(v.version()) + ": " +
                 std::to_string(v.domains()) + " domains and " + std::to_string(v.urls()) +
                 " URLs in " + std::to_string(v.categories_size()) + " categories, " +
                 std::to_string(v.skipped()) + " lines skipped. Devices get it as they connect.\n");
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
      Table ct = CategoryTable();
      for (const auto& c : resp.versions(static_cast<int>(i)).categories()) ct.AddRow(CategoryRow(c));
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
  Table ct = CategoryTable();
  for (const auto& c : cur.categories()) ct.AddRow(CategoryRow(c));
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

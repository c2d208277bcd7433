#include "server/filter/filter_service.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "common/grpc_status.h"
#include "server/admin/admin_service.h"
#include "server/admin/authz.h"
#include "server/admin/operator_call.h"
#include "server/pki/peer.h"

namespace preau::server {

namespace fs = std::filesystem;

namespace {

Status CheckCategoryName(const std::string& name) {
  if (name.empty() || name.size() > 64 || name[0] == '.') {
    return InvalidArgument("category folder name '" + name + "': 1 to 64 characters, not "
                           "starting with '.'");
  }
  for (unsigned char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) {
      return InvalidArgument("category folder name '" + name +
                             "': use letters, digits, '_', '-' and '.' only");
    }
  }
  return Status::Ok();
}

Status CheckFile(const std::string& category, const std::string& file) {
  if (category.empty()) {
    if (file == "global_usage") return Status::Ok();
    return InvalidArgument("file '" + file + "' without a category: only global_usage sits "
                           "at the top of a UT1 folder");
  }
  PREAU_RETURN_IF_ERROR(CheckCategoryName(category));
  if (file == "domains" || file == "urls" || file == "usage") return Status::Ok();
  return InvalidArgument(category + "/" + file + ": a category holds only domains, urls "
                         "and usage");
}

std::string IncomingRoot(const std::string& data_dir) { return data_dir + "/filter/incoming"; }

}  // namespace

// One import: the start message, then the folder's files in chunks, written to a private
// folder under DATA/filter/incoming as they come (one chunk in memory at a time), then
// read and compiled on the publisher's import thread (tens of seconds for the whole UT1
// set: never on a gRPC thread), which finishes the call. The one import slot is claimed
// before anything is received, so a second import is refused at once. Owns itself;
// deleted in OnDone.
class FilterServiceImpl::ImportReactor final
    : public grpc::ServerReadReactor<v1::ImportFilterRequest> {
 public:
  ImportReactor(FilterServiceImpl& service, grpc::CallbackServerContext* ctx,
                v1::ImportFilterResponse* resp)
      : service_(service), resp_(resp), ctx_(ctx),
        call_(service.core_, *ctx, "FilterService.Import", "") {
    if (!call_.admitted().ok()) {
      Fail(call_.admitted());
      return;
    }
    operator_ = call_.op().name;
    auto claim = service_.publisher_.ClaimImport();
    if (!claim.ok()) {
      Fail(claim.status());
      return;
    }
    claim_ = std::move(*claim);
    static std::atomic<uint64_t> counter{0};
    dir_ = IncomingRoot(service_.core_.data_dir) + "/" + std::to_string(service_.core_.Now()) +
           "-" + std::to_string(counter++);
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) {
      Fail(Internal("creating " + dir_ + ": " + ec.message()));
      return;
    }
    // Revoked mid-import: the stream is cancelled at once and the import refused.
    call_.AbortOnRevocation([this](const Status& why) {
      {
        std::lock_guard<std::mutex> lock(revoked_mu_);
        revoked_ = why;
      }
      ctx_->TryCancel();
    });
    StartRead(&req_);
  }

  ~ImportReactor() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  void OnReadDone(bool ok) override {
    if (!ok) return Complete();
    Status st = Take();
    if (!st.ok()) return Fail(st);
    StartRead(&req_);
  }
  void OnCancel() override { cancelled_ = true; }
  void OnDone() override { delete this; }

 private:
  Status Take() {
    if (req_.has_start()) {
      if (started_) return InvalidArgument("the import's start message may come only once");
      started_ = true;
      source_ = ValidUtf8(req_.start().source().substr(0, 200));
      call_.set_target(source_);
      force_ = req_.start().force();
      return Status::Ok();
    }
    if (!started_) return InvalidArgument("an import must begin with its start message");
    const v1::ImportFilterChunk& c = req_.chunk();
    std::string key = c.category() + "/" + c.file();
    if (key != open_key_) {
      PREAU_RETURN_IF_ERROR(CheckFile(c.category(), c.file()));
      if (!seen_.insert(key).second) {
        return InvalidArgument(key + " came twice (or its pieces were interleaved)");
      }
      if (seen_.size() > kMaxFilterImportFiles) {
        return InvalidArgument("more than " + std::to_string(kMaxFilterImportFiles) + " files");
      }
      out_.close();
      fs::path path = c.category().empty() ? fs::path(dir_) / c.file()
                                           : fs::path(dir_) / c.category() / c.file();
      std::error_code ec;
      fs::create_directories(path.parent_path(), ec);
      out_.open(path, std::ios::binary | std::ios::trunc);
      if (!out_) return Internal("cannot write " + path.string() + " on the server");
      open_key_ = key;
    }
    total_ += c.data().size();
    if (total_ > kMaxFilterImportBytes) {
      return InvalidArgument("the import is larger than the server accepts (2 GiB)");
    }
    out_.write(c.data().data(), static_cast<std::streamsize>(c.data().size()));
    if (!out_) return ResourceExhausted("writing " + key + " on the server failed (disk full?)");
    if (c.last()) {
      out_.close();
      open_key_.clear();
    }
    return Status::Ok();
  }

  void Complete() {
    if (Status why = Revoked(); !why.ok()) return Fail(why);
    if (cancelled_) return Fail(Unavailable("the import was cancelled by the client"));
    if (!started_) return Fail(InvalidArgument("the import carried nothing"));
    out_.close();
    // The rest runs on the import thread. A revocation from now on ends the client's call
    // (cancelled) but not the import it handed over while it had the right to.
    service_.publisher_.ImportAsync(
        std::move(claim_), dir_, source_, operator_, force_,
        [this](Result<v1::FilterVersion> version) { Imported(std::move(version)); },
        [this](const std::function<Status()>& work) {
          // The audit row commits with the import's new version.
          return call_.Run([&](const OperatorRecord&) { return work(); });
        });
  }

  Status Revoked() {
    std::lock_guard<std::mutex> lock(revoked_mu_);
    return revoked_;
  }

  // On the import thread; the last thing it does with this reactor.
  void Imported(Result<v1::FilterVersion> version) {
    if (!version.ok()) return Fail(version.status());
    *resp_->mutable_version() = std::move(*version);
    call_.Finish(Status::Ok());
    Finish(grpc::Status::OK);
  }

  void Fail(const Status& st) {
    call_.Finish(st);
    out_.close();
    Finish(ToGrpc(st));
  }

  FilterServiceImpl& service_;
  v1::ImportFilterResponse* resp_;
  grpc::CallbackServerContext* ctx_;
  OperatorCall call_;
  std::mutex revoked_mu_;
  Status revoked_;  // set if the operator is revoked during the upload
  std::unique_ptr<ImportClaim> claim_;  // until handed to the import thread
  std::string operator_;
  std::string dir_;
  std::string source_;
  v1::ImportFilterRequest req_;
  std::ofstream out_;
  std::string open_key_;
  std::set<std::string> seen_;
  uint64_t total_ = 0;
  bool started_ = false;
  bool force_ = false;
  bool cancelled_ = false;
};

grpc::ServerReadReactor<v1::ImportFilterRequest>* FilterServiceImpl::Import(
    grpc::CallbackServerContext* ctx, v1::ImportFilterResponse* resp) {
  return new ImportReactor(*this, ctx, resp);
}

grpc::ServerUnaryReactor* FilterServiceImpl::List(grpc::CallbackServerContext* ctx,
                                                  const v1::ListFiltersRequest*,
                                                  v1::ListFiltersResponse* resp) {
  return RunAdminCall(core_, ctx, "FilterService.List", "", [&](const OperatorRecord& op) -> Status {
    PREAU_ASSIGN_OR_RETURN(auto imports, records_.Imports());
    bool first = true;
    for (auto& r : imports) {
      v1::FilterVersion v = std::move(r.summary);
      v.set_version(r.version);
      v.set_current(first);
      if (!first) v.clear_categories();
      // Skipped lines are the imported files' own text: for the admins who import them,
      // not for every operator who may list what is loaded.
      if (op.role != v1::ROLE_ADMIN) {
        for (auto& c : *v.mutable_categories()) c.clear_skipped_reasons();
      }
      first = false;
      *resp->add_versions() = std::move(v);
    }
    PREAU_ASSIGN_OR_RETURN(uint64_t n, records_.SnapshotCount());
    resp->set_snapshots(n);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* FilterServiceImpl::Rollback(grpc::CallbackServerContext* ctx,
                                                      const v1::RollbackFilterRequest* req,
                                                      v1::ImportFilterResponse* resp) {
  return RunAdminCall(core_, ctx, "FilterService.Rollback", "version " + std::to_string(req->version()),
                      [&](const OperatorRecord& op) -> Status {
    PREAU_ASSIGN_OR_RETURN(auto claim, publisher_.ClaimImport());
    PREAU_ASSIGN_OR_RETURN(*resp->mutable_version(), publisher_.Rollback(req->version(), op.name));
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* FilterServiceImpl::Test(grpc::CallbackServerContext* ctx,
                                                  const v1::TestFilterRequest* req,
                                                  v1::TestFilterResponse* resp) {
  return RunAdminCall(core_, ctx, "FilterService.Test", req->group(), [&](const OperatorRecord& op) -> Status {
    if (req->target().empty()) return InvalidArgument("nothing to test: give a domain or a URL");
    if (req->target().size() > 2048) return InvalidArgument("the URL is longer than 2048 bytes");
    // Without --group: the authority's own profile, for whoever covers the authority.
    PREAU_RETURN_IF_ERROR(RequireScope(op, req->group()));
    if (!req->group().empty()) {
      PREAU_RETURN_IF_ERROR(ValidateGroupPath(req->group()));
      if (!core_.store->GroupExists(req->group())) {
        return NotFound("no group '" + req->group() + "'");
      }
    }
    PREAU_ASSIGN_OR_RETURN(auto current, publisher_.Current());
    if (!current.first) {
      return FailedPrecondition("no filter lists yet: run `preau filter import DIR` first");
    }
    PREAU_ASSIGN_OR_RETURN(ResolvedFilterProfile rp, GroupFilterProfile(policies_, req->group()));
    std::vector<std::string> unknown;
    filter::FilterProfile profile = FilterPublisher::KnownOnly(rp.profile, *current.first, &unknown);
    std::vector<std::string> names;
    for (const auto& c : current.first->categories()) names.push_back(c.name);
    PREAU_ASSIGN_OR_RETURN(auto compiled, filter::CompiledProfile::Compile(profile, names));
    const std::string& t = req->target();
    bool is_url = t.find('/') != std::string::npos || t.find("://") != std::string::npos;
    filter::Decision d = is_url ? current.first->matcher().DecideUrl(t, compiled)
                                : current.first->matcher().Decide(t, compiled);
    resp->set_blocked(d.blocked);
    resp->set_rule(d.rule);
    resp->set_matched_entry(d.matched_entry);
    resp->set_decision(d.ToString());
    resp->set_profile_source(rp.source);
    for (const auto& c : profile.blocked_categories) resp->add_blocked_categories(c);
    resp->set_filter_version(current.second);
    for (const auto& u : unknown) {
      resp->add_warnings("the policy blocks category '" + u +
                         "', which the imported lists do not have");
    }
    resp->set_safe_search(profile.safe_search ? "on" : "off");
    return Status::Ok();
  });
}

Status RegisterFilterDomain(DomainRegistry& registry) {
  const std::string& dir = registry.core().data_dir;
  std::error_code ec;
  fs::remove_all(IncomingRoot(dir), ec);  // what a crash left behind
  fs::create_directories(dir + "/artifacts", ec);
  if (ec) return Internal("creating " + dir + "/artifacts: " + ec.message());
  auto* domain = registry.Keep(std::make_shared<FilterDomain>(registry.core()));
  registry.AddService(domain->service());
  registry.AddFeature(domain);
  domain->publisher().Start();
  return Status::Ok();
}

}  // namespace preau::server

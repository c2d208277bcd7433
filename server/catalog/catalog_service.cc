#include "server/catalog/catalog_service.h"

#include <cctype>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string_view>

#include "common/grpc_status.h"
#include "server/admin/admin_service.h"
#include "server/admin/authz.h"
#include "server/admin/operator_call.h"
#include "server/catalog/artifact_sink.h"
#include "server/catalog/package_check.h"
#include "server/pki/peer.h"

namespace preau::server {

namespace {

constexpr size_t kMaxAppStatusEntries = 1000;

bool Allowed(const std::string& s, const char* extra) {
  for (unsigned char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view(extra).find(static_cast<char>(c)) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

Status CheckText(const std::string& field, const std::string& value, size_t max) {
  if (value.size() > max) {
    return InvalidArgument(field + " is longer than " + std::to_string(max) + " bytes");
  }
  for (unsigned char c : value) {
    if (c < 0x20 && c != '\n' && c != '\t') {
      return InvalidArgument(field + " holds a control character");
    }
  }
  return Status::Ok();
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string StripVersion(const std::string& app) { return app.substr(0, app.find('@')); }

}  // namespace

Status NormalizeMetadata(v1::AppMetadata* m) {
  if (m->name().empty() || m->name().size() > 128 || !Allowed(m->name(), "._-") ||
      !std::isalnum(static_cast<unsigned char>(m->name()[0]))) {
    return InvalidArgument("app name '" + m->name() +
                           "': use the platform's package name, 1 to 128 letters, digits, "
                           "'.', '_' or '-', starting with a letter or digit "
                           "(e.g. fr.lumni.android)");
  }
  // ':' is a Debian epoch ("1:2.0"); nothing here is ever read by a shell, but a version
  // is shown and compared everywhere, so it stays plain.
  if (m->version().empty() || m->version().size() > 64 || !Allowed(m->version(), "._+~:-") ||
      !std::isalnum(static_cast<unsigned char>(m->version()[0]))) {
    return InvalidArgument("app version '" + m->version() +
                           "': use 1 to 64 letters, digits, '.', '_', '+', '~', ':' or '-', "
                           "starting with a letter or digit");
  }
  if (m->platform().empty()) {
    const std::string& f = m->file_name();
    m->set_platform(EndsWith(f, ".apk")   ? "android"
                    : EndsWith(f, ".deb") || EndsWith(f, ".flatpak") ? "linux"
                    : EndsWith(f, ".json") || EndsWith(f, ".webmanifest") ? "web"
                                                                         : "any");
  }
  static const std::set<std::string> kPlatforms = {"android", "linux", "web", "any"};
  if (!kPlatforms.count(m->platform())) {
    return InvalidArgument("platform '" + m->platform() + "': expected android, linux, web or any");
  }
  PREAU_RETURN_IF_ERROR(CheckText("category", m->category(), 64));
  PREAU_RETURN_IF_ERROR(CheckText("publisher", m->publisher(), 128));
  PREAU_RETURN_IF_ERROR(CheckText("title", m->title(), 128));
  PREAU_RETURN_IF_ERROR(CheckText("description", m->description(), 4096));
  PREAU_RETURN_IF_ERROR(CheckText("file name", m->file_name(), 255));
  if (m->minimum_age() > 21) return InvalidArgument("minimum age must be 0 to 21");
  if (m->size() == 0) return InvalidArgument("the package is empty (size 0)");
  if (m->size() > kMaxPackageBytes) {
    return InvalidArgument("the package is larger than the server accepts (4 GiB)");
  }
  if (!m->sha256().empty() && (m->sha256().size() != 64 || !Allowed(m->sha256(), ""))) {
    return InvalidArgument("sha256 must be 64 hex digits");
  }
  return Status::Ok();
}

// One upload: the metadata, then chunks written to an ArtifactSink as they come. gRPC
// delivers the next message only after the previous OnReadDone returned, so at most one
// chunk is held. Owns itself; deleted in OnDone.
class CatalogServiceImpl::UploadReactor final
    : public grpc::ServerReadReactor<v1::UploadAppRequest> {
 public:
  UploadReactor(CatalogServiceImpl& service, grpc::CallbackServerContext* ctx,
                v1::AppVersion* resp)
      : service_(service), resp_(resp), ctx_(ctx),
        call_(service.core_, *ctx, "CatalogService.Upload", "") {
    if (!call_.admitted().ok()) {
      Fail(call_.admitted());
      return;
    }
    operator_ = call_.op().name;
    // Revoked mid-upload: the stream is cancelled at once and the upload refused.
    call_.AbortOnRevocation([this](const Status& why) {
      {
        std::lock_guard<std::mutex> lock(revoked_mu_);
        revoked_ = why;
      }
      ctx_->TryCancel();
    });
    StartRead(&req_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Complete();
      return;
    }
    Status st = sink_ ? TakeChunk() : TakeMetadata();
    if (!st.ok()) {
      Fail(st);
      return;
    }
    StartRead(&req_);
  }

  void OnCancel() override { cancelled_ = true; }
  void OnDone() override { delete this; }

 private:
  Status TakeMetadata() {
    if (!req_.has_metadata()) {
      return InvalidArgument("the upload must start with the app's metadata");
    }
    meta_ = req_.metadata();
    platform_given_ = !meta_.platform().empty();
    target_ = AppVersionId(meta_.name(), meta_.version());
    call_.set_target(target_);
    PREAU_RETURN_IF_ERROR(NormalizeMetadata(&meta_));
    // Refuse a known version before receiving hundreds of megabytes.
    if (service_.store_.GetVersion(target_).ok()) {
      return AlreadyExists("app version '" + target_ +
                           "' was already uploaded; upload it as a new version");
    }
    PREAU_ASSIGN_OR_RETURN(sink_, ArtifactSink::Create(service_.core_.data_dir, meta_.size()));
    return Status::Ok();
  }

  Status TakeChunk() {
    if (!req_.has_chunk()) return InvalidArgument("metadata may come only once, first");
    if (req_.chunk().size() > meta_.size() - sink_->size()) {
      return InvalidArgument("more bytes came than the declared size (" +
                             std::to_string(meta_.size()) + ")");
    }
    Status st = sink_->Append(req_.chunk());
    req_.clear_chunk();
    return st;
  }

  void Complete() {
    if (Status why = Revoked(); !why.ok()) return Fail(why);
    if (cancelled_) return Fail(Unavailable("the upload was cancelled by the client"));
    if (!sink_) return Fail(InvalidArgument("the upload carried no metadata"));
    if (sink_->size() != meta_.size()) {
      return Fail(InvalidArgument("upload incomplete: " + std::to_string(sink_->size()) +
                                  " of " + std::to_string(meta_.size()) + " bytes came"));
    }
    // The package must be what the operator said it is before it enters the store.
    Status checked = CheckUploadedPackage(sink_->temp_path(), platform_given_, &meta_);
    if (!checked.ok()) return Fail(checked);
    auto sha = sink_->Commit();
    if (!sha.ok()) return Fail(sha.status());
    if (!meta_.sha256().empty() && meta_.sha256() != *sha) {
      return Fail(DataLoss("the package's SHA-256 is " + *sha + ", not " + meta_.sha256() +
                           " as announced: it was damaged on the way"));
    }
    call_.set_detail("sha256 " + *sha + ", " + std::to_string(sink_->size()) + " bytes");
    // The audit row commits with the version.
    Status st = call_.Run([&](const OperatorRecord& op) -> Status {
      PREAU_ASSIGN_OR_RETURN(*resp_, service_.store_.InsertVersion(meta_, *sha, sink_->size(),
                                                                   op.name,
                                                                   service_.core_.Now()));
      return Status::Ok();
    });
    if (!st.ok()) return Fail(st);
    call_.Finish(st);
    Finish(grpc::Status::OK);
  }

  Status Revoked() {
    std::lock_guard<std::mutex> lock(revoked_mu_);
    return revoked_;
  }

  void Fail(const Status& st) {
    call_.Finish(st);
    sink_.reset();
    Finish(ToGrpc(st));
  }

  CatalogServiceImpl& service_;
  v1::AppVersion* resp_;
  grpc::CallbackServerContext* ctx_;
  OperatorCall call_;
  std::mutex revoked_mu_;
  Status revoked_;  // set if the operator is revoked during the upload
  std::string operator_;
  std::string target_;
  v1::UploadAppRequest req_;
  v1::AppMetadata meta_;
  std::unique_ptr<ArtifactSink> sink_;
  bool platform_given_ = false;
  bool cancelled_ = false;
};

grpc::ServerReadReactor<v1::UploadAppRequest>* CatalogServiceImpl::Upload(
    grpc::CallbackServerContext* ctx, v1::AppVersion* resp) {
  return new UploadReactor(*this, ctx, resp);
}

grpc::ServerUnaryReactor* CatalogServiceImpl::Review(grpc::CallbackServerContext* ctx,
                                                     const v1::ReviewAppRequest* req,
                                                     v1::AppVersion* resp) {
  std::string target =
      req->id() + (req->approve() ? ": approve" : ": reject (" + req->reason() + ")");
  return RunAdminCall(core_, ctx, "CatalogService.Review", target, [&](const OperatorRecord& op) {
    PREAU_RETURN_IF_ERROR(CheckText("reason", req->reason(), 1024));
    PREAU_ASSIGN_OR_RETURN(auto before, store_.GetVersion(req->id()));
    // Separation of duties: nobody reviews what they uploaded, nor what was uploaded by
    // the operator who appointed them.
    if (before.uploaded_by() == op.name) {
      return PermissionDenied("operator '" + op.name + "' uploaded " + req->id() +
                              " and may not review it (separation of duties)");
    }
    if (!op.created_by.empty() && before.uploaded_by() == op.created_by) {
      return PermissionDenied("operator '" + op.name + "' was created by '" + op.created_by +
                              "', who uploaded " + req->id() +
                              ", and may not review it (separation of duties)");
    }
    PREAU_ASSIGN_OR_RETURN(*resp, store_.Review(req->id(), req->approve(), req->reason(),
                                                op.name, core_.Now()));
    // A withdrawn version leaves the catalogues it was in.
    if (before.state() == v1::REVIEW_STATE_APPROVED && !req->approve()) {
      PREAU_ASSIGN_OR_RETURN(auto groups, store_.GroupsAssigned(req->id()));
      for (const auto& g : groups) publisher_.PushToGroup(g);
    }
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* CatalogServiceImpl::Assign(grpc::CallbackServerContext* ctx,
                                                     const v1::AssignAppRequest* req,
                                                     v1::AppAssignment* resp) {
  std::string target = req->id() + " to " + req->group() +
                       (req->required() ? " (required)" : " (optional)");
  return RunAdminCall(core_, ctx, "CatalogService.Assign", target, [&](const OperatorRecord& op) {
    PREAU_RETURN_IF_ERROR(ValidateGroupPath(req->group()));
    PREAU_RETURN_IF_ERROR(RequireScope(op, req->group()));
    PREAU_ASSIGN_OR_RETURN(*resp, store_.Assign(req->id(), req->group(), req->required(),
                                                op.name, core_.Now()));
    publisher_.PushToGroup(req->group());
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* CatalogServiceImpl::Unassign(grpc::CallbackServerContext* ctx,
                                                       const v1::UnassignAppRequest* req,
                                                       v1::UnassignAppResponse* resp) {
  std::string name = StripVersion(req->app());
  return RunAdminCall(core_, ctx, "CatalogService.Unassign", name + " from " + req->group(),
                      [&](const OperatorRecord& op) {
    PREAU_RETURN_IF_ERROR(ValidateGroupPath(req->group()));
    PREAU_RETURN_IF_ERROR(RequireScope(op, req->group()));
    PREAU_ASSIGN_OR_RETURN(*resp->mutable_removed(), store_.Unassign(name, req->group()));
    publisher_.PushToGroup(req->group());
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* CatalogServiceImpl::List(grpc::CallbackServerContext* ctx,
                                                   const v1::ListAppsRequest* req,
                                                   v1::ListAppsResponse* resp) {
  return RunAdminCall(core_, ctx, "CatalogService.List", req->name(), [&](const OperatorRecord& op) {
    PREAU_ASSIGN_OR_RETURN(auto versions, store_.List(StripVersion(req->name())));
    for (auto& v : versions) {
      // Assignments outside the caller's scopes are not its business.
      auto* a = v.mutable_assignments();
      for (int i = a->size() - 1; i >= 0; --i) {
        if (!InScope(op, a->Get(i).group())) a->DeleteSubrange(i, 1);
      }
      *resp->add_versions() = std::move(v);
    }
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* CatalogServiceImpl::DeviceStatus(
    grpc::CallbackServerContext* ctx, const v1::AppDeviceStatusRequest* req,
    v1::AppDeviceStatusResponse* resp) {
  return RunAdminCall(core_, ctx, "CatalogService.DeviceStatus", req->group(), [&](const OperatorRecord& op) {
    if (!req->group().empty()) {
      PREAU_RETURN_IF_ERROR(ValidateGroupPath(req->group()));
      PREAU_RETURN_IF_ERROR(RequireScope(op, req->group()));
    }
    PREAU_ASSIGN_OR_RETURN(auto devices, core_.store->ListDevices(req->group(), false));
    std::map<std::string, const DeviceRecord*> by_id;
    for (const auto& d : devices) {
      if (InScope(op, d.group)) by_id[d.id] = &d;
    }
    PREAU_ASSIGN_OR_RETURN(auto rows, store_.StatusOf(StripVersion(req->app())));
    for (auto& r : rows) {
      auto it = by_id.find(r.device_id);
      if (it == by_id.end()) continue;
      auto* out = resp->add_devices();
      out->set_device_id(r.device_id);
      out->set_device_name(it->second->name);
      out->set_group(it->second->group);
      *out->mutable_status() = std::move(r.status);
      out->set_reported_unix_ms(r.reported_ms);
    }
    return Status::Ok();
  });
}

bool CatalogDomain::MayFetch(const DeviceRecord& device, const std::string& sha256) {
  auto catalogue = publisher_.Resolve(device.group);
  if (!catalogue.ok()) return false;
  for (const auto& app : catalogue->apps()) {
    if (app.sha256() == sha256) return true;
  }
  return false;
}

Status CatalogDomain::OnMessage(const std::string& device_id, const v1::AgentMessage& msg) {
  if (msg.app_status().apps_size() > static_cast<int>(kMaxAppStatusEntries)) {
    return InvalidArgument("app status report with more than 1000 apps");
  }
  return store_.RecordStatus(device_id, msg.app_status(), core_.Now());
}

Status RegisterCatalogDomain(DomainRegistry& registry) {
  const std::string& dir = registry.core().data_dir;
  std::error_code ec;
  std::filesystem::create_directories(dir + "/artifacts", ec);
  if (ec) return Internal("creating " + dir + "/artifacts: " + ec.message());
  ArtifactSink::CleanIncoming(dir);
  auto* domain = registry.Keep(std::make_shared<CatalogDomain>(registry.core()));
  registry.AddService(domain->service());
  registry.AddFeature(domain);
  return Status::Ok();
}

}  // namespace preau::server

// The app store on the server: the operators' CatalogService (upload, review, assign,
// unassign, list, device status) and its hooks on device streams (a hello gets the
// device its catalogue; app status reports are stored). RegisterCatalogDomain plugs it in
// (server/domains.cc).
//
// Who may do what: an admin uploads, and assigns within its scopes; a reviewer reviews
// (nobody else: the academic services decide what reaches pupils); anyone may list. Every
// state-changing call is audited ("app.upload", "app.review", "app.assign",
// "app.unassign"), refusals included.
#pragma once

#include "preau/v1/catalog.grpc.pb.h"
#include "server/catalog/catalog_publisher.h"
#include "server/catalog/catalog_store.h"
#include "server/domains.h"
#include "server/server_core.h"

namespace preau::server {

// The largest package accepted (an Android game-size APK is far below; a Linux office
// suite .deb is about 300 MB).
inline constexpr uint64_t kMaxPackageBytes = 4ull << 30;

// Checks an upload's metadata and fills what can be derived (platform from the file name,
// title from the name). InvalidArgument names the field at fault.
Status NormalizeMetadata(v1::AppMetadata* m);

class CatalogServiceImpl final : public v1::CatalogService::CallbackService {
 public:
  CatalogServiceImpl(ServerCore& core, CatalogStore& store, CatalogPublisher& publisher)
      : core_(core), store_(store), publisher_(publisher) {}

  grpc::ServerReadReactor<v1::UploadAppRequest>* Upload(grpc::CallbackServerContext* ctx,
                                                        v1::AppVersion* resp) override;
  grpc::ServerUnaryReactor* Review(grpc::CallbackServerContext* ctx,
                                   const v1::ReviewAppRequest* req,
                                   v1::AppVersion* resp) override;
  grpc::ServerUnaryReactor* Assign(grpc::CallbackServerContext* ctx,
                                   const v1::AssignAppRequest* req,
                                   v1::AppAssignment* resp) override;
  grpc::ServerUnaryReactor* Unassign(grpc::CallbackServerContext* ctx,
                                     const v1::UnassignAppRequest* req,
                                     v1::UnassignAppResponse* resp) override;
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* ctx,
                                 const v1::ListAppsRequest* req,
                                 v1::ListAppsResponse* resp) override;
  grpc::ServerUnaryReactor* DeviceStatus(grpc::CallbackServerContext* ctx,
                                         const v1::AppDeviceStatusRequest* req,
                                         v1::AppDeviceStatusResponse* resp) override;

 private:
  class UploadReactor;
  ServerCore& core_;
  CatalogStore& store_;
  CatalogPublisher& publisher_;
};

class CatalogDomain final : public DeviceFeature {
 public:
  explicit CatalogDomain(ServerCore& core)
      : core_(core), store_(*core.store), publisher_(core, store_),
        service_(core, store_, publisher_) {}

  CatalogServiceImpl* service() { return &service_; }
  CatalogPublisher& publisher() { return publisher_; }

  void OnHello(const std::string& device_id, const v1::Hello& hello) override {
    publisher_.OnHello(device_id, hello.catalog_version());
  }
  bool Handles(v1::AgentMessage::BodyCase body) const override {
    return body == v1::AgentMessage::kAppStatus;
  }
  Status OnMessage(const std::string& device_id, const v1::AgentMessage& msg) override;
  // An app version in the device's catalogue (assigned, approved, along its group chain).
  bool MayFetch(const DeviceRecord& device, const std::string& sha256) override;

 private:
  ServerCore& core_;
  CatalogStore store_;
  CatalogPublisher publisher_;
  CatalogServiceImpl service_;
};

Status RegisterCatalogDomain(DomainRegistry& registry);

}  // namespace preau::server

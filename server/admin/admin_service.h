// AdminService: the fleet part of the operators' API — groups, enrollment tokens,
// devices, operators and the audit log. Each call goes through RunAdminCall (the
// permission table, the audit row in the change's transaction) and checks the group it
// acts on (authz.h).
#pragma once

#include <functional>

#include "preau/v1/admin.grpc.pb.h"
#include "server/admin/operator_call.h"
#include "server/server_core.h"

namespace preau::server {

class AdminServiceImpl final : public v1::AdminService::CallbackService {
 public:
  explicit AdminServiceImpl(ServerCore& core) : core_(core) {}

  grpc::ServerUnaryReactor* WhoAmI(grpc::CallbackServerContext*, const v1::WhoAmIRequest*,
                                   v1::Operator*) override;
  grpc::ServerUnaryReactor* CreateGroup(grpc::CallbackServerContext*,
                                        const v1::CreateGroupRequest*, v1::Group*) override;
  grpc::ServerUnaryReactor* ListGroups(grpc::CallbackServerContext*,
                                       const v1::ListGroupsRequest*,
                                       v1::ListGroupsResponse*) override;
  grpc::ServerUnaryReactor* RenameGroup(grpc::CallbackServerContext*,
                                        const v1::RenameGroupRequest*, v1::Group*) override;
  grpc::ServerUnaryReactor* DeleteGroup(grpc::CallbackServerContext*,
                                        const v1::DeleteGroupRequest*,
                                        v1::DeleteGroupResponse*) override;
  grpc::ServerUnaryReactor* CreateToken(grpc::CallbackServerContext*,
                                        const v1::CreateTokenRequest*,
                                        v1::CreateTokenResponse*) override;
  grpc::ServerUnaryReactor* ListDevices(grpc::CallbackServerContext*,
                                        const v1::ListDevicesRequest*,
                                        v1::ListDevicesResponse*) override;
  grpc::ServerUnaryReactor* GetDevice(grpc::CallbackServerContext*, const v1::GetDeviceRequest*,
                                      v1::Device*) override;
  grpc::ServerUnaryReactor* MoveDevice(grpc::CallbackServerContext*,
                                       const v1::MoveDeviceRequest*, v1::Device*) override;
  grpc::ServerUnaryReactor* RetireDevice(grpc::CallbackServerContext*,
                                         const v1::RetireDeviceRequest*, v1::Device*) override;
  grpc::ServerUnaryReactor* ResendPolicy(grpc::CallbackServerContext*,
                                         const v1::ResendPolicyRequest*, v1::Device*) override;
  grpc::ServerUnaryReactor* RestartAgent(grpc::CallbackServerContext*,
                                         const v1::RestartAgentRequest*, v1::Device*) override;
  grpc::ServerUnaryReactor* CreateOperator(grpc::CallbackServerContext*,
                                           const v1::CreateOperatorRequest*,
                                           v1::CreateOperatorResponse*) override;
  grpc::ServerUnaryReactor* ListOperators(grpc::CallbackServerContext*,
                                          const v1::ListOperatorsRequest*,
                                          v1::ListOperatorsResponse*) override;
  grpc::ServerUnaryReactor* GetOperator(grpc::CallbackServerContext*,
                                        const v1::GetOperatorRequest*, v1::Operator*) override;
  grpc::ServerUnaryReactor* RevokeOperator(grpc::CallbackServerContext*,
                                           const v1::RevokeOperatorRequest*,
                                           v1::Operator*) override;
  grpc::ServerUnaryReactor* RenewOperator(grpc::CallbackServerContext*,
                                          const v1::RenewOperatorRequest*,
                                          v1::CreateOperatorResponse*) override;
  grpc::ServerUnaryReactor* ListAudit(grpc::CallbackServerContext*,
                                      const v1::ListAuditRequest*,
                                      v1::ListAuditResponse*) override;

 private:
  ServerCore& core_;
};

// The wire form of a device, with whether it is connected now.
v1::Device DeviceToProto(const DeviceRecord& d, bool online);

}  // namespace preau::server

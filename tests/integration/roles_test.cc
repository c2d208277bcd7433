// Roles end to end: every role × every operators' RPC × a group inside / outside its scope
// (and, for the periscolaire role, inside / outside its hours on the server's injected
// clock), against the real server over real mTLS with real agents, each operator with its
// own certificate. Each call must be allowed or refused exactly as the permission table
// (server/admin/permissions.cc) says, and every refusal must be in the audit log with its
// reason. The same table generates the README's; a test checks they agree, and another
// that every RPC of every operators' service has a row (an RPC without one is refused).
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "common/credentials.h"
#include "common/pki.h"
#include "common/roles.h"
#include "preau/v1/catalog.grpc.pb.h"
#include "preau/v1/command.grpc.pb.h"
#include "preau/v1/console.grpc.pb.h"
#include "preau/v1/device.grpc.pb.h"
#include "preau/v1/filter.grpc.pb.h"
#include "preau/v1/policy.grpc.pb.h"
#include "preau/v1/usage.grpc.pb.h"
#include "server/admin/permissions.h"
#include "tests/support/harness.h"

namespace preau::testing {
namespace {

using namespace std::chrono_literals;
using server::Permission;

// Monday 2026-09-21 17:00 in Paris (15:00 UTC): inside "mon,tue,thu,fri 16:30-18:00".
constexpr int64_t kMonday17h = 1'790'002'800'000;
constexpr int64_t kWednesday17h = kMonday17h + 2 * 86'400'000;
constexpr const char* kHours = "mon,tue,thu,fri 16:30-18:00";

constexpr const char* kSchoolA = "ville/ecole-a";
constexpr const char* kClassA = "ville/ecole-a/cm2";
constexpr const char* kClassB = "ville/ecole-b/cm1";

// The stubs of one operator.
struct Stubs {
  explicit Stubs(std::shared_ptr<grpc::Channel> ch)
      : admin(v1::AdminService::NewStub(ch)),
        policy(v1::PolicyService::NewStub(ch)),
        klass(v1::ClassService::NewStub(ch)),
        catalog(v1::CatalogService::NewStub(ch)),
        filter(v1::FilterService::NewStub(ch)),
        report(v1::ReportService::NewStub(ch)),
        console(v1::ConsoleService::NewStub(ch)) {}
  std::unique_ptr<v1::AdminService::Stub> admin;
  std::unique_ptr<v1::PolicyService::Stub> policy;
  std::unique_ptr<v1::ClassService::Stub> klass;
  std::unique_ptr<v1::CatalogService::Stub> catalog;
  std::unique_ptr<v1::FilterService::Stub> filter;
  std::unique_ptr<v1::ReportService::Stub> report;
  std::unique_ptr<v1::ConsoleService::Stub> console;
};

struct Subject {
  v1::Role role;
  std::string name;
  std::vector<std::string> scopes;
  std::unique_ptr<Stubs> stubs;
};

// What a call acts on: a group and the device, operator and victims in it.
struct Target {
  std::string label;          // "inside" / "outside"
  std::string group;
  std::string device;         // an enrolled, connected device of `group`
  std::string victim_device;  // one that may be retired
  std::string op;             // an operator whose scope is `group`
  std::string victim_op;      // one that may be revoked
};

enum class ScopeKind {
  kNone,       // the call names no group: the permission alone decides
  kGroup,      // the call acts on target.group
  kAuthority,  // the call acts on the whole authority
};

using Call = std::function<grpc::Status(Stubs&, const Target&, const std::string& tag)>;

struct Case {
  std::string rpc;
  ScopeKind scope;
  Call call;
  // Outside the scope, answered as for something that does not exist (NOT_FOUND), with the
  // message the same call gets for `nonexistent`.
  std::string hidden_kind = "";  // "", "device" or "operator"
  // The permission the call needs when it differs from the RPC's row (renewing another
  // operator's credentials needs manage-operators).
  std::optional<Permission> needs = std::nullopt;
};

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + 30s);
  return c;
}

std::string Sanitize(std::string s) {
  for (char& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '-';
  }
  return s;
}

const char* kPolicy = "name: roles-test\ntimezone: Europe/Paris\n";

std::vector<Case> AllCases() {
  using S = ScopeKind;
  std::vector<Case> c;
  c.push_back({"AdminService.WhoAmI", S::kNone, [](Stubs& s, const Target&, const std::string&) {
                 v1::Operator out;
                 return s.admin->WhoAmI(Ctx().get(), {}, &out);
               }});
  c.push_back({"AdminService.CreateGroup", S::kGroup,
               [](Stubs& s, const Target& t, const std::string& tag) {
                 v1::CreateGroupRequest r;
                 r.set_path(t.group + "/g-" + tag);
                 v1::Group out;
                 return s.admin->CreateGroup(Ctx().get(), r, &out);
               }});
  c.push_back({"AdminService.RenameGroup", S::kGroup,
               [](Stubs& s, const Target& t, const std::string& tag) {
                 v1::RenameGroupRequest r;  // a group that does not exist: nothing moves
                 r.set_path(t.group + "/rn-" + tag);
                 r.set_new_path(t.group + "/rn2-" + tag);
                 v1::Group out;
                 return s.admin->RenameGroup(Ctx().get(), r, &out);
               }});
  c.push_back({"AdminService.DeleteGroup", S::kGroup,
               [](Stubs& s, const Target& t, const std::string& tag) {
                 v1::DeleteGroupRequest r;  // a group that does not exist: nothing is lost
                 r.set_path(t.group + "/del-" + tag);
                 v1::DeleteGroupResponse out;
                 return s.admin->DeleteGroup(Ctx().get(), r, &out);
               }});
  c.push_back({"AdminService.ListGroups", S::kNone, [](Stubs& s, const Target&, const std::string&) {
                 v1::ListGroupsResponse out;
                 return s.admin->ListGroups(Ctx().get(), {}, &out);
               }});
  c.push_back({"AdminService.CreateToken", S::kGroup,
               [](Stubs& s, const Target& t, const std::string&) {
                 v1::CreateTokenRequest r;
                 r.set_group(t.group);
                 v1::CreateTokenResponse out;
                 return s.admin->CreateToken(Ctx().get(), r, &out);
               }});
  c.push_back({"AdminService.ListDevices", S::kGroup,
               [](Stubs& s, const Target& t, const std::string&) {
                 v1::ListDevicesRequest r;
                 r.set_group(t.group);
                 v1::ListDevicesResponse out;
                 return s.admin->ListDevices(Ctx().get(), r, &out);
               }});
  c.push_back({"AdminService.GetDevice", S::kGroup,
               [](Stubs& s, const Target& t, const std::string&) {
                 v1::GetDeviceRequest r;
                 r.set_id(t.device);
                 v1::Device out;
                 return s.admin->GetDevice(Ctx().get(), r, &out);
               },
               "device"});
  c.push_back({"AdminService.MoveDevice", S::kGroup,
               [](Stubs& s, const Target& t, const std::string&) {
                 v1::MoveDeviceRequest r;
                 r.set_id(t.device);
                 r.set_group(t.group);  // where it already is
                 v1::Device out;
                 return s.admin->MoveDevice(Ctx().get(), r, &out);
               },
               "device"});
  c.push_back({"AdminService.RetireDevice", S::kGroup,
               [](Stubs& s, const Target& t, const std::string&) {
                 v1::RetireDeviceRequest r;
                 r.set_id(t.victim_device);
                 v1::Device out;
                 return s.admin->RetireDevice(Ctx().get(), r, &out);
               },
               "device"});
  c.push_back({"AdminService.ResendPolicy", S::kGroup,
               [](Stubs& s, const Target& t, const std::string&) {
                 v1::ResendPolicyRequest r;
                 r.set_id(t.device);
                 v1::Device out;
                 return s.admin->ResendPolicy(Ctx().get(), r, &out);
               },
               "device"});
  c.push_back({"AdminService.RestartAgent", S::kGroup,
               [](Stubs& s, const Target& t, const std::string&) {
                 v1::RestartAgentRequest r;
                 r.set_id(t.device);
                 v1::Device out;
                 return s.admin->RestartAgent(Ctx().get(), r, &out);
               },
               "device"});
  c.push_back({"AdminService.CreateOperator", S::kGroup,
               [](Stubs& s, const Target& t, const std::string& tag) {
                 auto key = pki::GenerateKey();
                 v1::CreateOperatorRequest r;
                 r.set_name("new-" + tag);
                 r.set_role(v1::ROLE_TEACHER);
                 r.add_scopes(t.group);
                 r.set_csr_pem(*pki::CreateCsr(key->private_key_pem, r.name()));
                 v1::CreateOperatorResponse out;
                 return s.admin->CreateOperator(Ctx().get(), r, &out);
               }});
  c.push_back({"AdminService.ListOperators", S::kNone, [](Stubs& s, const Target&, const std::string&) {
                 v1::ListOperatorsResponse out;
                 return s.admin->ListOperators(Ctx().get(), {}, &out);
               }});
  c.push_back({"AdminService.GetOperator", S::kGroup,
               [](Stubs& s, const Target& t, const std::string&) {
                 v1::GetOperatorRequest r;
                 r.set_name(t.op);
                 v1::Operator out;
                 return s.admin->GetOperator(Ctx().get(), r, &out);
               },
               "operator"});
  c.push_back({"AdminService.RevokeOperator", S::kGroup,
               [](Stubs& s, const Target& t, const std::string&) {
                 v1::RevokeOperatorRequest r;
                 r.set_name(t.victim_op);
                 v1::Operator out;
                 return s.admin->RevokeOperator(Ctx().get(), r, &out);
               },
               "operator"});
  c.push_back({"AdminService.RenewOperator", S::kGroup,
               [](Stubs& s, const Target& t, const std::string&) {
                 auto key = pki::GenerateKey();
                 v1::RenewOperatorRequest r;
                 r.set_name(t.op);
                 r.set_csr_pem(*pki::CreateCsr(key->private_key_pem, t.op));
                 v1::CreateOperatorResponse out;
                 return s.admin->RenewOperator(Ctx().get(), r, &out);
               },
               "operator", Permission::kManageOperators});
  c.push_back({"AdminService.ListAudit", S::kNone, [](Stubs& s, const Target&, const std::string&) {
                 v1::ListAuditRequest r;
                 r.set_page_size(1);
                 v1::ListAuditResponse out;
                 return s.admin->ListAudit(Ctx().get(), r, &out);
               }});
  c.push_back({"PolicyService.Apply", S::kGroup,
               [](Stubs& s, const Target& t, const std::string&) {
                 v1::ApplyPolicyRequest r;
                 r.set_group(t.group);
                 r.set_source(kPolicy);
                 r.set_file("roles.yaml");
                 v1::ApplyPolicyResponse out;
                 return s.policy->Apply(Ctx().get(), r, &out);
               }});
  c.push_back({"PolicyService.GetStatus", S::kGroup,
               [](Stubs& s, const Target& t, const std::string&) {
                 v1::PolicyStatusRequest r;
                 r.set_group(t.group);
                 v1::PolicyStatusResponse out;
                 return s.policy->GetStatus(Ctx().get(), r, &out);
               }});
  c.push_back({"ClassService.Run", S::kGroup,
               [](Stubs& s, const Target& t, const std::string&) {
                 v1::ClassCommandRequest r;
                 r.set_group(t.group);
                 r.set_kind(v1::COMMAND_UNLOCK);
                 r.set_wait_ms(300);
                 v1::ClassCommandResponse out;
                 return s.klass->Run(Ctx().get(), r, &out);
               }});
  c.push_back({"ConsoleService.CreateLink", S::kGroup,
               [](Stubs& s, const Target& t, const std::string&) {
                 v1::ConsoleLinkRequest r;
                 r.set_operator_name(t.op);
                 v1::ConsoleLinkResponse out;
                 return s.console->CreateLink(Ctx().get(), r, &out);
               },
               "operator"});
  c.push_back({"ConsoleService.SetPassword", S::kGroup,
               [](Stubs& s, const Target& t, const std::string&) {
                 v1::ConsolePasswordRequest r;
                 r.set_operator_name(t.op);
                 r.set_password("cahier-de-textes");
                 v1::ConsolePasswordResponse out;
                 return s.console->SetPassword(Ctx().get(), r, &out);
               },
               "operator"});
  c.push_back({"CatalogService.Upload", S::kNone,
               [](Stubs& s, const Target&, const std::string& tag) {
                 v1::AppVersion out;
                 auto ctx = Ctx();
                 auto w = s.catalog->Upload(ctx.get(), &out);
                 v1::UploadAppRequest m;
                 m.mutable_metadata()->set_name("org.roles." + tag);
                 m.mutable_metadata()->set_version("1.0");
                 m.mutable_metadata()->set_file_name("roles.apk");
                 m.mutable_metadata()->set_size(4);
                 v1::UploadAppRequest d;
                 d.set_chunk("abcd");
                 if (w->Write(m)) (void)w->Write(d);
                 w->WritesDone();
                 return w->Finish();
               }});
  c.push_back({"CatalogService.Review", S::kNone, [](Stubs& s, const Target&, const std::string&) {
                 v1::ReviewAppRequest r;
                 r.set_id("org.fixture@1.0");
                 r.set_approve(true);
                 v1::AppVersion out;
                 return s.catalog->Review(Ctx().get(), r, &out);
               }});
  c.push_back({"CatalogService.Assign", S::kGroup,
               [](Stubs& s, const Target& t, const std::string&) {
                 v1::AssignAppRequest r;
                 r.set_id("org.fixture@1.0");
                 r.set_group(t.group);
                 v1::AppAssignment out;
                 return s.catalog->Assign(Ctx().get(), r, &out);
               }});
  c.push_back({"CatalogService.Unassign", S::kGroup,
               [](Stubs& s, const Target& t, const std::string&) {
                 v1::UnassignAppRequest r;
                 r.set_app("org.fixture");
                 r.set_group(t.group);
                 v1::UnassignAppResponse out;
                 return s.catalog->Unassign(Ctx().get(), r, &out);
               }});
  c.push_back({"CatalogService.List", S::kNone, [](Stubs& s, const Target&, const std::string&) {
                 v1::ListAppsResponse out;
                 return s.catalog->List(Ctx().get(), {}, &out);
               }});
  c.push_back({"CatalogService.DeviceStatus", S::kGroup,
               [](Stubs& s, const Target& t, const std::string&) {
                 v1::AppDeviceStatusRequest r;
                 r.set_group(t.group);
                 v1::AppDeviceStatusResponse out;
                 return s.catalog->DeviceStatus(Ctx().get(), r, &out);
               }});
  c.push_back({"FilterService.Import", S::kNone,
               [](Stubs& s, const Target&, const std::string&) {
                 v1::ImportFilterResponse out;
                 auto ctx = Ctx();
                 auto w = s.filter->Import(ctx.get(), &out);
                 v1::ImportFilterRequest start;
                 start.mutable_start()->set_source("roles-test");
                 v1::ImportFilterRequest chunk;
                 chunk.mutable_chunk()->set_category("gambling");
                 chunk.mutable_chunk()->set_file("domains");
                 chunk.mutable_chunk()->set_data("casino.example\n");
                 chunk.mutable_chunk()->set_last(true);
                 if (w->Write(start)) (void)w->Write(chunk);
                 w->WritesDone();
                 return w->Finish();
               }});
  c.push_back({"FilterService.Rollback", S::kNone,
               [](Stubs& s, const Target&, const std::string&) {
                 v1::RollbackFilterRequest r;  // a version never imported
                 r.set_version(987654321);
                 v1::ImportFilterResponse out;
                 return s.filter->Rollback(Ctx().get(), r, &out);
               }});
  c.push_back({"FilterService.List", S::kNone, [](Stubs& s, const Target&, const std::string&) {
                 v1::ListFiltersResponse out;
                 return s.filter->List(Ctx().get(), {}, &out);
               }});
  c.push_back({"FilterService.Test", S::kGroup,
               [](Stubs& s, const Target& t, const std::string&) {
                 v1::TestFilterRequest r;
                 r.set_target("casino.example");
                 r.set_group(t.group);
                 v1::TestFilterResponse out;
                 return s.filter->Test(Ctx().get(), r, &out);
               }});
  c.push_back({"ReportService.Build", S::kGroup,
               [](Stubs& s, const Target& t, const std::string&) {
                 v1::BuildReportRequest r;
                 r.set_kind(v1::REPORT_KIND_INVENTORY);
                 r.set_group(t.group);
                 r.set_format(v1::REPORT_FORMAT_CSV);
                 v1::ReportDocument out;
                 return s.report->Build(Ctx().get(), r, &out);
               }});
  c.push_back({"ReportService.ExportDevice", S::kGroup,
               [](Stubs& s, const Target& t, const std::string&) {
                 v1::ExportDeviceRequest r;
                 r.set_id(t.device);
                 v1::DeviceExport out;
                 return s.report->ExportDevice(Ctx().get(), r, &out);
               },
               "device"});
  c.push_back({"ReportService.ImportStock", S::kGroup,
               [](Stubs& s, const Target& t, const std::string& tag) {
                 v1::ImportStockRequest r;
                 r.set_csv("serial,model,state,group\nS-" + tag + ",Tab 1,in service," + t.group + "\n");
                 r.set_file_name("stock.csv");
                 v1::ImportStockResponse out;
                 return s.report->ImportStock(Ctx().get(), r, &out);
               }});
  c.push_back({"ReportService.Retention", S::kAuthority,
               [](Stubs& s, const Target&, const std::string&) {
                 v1::RetentionSettings out;
                 return s.report->Retention(Ctx().get(), {}, &out);
               }});
  return c;
}

// The same call on something that does not exist, for the "hidden" comparison.
Target Nonexistent(const Target& t) {
  Target n = t;
  n.device = n.victim_device = "d-000000000000";
  n.op = n.victim_op = "nobody-here";
  return n;
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  if (from.empty()) return s;
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) {
    s.replace(p, from.size(), to);
  }
  return s;
}

struct Refusal {
  std::string actor;
  std::string action;
  std::string message;
  bool hidden = false;
  std::string where;  // for failure messages
};

class RolesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestServer>(dir_.path(), &clock_, "127.0.0.1:0");
    root_ = std::make_unique<Stubs>(OperatorChannel(server_->data_dir() + "/admin.credentials",
                                                    server_->port()));
    for (const char* g : {kClassA, kClassB}) server_->CreateGroup(g);
  }

  std::unique_ptr<Stubs> StubsFor(const std::string& name, v1::Role role,
                                  const std::vector<std::string>& scopes,
                                  const std::string& hours = "") {
    std::string path = server_->CreateOperator(dir_.path(), name, role, scopes, hours);
    return std::make_unique<Stubs>(OperatorChannel(path, server_->port()));
  }

  std::unique_ptr<TestAgent> StartAgent(const std::string& name, const std::string& group,
                                        uint64_t seed) {
    auto a = TestAgent::Start(*server_, dir_ / name, server_->CreateToken(group, 5), seed);
    EXPECT_TRUE(a.ok()) << a.status().message();
    if (!a.ok()) return nullptr;
    EXPECT_TRUE((*a)->WaitConnected());
    return std::move(a).value();
  }

  std::vector<v1::AuditEntry> Audit() { return WholeAudit(*root_->admin); }

  // Uploads org.fixture@1.0 as `stubs`' operator.
  void UploadFixture(Stubs& stubs) {
    v1::AppVersion out;
    auto ctx = Ctx();
    auto w = stubs.catalog->Upload(ctx.get(), &out);
    v1::UploadAppRequest m;
    m.mutable_metadata()->set_name("org.fixture");
    m.mutable_metadata()->set_version("1.0");
    m.mutable_metadata()->set_file_name("fixture.apk");
    m.mutable_metadata()->set_size(3);
    v1::UploadAppRequest d;
    d.set_chunk("xyz");
    ASSERT_TRUE(w->Write(m));
    ASSERT_TRUE(w->Write(d));
    w->WritesDone();
    auto st = w->Finish();
    ASSERT_TRUE(st.ok()) << st.error_message();
  }

  ManualClock clock_{kMonday17h};
  TempDir dir_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<Stubs> root_;
};

// Whether `subject` covers `group` by its scopes (no scope: the whole authority).
bool Covers(const Subject& s, const std::string& group) {
  if (s.scopes.empty()) return true;
  for (const auto& sc : s.scopes) {
    if (server::PathWithin(group, sc)) return true;
  }
  return false;
}

TEST_F(RolesTest, EveryRoleEveryRpcInsideAndOutsideItsScopeAndHours) {
  // The fleet: a connected device on each side, one more to retire on the inside.
  auto dev_a = StartAgent("tablet-a", kClassA, 1);
  auto dev_b = StartAgent("tablet-b", kClassB, 2);
  auto victim = StartAgent("tablet-victim", kClassA, 3);
  ASSERT_TRUE(dev_a && dev_b && victim);
  Target inside{"inside", kClassA, dev_a->agent().device_id(), victim->agent().device_id(),
                "op-in", "victim-in"};
  Target outside{"outside", kClassB, dev_b->agent().device_id(), dev_b->agent().device_id(),
                 "op-out", "victim-out"};
  for (const auto& [name, group] : std::vector<std::pair<std::string, std::string>>{
           {"op-in", kClassA}, {"victim-in", kClassA}, {"op-out", kClassB}, {"victim-out", kClassB}}) {
    server_->CreateOperator(dir_.path(), name, v1::ROLE_TEACHER, {group});
  }
  // An app uploaded by an admin other than the reviewer's creator (separation of duties).
  auto uploader = StubsFor("uploader", v1::ROLE_ADMIN, {});
  UploadFixture(*uploader);

  // One operator per role, each on the inside target's school or class.
  std::vector<Subject> subjects;
  auto add = [&](v1::Role role, const std::string& name, std::vector<std::string> scopes,
                 const std::string& hours = "") {
    Subject s{role, name, scopes, StubsFor(name, role, scopes, hours)};
    subjects.push_back(std::move(s));
  };
  add(v1::ROLE_ADMIN, "admin-a", {kSchoolA});
  add(v1::ROLE_HOTLINE, "hotline-a", {kSchoolA});
  add(v1::ROLE_SCHOOL_HEAD, "head-a", {kSchoolA});
  add(v1::ROLE_REFERENT, "referent-a", {kSchoolA});
  add(v1::ROLE_TEACHER, "teacher-a", {kClassA});
  add(v1::ROLE_PERISCOLAIRE, "peri-a", {kClassA}, kHours);
  add(v1::ROLE_VIEWER, "viewer-a", {kSchoolA});
  add(v1::ROLE_REVIEWER, "reviewer", {});
  // Every role of the enum is exercised.
  std::set<v1::Role> roles;
  for (const auto& s : subjects) roles.insert(s.role);
  for (auto r : AllRoles()) EXPECT_TRUE(roles.count(r)) << RoleName(r) << " has no subject";

  std::vector<Refusal> refusals;
  int allowed = 0, denied = 0, hidden = 0;
  const auto cases = AllCases();
  auto run_pass = [&](bool in_hours, bool periscolaire_only) {
    for (auto& subject : subjects) {
      const server::RoleSpec* spec = server::FindRole(subject.role);
      ASSERT_NE(spec, nullptr) << RoleName(subject.role);
      if (periscolaire_only && !spec->needs_hours) continue;
      for (const auto& c : cases) {
        const server::RpcRule* rule = server::FindRpcRule(c.rpc);
        ASSERT_NE(rule, nullptr) << c.rpc;
        for (const Target* t : {&inside, &outside}) {
          if (c.scope != ScopeKind::kGroup && t == &outside) continue;  // names no group
          std::string tag = Sanitize(subject.name + "-" + t->label + (in_hours ? "" : "-late"));
          std::string where = subject.name + " " + c.rpc + " " + t->label +
                              (in_hours ? "" : " (outside hours)");
          Permission needs = c.needs.value_or(rule->permission);
          bool has = server::RoleHas(subject.role, needs) &&
                     server::RoleHas(subject.role, rule->permission);
          bool hours_ok = in_hours || !spec->needs_hours || needs == Permission::kWhoAmI;
          bool covered = c.scope == ScopeKind::kNone ||
                         (c.scope == ScopeKind::kGroup && Covers(subject, t->group)) ||
                         (c.scope == ScopeKind::kAuthority && subject.scopes.empty());
          grpc::Status st = c.call(*subject.stubs, *t, tag);
          std::string action = rule->action;
          if (c.rpc == "ClassService.Run") action = "class.unlock";
          if (!has || !hours_ok) {
            EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED)
                << where << ": " << st.error_message();
            if (!hours_ok && has) {
              EXPECT_NE(st.error_message().find(kHours), std::string::npos)
                  << where << ": the refusal names the window: " << st.error_message();
            }
            refusals.push_back({subject.name, action, st.error_message(), false, where});
            ++denied;
          } else if (!covered && !c.hidden_kind.empty()) {
            // Outside the scope, the same answer as for a device/operator that does not exist.
            EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << where << ": " << st.error_message();
            grpc::Status none = c.call(*subject.stubs, Nonexistent(*t), tag + "-none");
            EXPECT_EQ(none.error_code(), grpc::StatusCode::NOT_FOUND) << where;
            std::string real = c.hidden_kind == "device" ? t->device : t->op;
            if (c.rpc == "AdminService.RetireDevice") real = t->victim_device;
            if (c.rpc == "AdminService.RevokeOperator") real = t->victim_op;
            std::string fake = c.hidden_kind == "device" ? "d-000000000000" : "nobody-here";
            EXPECT_EQ(Replace(st.error_message(), real, fake), none.error_message()) << where;
            refusals.push_back({subject.name, action, st.error_message(), true, where});
            ++hidden;
          } else if (!covered) {
            EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED)
                << where << ": " << st.error_message();
            refusals.push_back({subject.name, action, st.error_message(), false, where});
            ++denied;
          } else {
            // Allowed: the call passed the role, hours and scope checks; it may still fail
            // for a reason of its own (e.g. a device gone offline after a restart), never
            // for lack of rights.
            EXPECT_NE(st.error_code(), grpc::StatusCode::PERMISSION_DENIED)
                << where << ": " << st.error_message();
            EXPECT_NE(st.error_code(), grpc::StatusCode::UNAUTHENTICATED)
                << where << ": " << st.error_message();
            ++allowed;
          }
        }
      }
    }
  };
  run_pass(/*in_hours=*/true, /*periscolaire_only=*/false);
  clock_.Set(kWednesday17h);
  run_pass(/*in_hours=*/false, /*periscolaire_only=*/true);
  std::printf("roles matrix: %d allowed, %d refused, %d answered as unknown\n", allowed, denied,
              hidden);
  EXPECT_GT(allowed, 30);
  EXPECT_GT(denied, 100);
  EXPECT_GT(hidden, 5);

  // Every refusal is in the audit log, by its actor, with the reason it was given.
  auto audit = Audit();
  for (const auto& r : refusals) {
    bool found = false;
    for (const auto& e : audit) {
      if (e.actor() != r.actor || e.action() != r.action || e.result() != r.message) continue;
      if (r.hidden && e.detail().find("answered as") == std::string::npos) continue;
      found = true;
      break;
    }
    EXPECT_TRUE(found) << r.where << ": no audit row for the refusal '" << r.message << "'";
  }
}

TEST_F(RolesTest, EveryOperatorsRpcHasARowAndTheTestCoversIt) {
  // Every RPC of every operators' service in the .proto files has a row in the permission
  // table (the server refuses an RPC without one), and the matrix above calls it.
  std::set<std::string> covered;
  for (const auto& c : AllCases()) covered.insert(c.rpc);
  std::set<std::string> rows;
  for (const auto& r : server::RpcRules()) rows.insert(r.rpc);
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  int methods = 0;
  for (const char* file : {"preau/v1/admin.proto", "preau/v1/policy.proto", "preau/v1/command.proto",
                           "preau/v1/catalog.proto", "preau/v1/filter.proto", "preau/v1/usage.proto",
                           "preau/v1/console.proto"}) {
    const auto* f = pool->FindFileByName(file);
    ASSERT_NE(f, nullptr) << file;
    for (int i = 0; i < f->service_count(); ++i) {
      const auto* svc = f->service(i);
      for (int m = 0; m < svc->method_count(); ++m) {
        std::string rpc = svc->name() + "." + svc->method(m)->name();
        ++methods;
        EXPECT_TRUE(rows.count(rpc)) << rpc << " has no row in server/admin/permissions.cc";
        EXPECT_TRUE(covered.count(rpc)) << rpc << " is not in the roles matrix (AllCases)";
      }
    }
  }
  EXPECT_EQ(static_cast<size_t>(methods), rows.size()) << "a row names an RPC that does not exist";
  // The table agrees with what the issue asks of each role, read independently of it.
  using P = Permission;
  EXPECT_FALSE(server::RoleHas(v1::ROLE_ADMIN, P::kReviewApps));
  EXPECT_FALSE(server::RoleHas(v1::ROLE_REVIEWER, P::kUploadApps));
  EXPECT_TRUE(server::RoleHas(v1::ROLE_HOTLINE, P::kSupportDevices));
  EXPECT_FALSE(server::RoleHas(v1::ROLE_HOTLINE, P::kApplyPolicies));
  EXPECT_FALSE(server::RoleHas(v1::ROLE_HOTLINE, P::kManageOperators));
  EXPECT_TRUE(server::RoleHas(v1::ROLE_REFERENT, P::kTestFilters));
  EXPECT_FALSE(server::RoleHas(v1::ROLE_TEACHER, P::kTestFilters));
  EXPECT_TRUE(server::RoleHas(v1::ROLE_SCHOOL_HEAD, P::kDeviceReports));
  EXPECT_FALSE(server::RoleHas(v1::ROLE_VIEWER, P::kSeeDevices));
  EXPECT_FALSE(server::RoleHas(v1::ROLE_VIEWER, P::kDeviceReports));
}

TEST_F(RolesTest, TheReadmeTableIsTheServersTable) {
  std::ifstream in(std::string(PREAU_SOURCE_DIR) + "/README.md");
  std::stringstream text;
  text << in.rdbuf();
  std::string readme = text.str();
  const std::string begin = "<!-- roles table: generated from server/admin/permissions.cc -->\n";
  const std::string end = "<!-- end of roles table -->";
  size_t b = readme.find(begin);
  size_t e = readme.find(end);
  ASSERT_NE(b, std::string::npos) << "README.md lacks the roles table markers";
  ASSERT_NE(e, std::string::npos);
  std::string table = readme.substr(b + begin.size(), e - b - begin.size());
  EXPECT_EQ(table, server::PermissionTableMarkdown())
      << "README.md's roles table differs from server/admin/permissions.cc; paste this:\n"
      << server::PermissionTableMarkdown();
}

TEST_F(RolesTest, RevokingATeacherEndsItsClassLockInFlightAndItsNextCallWithinASecond) {
  // A device that never acks, so that the teacher's lock stays in flight: an enrolled
  // identity, spoken for on a stream of our own.
  std::string device_id;
  {
    auto a = StartAgent("tablet", kClassA, 4);
    ASSERT_TRUE(a);
    device_id = a->agent().device_id();
  }
  auto device = v1::DeviceService::NewStub(DeviceChannel(dir_ / "tablet", server_->address()));
  grpc::ClientContext stream_ctx;
  stream_ctx.set_deadline(std::chrono::system_clock::now() + 30s);
  auto stream = device->Connect(&stream_ctx);
  v1::AgentMessage hello;
  hello.set_id("hello");
  hello.mutable_hello()->set_protocol(v1::PROTOCOL_VERSION_1);
  ASSERT_TRUE(stream->Write(hello));
  ASSERT_TRUE(WaitUntil([&] {
    for (const auto& d : server_->Devices(kClassA)) {
      if (d.id() == device_id && d.online()) return true;
    }
    return false;
  }));

  auto teacher = StubsFor("mme-revoked", v1::ROLE_TEACHER, {kClassA});
  grpc::Status lock_status;
  std::chrono::steady_clock::time_point lock_ended;
  std::thread lock([&] {
    v1::ClassCommandRequest r;
    r.set_group(kClassA);
    r.set_kind(v1::COMMAND_LOCK);
    r.set_wait_ms(20000);
    v1::ClassCommandResponse out;
    lock_status = teacher->klass->Run(Ctx().get(), r, &out);
    lock_ended = std::chrono::steady_clock::now();
  });
  // In flight: the device has the command, the teacher waits for its ack.
  v1::ServerMessage in;
  bool got_command = false;
  while (!got_command && stream->Read(&in)) got_command = in.has_command();
  ASSERT_TRUE(got_command);

  auto revoked_at = std::chrono::steady_clock::now();
  v1::RevokeOperatorRequest rr;
  rr.set_name("mme-revoked");
  v1::Operator op;
  auto st = root_->admin->RevokeOperator(Ctx().get(), rr, &op);
  ASSERT_TRUE(st.ok()) << st.error_message();
  lock.join();
  EXPECT_EQ(lock_status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << lock_status.error_message();
  EXPECT_NE(lock_status.error_message().find("revoked"), std::string::npos) << lock_status.error_message();
  auto lock_ms = std::chrono::duration_cast<std::chrono::milliseconds>(lock_ended - revoked_at).count();
  EXPECT_LT(lock_ms, 1000) << "the lock in flight ended " << lock_ms << " ms after the revocation";
  std::printf("lock in flight refused %lld ms after the revocation\n", static_cast<long long>(lock_ms));

  auto next_at = std::chrono::steady_clock::now();
  v1::ListDevicesResponse devices;
  auto next = teacher->admin->ListDevices(Ctx().get(), {}, &devices);
  auto next_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - next_at).count();
  EXPECT_EQ(next.error_code(), grpc::StatusCode::PERMISSION_DENIED) << next.error_message();
  EXPECT_NE(next.error_message().find("revoked"), std::string::npos) << next.error_message();
  EXPECT_LT(next_ms, 1000);

  bool audited = false;
  for (const auto& e : Audit()) {
    audited |= e.actor() == "mme-revoked" && e.action() == "class.lock" &&
               e.result().find("revoked") != std::string::npos;
  }
  EXPECT_TRUE(audited) << "the refused lock is in the audit log";
  stream->WritesDone();
  stream_ctx.TryCancel();
}

TEST_F(RolesTest, AnExpiredOperatorCertificateIsRefusedWithAMessageThatSaysSo) {
  auto teacher = StubsFor("mme-expired", v1::ROLE_TEACHER, {kClassA});
  v1::Operator me;
  auto st = teacher->admin->WhoAmI(Ctx().get(), {}, &me);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_GT(me.certificate_expires_unix_ms(), 0);
  // The server's clock past the certificate's end (TLS checks the system's clock).
  clock_.Set(me.certificate_expires_unix_ms() + 60'000);
  v1::ListDevicesResponse out;
  st = teacher->admin->ListDevices(Ctx().get(), {}, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
  EXPECT_NE(st.error_message().find("expired on"), std::string::npos) << st.error_message();
  EXPECT_NE(st.error_message().find("operators renew mme-expired"), std::string::npos)
      << st.error_message();
}

TEST_F(RolesTest, RenewalIssuesNewCredentialsBeforeTheOldExpireAndRetiresTheOld) {
  std::string old_path = server_->CreateOperator(dir_.path(), "mme-renew", v1::ROLE_TEACHER, {kClassA});
  auto r = RunBinary("preau", {"operators", "renew", "mme-renew", "--out", dir_ / "renewed.credentials",
                               "--credentials", old_path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto renewed = RunBinary("preau", {"whoami", "--credentials", dir_ / "renewed.credentials"});
  EXPECT_EQ(renewed.exit_code, 0) << renewed.err;
  EXPECT_NE(renewed.out.find("mme-renew"), std::string::npos) << renewed.out;
  auto old = RunBinary("preau", {"whoami", "--credentials", old_path});
  EXPECT_NE(old.exit_code, 0);
  EXPECT_NE(old.err.find("replaced by a renewed one"), std::string::npos) << old.err;
}

TEST_F(RolesTest, SelfApprovalAndEscalationAreRefusedAndAudited) {
  // An admin uploads an app, appoints a reviewer, and approves through it: refused.
  auto admin = StubsFor("mme-admin", v1::ROLE_ADMIN, {});
  UploadFixture(*admin);
  auto key = pki::GenerateKey();
  v1::CreateOperatorRequest cr;
  cr.set_name("her-reviewer");
  cr.set_role(v1::ROLE_REVIEWER);
  cr.set_csr_pem(*pki::CreateCsr(key->private_key_pem, "her-reviewer"));
  v1::CreateOperatorResponse created;
  auto st = admin->admin->CreateOperator(Ctx().get(), cr, &created);
  ASSERT_TRUE(st.ok()) << st.error_message();
  Credentials c;
  c.server = server_->address();
  c.name = "her-reviewer";
  c.ca_pem = created.ca_pem();
  c.cert_pem = created.certificate_pem();
  c.key_pem = key->private_key_pem;
  ASSERT_TRUE(SaveCredentials(dir_ / "her-reviewer.credentials", c).ok());
  Stubs hers(OperatorChannel(dir_ / "her-reviewer.credentials", server_->port()));
  v1::ReviewAppRequest review;
  review.set_id("org.fixture@1.0");
  review.set_approve(true);
  v1::AppVersion version;
  st = hers.catalog->Review(Ctx().get(), review, &version);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
  std::string self_approval = st.error_message();
  EXPECT_NE(self_approval.find("separation of duties"), std::string::npos) << self_approval;
  // A reviewer appointed by someone else may approve it.
  auto other = StubsFor("academie", v1::ROLE_REVIEWER, {});
  st = other->catalog->Review(Ctx().get(), review, &version);
  EXPECT_TRUE(st.ok()) << st.error_message();

  // Escalation: an admin of one school cannot make anyone wider than itself.
  auto school_admin = StubsFor("admin-ecole-a", v1::ROLE_ADMIN, {kSchoolA});
  auto create = [&](const std::string& name, v1::Role role, std::vector<std::string> scopes) {
    auto k = pki::GenerateKey();
    v1::CreateOperatorRequest r;
    r.set_name(name);
    r.set_role(role);
    for (const auto& s : scopes) r.add_scopes(s);
    r.set_csr_pem(*pki::CreateCsr(k->private_key_pem, name));
    v1::CreateOperatorResponse out;
    return school_admin->admin->CreateOperator(Ctx().get(), r, &out);
  };
  std::vector<std::string> escalations;
  for (auto [name, role, scopes] :
       std::vector<std::tuple<std::string, v1::Role, std::vector<std::string>>>{
           {"wide-admin", v1::ROLE_ADMIN, {}},
           {"other-school", v1::ROLE_HOTLINE, {kClassB}},
           {"own-reviewer", v1::ROLE_REVIEWER, {}},
           {"wide-viewer", v1::ROLE_VIEWER, {}}}) {
    st = create(name, role, scopes);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << name << ": " << st.error_message();
    escalations.push_back(st.error_message());
  }
  st = create("her-teacher", v1::ROLE_TEACHER, {kClassA});
  EXPECT_TRUE(st.ok()) << "within its own reach: " << st.error_message();
  // A hotline operator may not create anyone, not even someone narrower.
  auto hotline = StubsFor("hotline-a", v1::ROLE_HOTLINE, {kSchoolA});
  {
    auto k = pki::GenerateKey();
    v1::CreateOperatorRequest r;
    r.set_name("by-hotline");
    r.set_role(v1::ROLE_VIEWER);
    r.add_scopes(kClassA);
    r.set_csr_pem(*pki::CreateCsr(k->private_key_pem, "by-hotline"));
    v1::CreateOperatorResponse out;
    st = hotline->admin->CreateOperator(Ctx().get(), r, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
    escalations.push_back(st.error_message());
  }

  auto audit = Audit();
  auto audited = [&](const std::string& actor, const std::string& action, const std::string& result) {
    for (const auto& e : audit) {
      if (e.actor() == actor && e.action() == action && e.result() == result) return true;
    }
    return false;
  };
  EXPECT_TRUE(audited("her-reviewer", "app.review", self_approval));
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_TRUE(audited("admin-ecole-a", "operator.create", escalations[i])) << escalations[i];
  }
  EXPECT_TRUE(audited("hotline-a", "operator.create", escalations[4])) << escalations[4];
}

TEST_F(RolesTest, ViewersGetCountsNeverADevice) {
  auto a = StartAgent("tablet", kClassA, 5);
  ASSERT_TRUE(a);
  std::string id = a->agent().device_id();
  auto viewer = StubsFor("elu", v1::ROLE_VIEWER, {kSchoolA});
  for (auto kind : {v1::REPORT_KIND_INVENTORY, v1::REPORT_KIND_USAGE, v1::REPORT_KIND_COMPLIANCE}) {
    v1::BuildReportRequest r;
    r.set_kind(kind);
    r.set_format(v1::REPORT_FORMAT_JSON);
    v1::ReportDocument doc;
    auto st = viewer->report->Build(Ctx().get(), r, &doc);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(doc.body().find(id), std::string::npos) << doc.body();
    EXPECT_NE(doc.body().find("\"devices\": 1"), std::string::npos) << doc.body();
    EXPECT_NE(doc.body().find(kClassA), std::string::npos) << doc.body();
  }
  // An admin of the same scope gets the device's row.
  auto admin = StubsFor("admin-a", v1::ROLE_ADMIN, {kSchoolA});
  v1::BuildReportRequest r;
  r.set_kind(v1::REPORT_KIND_INVENTORY);
  r.set_format(v1::REPORT_FORMAT_JSON);
  v1::ReportDocument doc;
  ASSERT_TRUE(admin->report->Build(Ctx().get(), r, &doc).ok());
  EXPECT_NE(doc.body().find(id), std::string::npos);
}

TEST_F(RolesTest, AChangeNeverCommitsWithoutItsAuditRow) {
  // Issue 17, item 5: the audit row goes in the change's own transaction. Make every audit
  // write fail (as a full disk or a crash between the two would) and no change may stay.
  auto a = StartAgent("tablet", kClassA, 6);
  ASSERT_TRUE(a);
  std::string id = a->agent().device_id();
  UploadFixture(*root_);
  auto db = server_->OpenStore();
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->Exec(server_->on_postgres()
                           ? "CREATE FUNCTION audit_refused() RETURNS trigger LANGUAGE plpgsql AS "
                             "$$ BEGIN RAISE EXCEPTION 'the audit cannot be written (test)'; "
                             "END $$; CREATE TRIGGER audit_refused BEFORE INSERT ON audit FOR "
                             "EACH ROW EXECUTE FUNCTION audit_refused();"
                           : "CREATE TRIGGER audit_refused BEFORE INSERT ON audit BEGIN SELECT "
                             "RAISE(ABORT, 'the audit cannot be written (test)'); END;")
                  .ok());
  auto& admin = *root_->admin;
  {
    v1::CreateGroupRequest r;
    r.set_path("ville/ecole-c");
    v1::Group out;
    EXPECT_FALSE(admin.CreateGroup(Ctx().get(), r, &out).ok()) << "group.create";
  }
  {
    v1::CreateTokenRequest r;
    r.set_group(kClassA);
    v1::CreateTokenResponse out;
    EXPECT_FALSE(admin.CreateToken(Ctx().get(), r, &out).ok()) << "token.create";
  }
  {
    v1::MoveDeviceRequest r;
    r.set_id(id);
    r.set_group(kClassB);
    v1::Device out;
    EXPECT_FALSE(admin.MoveDevice(Ctx().get(), r, &out).ok()) << "device.move";
  }
  {
    auto key = pki::GenerateKey();
    v1::CreateOperatorRequest r;
    r.set_name("unaudited");
    r.set_role(v1::ROLE_TEACHER);
    r.add_scopes(kClassA);
    r.set_csr_pem(*pki::CreateCsr(key->private_key_pem, "unaudited"));
    v1::CreateOperatorResponse out;
    EXPECT_FALSE(admin.CreateOperator(Ctx().get(), r, &out).ok()) << "operator.create";
  }
  {
    v1::ApplyPolicyRequest r;
    r.set_group(kClassA);
    r.set_source(kPolicy);
    r.set_file("p.yaml");
    v1::ApplyPolicyResponse out;
    EXPECT_FALSE(root_->policy->Apply(Ctx().get(), r, &out).ok()) << "policy.apply";
  }
  {
    v1::ClassCommandRequest r;
    r.set_group(kClassA);
    r.set_kind(v1::COMMAND_LOCK);
    v1::ClassCommandResponse out;
    EXPECT_FALSE(root_->klass->Run(Ctx().get(), r, &out).ok()) << "class.lock";
  }
  {
    v1::AssignAppRequest r;
    r.set_id("org.fixture@1.0");
    r.set_group(kClassA);
    v1::AppAssignment out;
    // Not approved: refused either way; the version's state must not change either.
    (void)root_->catalog->Assign(Ctx().get(), r, &out);
  }
  {
    v1::RetireDeviceRequest r;
    r.set_id(id);
    v1::Device out;
    EXPECT_FALSE(admin.RetireDevice(Ctx().get(), r, &out).ok()) << "device.retire";
  }
  ASSERT_TRUE(db->Exec(server_->on_postgres() ? "DROP TRIGGER audit_refused ON audit"
                                               : "DROP TRIGGER audit_refused")
                  .ok());

  // Nothing of it happened.
  v1::ListGroupsResponse groups;
  ASSERT_TRUE(admin.ListGroups(Ctx().get(), {}, &groups).ok());
  for (const auto& g : groups.groups()) EXPECT_NE(g.path(), "ville/ecole-c");
  v1::GetDeviceRequest gd;
  gd.set_id(id);
  v1::Device d;
  ASSERT_TRUE(admin.GetDevice(Ctx().get(), gd, &d).ok());
  EXPECT_EQ(d.group(), kClassA) << "the move was not kept";
  EXPECT_FALSE(d.retired()) << "the retirement was not kept";
  v1::GetOperatorRequest go;
  go.set_name("unaudited");
  v1::Operator op;
  EXPECT_EQ(admin.GetOperator(Ctx().get(), go, &op).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::PolicyStatusRequest ps;
  v1::PolicyStatusResponse status;
  ASSERT_TRUE(root_->policy->GetStatus(Ctx().get(), ps, &status).ok());
  EXPECT_EQ(status.ByteSizeLong(), 0u) << "no policy version was kept: " << status.DebugString();
  auto tokens = db->Prepare("SELECT COUNT(*) FROM tokens");
  ASSERT_TRUE(tokens.ok());
  ASSERT_TRUE(*tokens->Step());
  int64_t token_count = tokens->Int(0);
  auto commands = db->Prepare("SELECT COUNT(*) FROM class_commands");
  ASSERT_TRUE(commands.ok());
  ASSERT_TRUE(*commands->Step());
  EXPECT_EQ(commands->Int(0), 0) << "the lock was not kept";

  // With the audit writable again, the same change commits with its row.
  v1::CreateGroupRequest r;
  r.set_path("ville/ecole-c");
  v1::Group out;
  ASSERT_TRUE(admin.CreateGroup(Ctx().get(), r, &out).ok());
  bool audited = false;
  for (const auto& e : Audit()) audited |= e.action() == "group.create" && e.target() == "ville/ecole-c" && e.result() == "ok";
  EXPECT_TRUE(audited);
  // The one token in the store is the agent's enrolment token, made before the trigger.
  EXPECT_EQ(token_count, 1);
}

}  // namespace
}  // namespace preau::testing

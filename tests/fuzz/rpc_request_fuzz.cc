// Fuzzes every RPC's request as the server parses it. One real server (in this process, on
// 127.0.0.1:0, real SQLite, real mTLS) takes arbitrary bytes as the request messages of
// each method of each service: the first byte picks the method, the rest is one or more
// messages, each sent raw (a generic call, so bytes that do not parse reach the server's
// parser too). Streaming methods (Connect, uploads) get a sequence: the input is split at
// each kSeparator, so a hello followed by reports, or a chunk after a bad first chunk,
// reach the handlers in order; a unary method gets the first piece only.
// Operator methods go out as the first administrator (every role check passes, so the
// handlers' own checks are what is fuzzed); DeviceService methods as an enrolled device.
// A reply of any status is fine; a crash, a sanitizer report or a hang is not.
// Seeds: run once with PREAU_FUZZ_WRITE_SEEDS=DIR to write one per method (an empty
// request) and a few valid ones (a group, a policy, an agent's hello and usage).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/byte_buffer.h>

#include "agent/core/enroller.h"
#include "common/credentials.h"
#include "common/grpc_credentials.h"
#include "preau/v1/admin.grpc.pb.h"
#include "preau/v1/catalog.grpc.pb.h"
#include "preau/v1/console.grpc.pb.h"
#include "preau/v1/command.grpc.pb.h"
#include "preau/v1/device.grpc.pb.h"
#include "preau/v1/filter.grpc.pb.h"
#include "preau/v1/policy.grpc.pb.h"
#include "preau/v1/usage.grpc.pb.h"
#include "server/server.h"

namespace {

using preau::v1::AdminService;

// Every .proto file of proto/preau/v1, as CMake found them ("preau/v1/admin.proto,..."):
// every service they declare is fuzzed, so a new service or RPC needs no edit here.
std::vector<const google::protobuf::ServiceDescriptor*> AllServices() {
  std::vector<const google::protobuf::ServiceDescriptor*> out;
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  std::string_view files = PREAU_PROTO_FILES;
  while (!files.empty()) {
    size_t comma = files.find(',');
    std::string name(files.substr(0, comma));
    files.remove_prefix(comma == std::string_view::npos ? files.size() : comma + 1);
    const auto* file = pool->FindFileByName(name);
    if (file == nullptr) {
      std::fprintf(stderr, "rpc_request_fuzz: %s is not linked in\n", name.c_str());
      std::abort();
    }
    for (int i = 0; i < file->service_count(); ++i) out.push_back(file->service(i));
  }
  return out;
}

struct Method {
  std::string path;  // "/preau.v1.AdminService/CreateGroup"
  bool device;       // sent with the device's identity
  bool streaming;    // the client sends a stream of requests
};

// Splits one input into the request messages of a call. Eight bytes no valid message of
// ours is likely to hold by accident, and easy for the fuzzer to learn from the seeds.
constexpr std::string_view kSeparator = "\xff\xfe-next-";
constexpr size_t kMaxMessages = 16;

std::vector<std::string> SplitMessages(std::string_view bytes) {
  std::vector<std::string> out;
  while (out.size() + 1 < kMaxMessages) {
    size_t at = bytes.find(kSeparator);
    if (at == std::string_view::npos) break;
    out.emplace_back(bytes.substr(0, at));
    bytes.remove_prefix(at + kSeparator.size());
  }
  out.emplace_back(bytes);
  return out;
}

struct World {
  std::string dir;
  std::unique_ptr<preau::server::Server> server;
  std::unique_ptr<grpc::GenericStub> admin, device;
  std::vector<Method> methods;
};

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "rpc_request_fuzz: setup: %s\n", what.c_str());
  std::abort();
}

std::shared_ptr<grpc::Channel> Channel(int port, const std::string& ca, const std::string& cert,
                                       const std::string& key) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                   preau::MtlsCredentials(ca, cert, key), args);
}

World* Setup() {
  auto* w = new World();
  char tmpl[] = "/tmp/preau-rpc-fuzz-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) Fail("mkdtemp");
  w->dir = tmpl;
  preau::server::InitOptions init;
  init.data_dir = w->dir + "/server";
  if (auto st = preau::server::InitDataDir(init); !st.ok()) Fail(st.message());
  preau::server::RunOptions run;
  run.data_dir = init.data_dir;
  auto server = preau::server::Server::Start(run);
  if (!server.ok()) Fail(server.status().message());
  w->server = std::move(server).value();
  int port = w->server->port();

  auto creds = preau::LoadCredentials(init.data_dir + "/admin.credentials");
  if (!creds.ok()) Fail(creds.status().message());
  auto admin_channel = Channel(port, creds->ca_pem, creds->cert_pem, creds->key_pem);
  w->admin = std::make_unique<grpc::GenericStub>(admin_channel);

  // A group, a token and one enrolled device, so that device calls pass authentication.
  auto typed = AdminService::NewStub(admin_channel);
  {
    grpc::ClientContext ctx;
    preau::v1::CreateGroupRequest req;
    req.set_path("ville/ecole/cm2");
    preau::v1::Group g;
    if (auto st = typed->CreateGroup(&ctx, req, &g); !st.ok()) Fail(st.error_message());
  }
  preau::v1::CreateTokenResponse token;
  {
    grpc::ClientContext ctx;
    preau::v1::CreateTokenRequest req;
    req.set_group("ville/ecole/cm2");
    req.set_uses(1);
    req.set_ttl_seconds(3600);
    if (auto st = typed->CreateToken(&ctx, req, &token); !st.ok()) Fail(st.error_message());
  }
  preau::agent::EnrollRequestOptions e;
  e.server = "127.0.0.1:" + std::to_string(port);
  e.ca_pem = creds->ca_pem;
  e.token = token.token();
  auto id = preau::agent::Enroll(e);
  if (!id.ok()) Fail(id.status().message());
  w->device = std::make_unique<grpc::GenericStub>(
      Channel(port, id->ca_pem, id->certificate_pem, id->private_key_pem));

  // Every method of every service, from the descriptors: a new RPC is fuzzed untouched.
  for (const auto* service : AllServices()) {
    for (int i = 0; i < service->method_count(); ++i) {
      const auto* m = service->method(i);
      w->methods.push_back({"/" + service->full_name() + "/" + m->name(),
                            service->name() == "DeviceService" && m->name() != "Enroll",
                            m->client_streaming()});
    }
  }
  return w;
}

// One call: the messages one after the other, then the end of the client's stream; reads
// whatever comes back until the status.
void Call(grpc::GenericStub& stub, const std::string& method,
          const std::vector<std::string>& messages) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(&ctx, method, &cq);
  void* tag = nullptr;
  bool ok = false;
  auto step = [&](intptr_t want) {
    // Tags are the step numbers; each step waits for its own completion.
    while (cq.Next(&tag, &ok)) {
      if (reinterpret_cast<intptr_t>(tag) == want) return ok;
    }
    return false;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  if (step(1)) {
    bool sent = true;
    for (const auto& bytes : messages) {
      grpc::Slice slice(bytes);
      grpc::ByteBuffer request(&slice, 1);
      call->Write(request, reinterpret_cast<void*>(2));
      if (!(sent = step(2))) break;
    }
    if (sent) {
      call->WritesDone(reinterpret_cast<void*>(3));
      step(3);
    }
    grpc::ByteBuffer response;
    for (int i = 0; i < 64; ++i) {
      call->Read(&response, reinterpret_cast<void*>(4));
      if (!step(4)) break;
    }
  }
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  step(5);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

// The method list, without a server: for the seeds.
std::vector<std::string> MethodPaths() {
  std::vector<std::string> out;
  for (const auto* service : AllServices()) {
    for (int i = 0; i < service->method_count(); ++i) {
      out.push_back("/" + service->full_name() + "/" + service->method(i)->name());
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("PREAU_FUZZ_WRITE_SEEDS");
  if (dir == nullptr) return 0;
  std::vector<std::string> paths = MethodPaths();
  // One seed: the method's byte, then the messages with the separator between them.
  auto write_all = [&](const std::string& method, const std::string& name,
                       const std::vector<const google::protobuf::Message*>& msgs) {
    for (size_t i = 0; i < paths.size(); ++i) {
      if (paths[i] != method) continue;
      std::ofstream out(std::string(dir) + "/" + name, std::ios::binary);
      out << static_cast<char>(i);
      for (size_t k = 0; k < msgs.size(); ++k) {
        out << (k ? kSeparator : std::string_view()) << msgs[k]->SerializeAsString();
      }
    }
  };
  auto write = [&](const std::string& method, const std::string& name,
                   const google::protobuf::Message& msg) { write_all(method, name, {&msg}); };
  for (size_t i = 0; i < paths.size(); ++i) {
    std::ofstream(std::string(dir) + "/empty-" + std::to_string(i), std::ios::binary)
        << static_cast<char>(i);
  }
  preau::v1::CreateGroupRequest group;
  group.set_path("ville/ecole/ce1");
  write("/preau.v1.AdminService/CreateGroup", "group", group);
  preau::v1::ApplyPolicyRequest apply;
  apply.set_group("ville/ecole/cm2");
  apply.set_file("eni.yaml");
  apply.set_rollout_percent(10);
  apply.set_source("name: eni\nwifi:\n  enabled: false\n");
  write("/preau.v1.PolicyService/Apply", "apply", apply);
  preau::v1::AgentMessage hello;
  hello.set_id("hello-1");
  hello.mutable_hello()->set_protocol(preau::v1::PROTOCOL_VERSION_1);
  write("/preau.v1.DeviceService/Connect", "hello", hello);
  preau::v1::AgentMessage usage;
  usage.set_id("usage-1");
  auto* day = usage.mutable_usage()->add_days();
  day->set_day("2025-03-14");
  day->set_screen_on_minutes(30);
  day->add_apps()->set_app("org.geogebra");
  write("/preau.v1.DeviceService/Connect", "usage", usage);
  // The order an agent sends them in: the handlers after a hello.
  write_all("/preau.v1.DeviceService/Connect", "hello-usage", {&hello, &usage});
  std::printf("seeds written to %s\n", dir);
  std::exit(0);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = Setup();
  if (size == 0) return 0;
  const Method& m = world->methods[data[0] % world->methods.size()];
  std::vector<std::string> messages =
      SplitMessages(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  if (!m.streaming) messages.resize(1);
  Call(m.device ? *world->device : *world->admin, m.path, messages);
  return 0;
}

#include "tests/support/postgres_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "common/files.h"

namespace preau::testing {

namespace {
constexpr const char* kBin = "/usr/lib/postgresql/15/bin/";

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

// Starts `argv` as the unprivileged user when this process is root, with its output in
// `log`; with `die_with_us`, the program is killed when this process ends.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& log, bool die_with_us) {
  passwd* pw = getuid() == 0 ? getpwnam("nobody") : nullptr;
  pid_t pid = fork();
  if (pid != 0) return pid;
  int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (out >= 0) {
    dup2(out, 1);
    dup2(out, 2);
  }
  int in = open("/dev/null", O_RDONLY);
  if (in >= 0) dup2(in, 0);
  if (pw) {
    if (setgroups(0, nullptr) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) _exit(126);
  }
  // After setuid: a change of credentials clears the parent-death signal.
  if (die_with_us) prctl(PR_SET_PDEATHSIG, SIGKILL);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execv(args[0], args.data());
  _exit(127);
}

std::string Tail(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return "";
  return text->size() > 2000 ? text->substr(text->size() - 2000) : *text;
}
}  // namespace

bool TestStoreIsPostgres() {
  const char* v = std::getenv("PREAU_TEST_STORE");
  return v && std::string(v) == "postgresql";
}

Result<PostgresCluster*> PostgresCluster::Shared() {
  static std::unique_ptr<PostgresCluster> cluster;
  static Status started = [] {
    cluster.reset(new PostgresCluster());
    return cluster->Start(/*durable=*/false);
  }();
  if (!started.ok()) return started;
  return cluster.get();
}

Result<std::unique_ptr<PostgresCluster>> PostgresCluster::StartDurable() {
  std::unique_ptr<PostgresCluster> cluster(new PostgresCluster());
  PREAU_RETURN_IF_ERROR(cluster->Start(/*durable=*/true));
  return cluster;
}

Status PostgresCluster::Start(bool durable) {
  char tmpl[] = "/tmp/preau-pg-XXXXXX";
  if (!mkdtemp(tmpl)) return Internal("mkdtemp for the PostgreSQL cluster failed");
  dir_ = tmpl;
  if (getuid() == 0) {
    passwd* pw = getpwnam("nobody");
    if (!pw || chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return Internal("cannot hand " + dir_ + " to user nobody");
    }
  }
  const std::string log = dir_ + "/postgres.log";
  pid_t init = Spawn({std::string(kBin) + "initdb", "-D", dir_ + "/data", "-U", "preau",
                      "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"},
                     log, true);
  int ws = 0;
  waitpid(init, &ws, 0);
  if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
    return Internal("initdb failed: " + Tail(log));
  }
  // A port found free may be taken before postgres binds it: try a few.
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = FreeLoopbackPort();
    std::vector<std::string> argv = {std::string(kBin) + "postgres", "-D", dir_ + "/data",
                                     "-p", std::to_string(port_), "-k", dir_,
                                     "-c", "listen_addresses=127.0.0.1",
                                     "-c", "shared_buffers=16MB", "-c", "max_connections=40"};
    if (!durable) {
      // Durability is not what the tests check: no fsync keeps them fast.
      argv.insert(argv.end(), {"-c", "fsync=off", "-c", "synchronous_commit=off", "-c",
                               "full_page_writes=off"});
    }
    pid_ = Spawn(argv, log, true);
    std::string conninfo =
        "host=127.0.0.1 port=" + std::to_string(port_) + " user=preau dbname=postgres";
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (PQping(conninfo.c_str()) == PQPING_OK) return Status::Ok();
      if (waitpid(pid_, &ws, WNOHANG) == pid_) break;  // exited: the port, probably
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling step
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, &ws, 0);
    pid_ = -1;
  }
  return Internal("postgres did not start: " + Tail(log));
}

PostgresCluster::~PostgresCluster() {
  if (pid_ > 0) {
    kill(pid_, SIGQUIT);  // immediate shutdown
    int ws = 0;
    waitpid(pid_, &ws, 0);
  }
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

Status PostgresCluster::Exec(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn(c, PQfinish);
  if (PQstatus(c) != CONNECTION_OK) return Unavailable(PQerrorMessage(c));
  std::unique_ptr<PGresult, void (*)(PGresult*)> res(PQexec(c, sql.c_str()), PQclear);
  auto st = PQresultStatus(res.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    return Internal(PQresultErrorMessage(res.get()));
  }
  return Status::Ok();
}

Status PostgresCluster::RecreateDatabase(const std::string& url) {
  std::string name = url.substr(url.rfind('/') + 1);
  std::string base = url.substr(0, url.rfind('/') + 1);
  PREAU_RETURN_IF_ERROR(Exec(base + "postgres", "DROP DATABASE " + name + " WITH (FORCE)"));
  return Exec(base + "postgres", "CREATE DATABASE " + name);
}

std::string FreshStoreLocation(const std::string& sqlite_path) {
  if (!TestStoreIsPostgres()) return sqlite_path;
  auto cluster = PostgresCluster::Shared();
  if (!cluster.ok()) return "postgresql://cluster-not-started/" + cluster.status().message();
  auto url = (*cluster)->CreateDatabase();
  return url.ok() ? *url : "postgresql://no-database/" + url.status().message();
}

Result<std::string> PostgresCluster::CreateDatabase() {
  std::string name = "preau_test_" + std::to_string(++next_db_);
  std::string base = "postgresql://preau@127.0.0.1:" + std::to_string(port_) + "/";
  PREAU_RETURN_IF_ERROR(Exec(base + "postgres", "CREATE DATABASE " + name));
  return base + name;
}

}  // namespace preau::testing

#include "server/console/console_app.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <map>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "common/class_summary.h"
#include "common/clock.h"
#include "common/duration.h"
#include "common/json.h"
#include "common/roles.h"
#include "server/admin/authz.h"
#include "server/admin/operator_call.h"
#include "server/admin/refusal_texts.h"
#include "server/console/assets.h"

namespace preau::server {

namespace {

constexpr char kCookieName[] = "preau_session";
// Failed sign-ins an address may make in a minute before it waits for the rest of it.
constexpr int kMaxSignInFailures = 10;
constexpr int64_t kSignInWindowMs = 60 * 1000;
// Wrong passwords for one name, from anywhere, before it waits for the rest of 15 minutes.
constexpr int kMaxPasswordFailures = 5;
constexpr int64_t kPasswordWindowMs = 15 * 60 * 1000;
constexpr size_t kMaxBodyFields = 16;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string UrlDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
               HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// application/x-www-form-urlencoded (a form body or a query string).
std::map<std::string, std::string> ParseForm(std::string_view s) {
  std::map<std::string, std::string> out;
  while (!s.empty() && out.size() < kMaxBodyFields) {
    size_t amp = s.find('&');
    std::string_view pair = s.substr(0, amp);
    size_t eq = pair.find('=');
    out[UrlDecode(pair.substr(0, eq))] =
        eq == std::string_view::npos ? "" : UrlDecode(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    s.remove_prefix(amp + 1);
  }
  return out;
}

std::string CookieValue(const std::string& header, const std::string& name) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(';', pos);
    std::string part = header.substr(pos, end == std::string::npos ? end : end - pos);
    size_t start = part.find_first_not_of(' ');
    if (start != std::string::npos) part = part.substr(start);
    if (part.rfind(name + "=", 0) == 0) return part.substr(name.size() + 1);
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return "";
}

bool SameSecret(const std::string& a, const std::string& b) {
  if (a.size() != b.size() || a.empty()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

int HttpStatusOf(const Status& st) {
  switch (st.code()) {
    case Code::kInvalidArgument: return 400;
    case Code::kUnauthenticated: return 401;
    case Code::kPermissionDenied: return 403;
    case Code::kNotFound: return 404;
    case Code::kResourceExhausted: return 429;
    default: return 500;
  }
}

HttpResponse JsonResponse(const Json& j) {
  HttpResponse r;
  r.body = j.Dump(0);
  return r;
}

std::string LockState(const std::string& s) {
  if (s == "locked") return "verrouillee";
  if (s == "unlocked") return "deverrouillee";
  if (s.rfind("unverified", 0) == 0) return "non-verifiee";
  return "inconnu";
}


// The CLI's summary verb for a page's action ("wifi-on" is the CLI's "wifi on").
std::string SummaryVerb(std::string verb) {
  if (verb.rfind("wifi-", 0) == 0) verb[4] = ' ';
  return verb;
}

// A page's action ("wifi-on", as HTML names it) is the summary verb of the same command.
Result<v1::CommandKind> KindOf(const std::string& verb) {
  if (verb.find(' ') == std::string::npos) {
    if (auto kind = ClassCommandKind(SummaryVerb(verb))) return *kind;
  }
  return InvalidArgument("action inconnue '" + verb + "'");
}

// The page's actions the server's class commands accept: each is tried on a sample
// request, so that a kind the server does not build yet has no button (rather than one
// that always fails).
const std::vector<std::string>& SupportedActions() {
  static const std::vector<std::string> kSupported = [] {
    std::vector<std::string> out;
    for (const char* verb : {"lock", "unlock", "focus", "open", "allow", "message", "wifi-on",
                             "wifi-off"}) {
      v1::ClassCommandRequest req;
      req.set_kind(*KindOf(verb));
      req.set_message("x");
      if (std::string(verb) == "focus" || std::string(verb) == "open") {
        req.set_url("https://fr.vikidia.org");
      }
      if (std::string(verb) == "wifi-on") req.set_for_seconds(60);
      if (std::string(verb) == "allow") {
        req.set_site("fr.vikidia.org");
        req.set_for_seconds(60);
      }
      auto c = BuildClassCommand(req, "console", 0);
      if (c.ok() || c.status().message().rfind("unknown class command kind", 0) != 0) {
        out.push_back(verb);
      }
    }
    return out;
  }();
  return kSupported;
}

// A grid with its version, as the page receives it.
std::string Stamped(uint64_t version, const std::string& grid) {
  Json j = Json::Object();
  j.Set("version", Json::Uint(version));
  j.Set("grille", Json::Raw(grid));
  return j.Dump(0);
}

// A refusal of the shared rule set, told in the page's language: the French sentence
// written beside the rule's English one (refusal_texts.h), else the English as it is.
std::string French(const Status& st) {
  std::string text = InFrench(st.message()).value_or(st.message());
  if (st.code() == Code::kPermissionDenied) return "Refusé : " + text;
  if (st.code() == Code::kNotFound) return "Introuvable : " + text;
  if (st.code() == Code::kInvalidArgument) return "Demande invalide : " + text;
  return text;
}

}  // namespace

HttpResponse ConsoleError(int status, const std::string& message) {
  Json j = Json::Object();
  j.Set("erreur", Json::String(message));
  HttpResponse r = JsonResponse(j);
  r.status = status;
  return r;
}

const std::vector<std::pair<std::string, std::string>>& ConsoleSecurityHeaders() {
  static const std::vector<std::pair<std::string, std::string>> kHeaders = {
      {"Content-Security-Policy",
       "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Referrer-Policy", "no-referrer"},
      {"Strict-Transport-Security", "max-age=31536000"},
      {"Cross-Origin-Opener-Policy", "same-origin"},
      {"Cross-Origin-Resource-Policy", "same-origin"},
  };
  return kHeaders;
}

struct ConsoleApp::Caller {
  OperatorRecord op;
  ConsoleSessions::Session session;
  std::string cookie;
  std::string peer;
};

// The open event streams and the thread that redraws their grids (store reads never run
// on the gRPC thread that noticed a change).
struct StreamRegistry {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread;
  std::mutex mu;
  std::map<uint64_t, std::shared_ptr<void>> open;  // each open stream, kept alive here
  uint64_t next = 1;
};

// One open console on one class: redraws the class's grid when one of its devices
// changes and sends it when it differs from the last one sent.
class ConsoleApp::GridStream : public std::enable_shared_from_this<GridStream> {
 public:
  GridStream(ConsoleApp& app, std::string op, std::string peer, std::string group)
      : app_(app), op_(std::move(op)), peer_(std::move(peer)), group_(std::move(group)),
        events_(std::make_shared<EventStream>()) {}

  std::shared_ptr<EventStream> events() { return events_; }

  const std::string& group() const { return group_; }

  // A command's answer drew a grid on a page of this class: whatever this stream sent
  // before is no longer what the page shows, so the next grid goes out even if it is the
  // same as the last one sent (on the redraw thread).
  void Resend() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      resend_ = true;
      if (redraw_pending_) return;
      redraw_pending_ = true;
    }
    Redraw();
  }


  void Start(const std::string& first_grid, uint64_t version, std::set<std::string> devices) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      devices_ = std::move(devices);
      last_sent_ = first_grid;
    }
    events_->Send("grille", Stamped(version, first_grid));
    std::weak_ptr<GridStream> weak = shared_from_this();
    auto& reg = *app_.streams_;
    {
      std::lock_guard<std::mutex> lock(reg.mu);
      registry_id_ = reg.next++;
      reg.open[registry_id_] = shared_from_this();
    }
    subscription_ = app_.core_.device_events.Subscribe([weak](const std::string& device_id) {
      if (auto self = weak.lock()) self->Changed(device_id);
    });
    // Revoked: the stream ends at once, and with it every session of the operator.
    open_call_ = app_.core_.operator_calls.Add(op_, [weak](const Status&) {
      if (auto self = weak.lock()) {
        (void)self->app_.sessions_.EndAll(self->op_);
        self->events_->Send("fin", "Votre accès a été révoqué : la console est fermée.");
        self->events_->End();
      }
    });
    events_->OnDetach([weak] {
      if (auto self = weak.lock()) self->Stop();
    });
  }

  // Ends the stream's hooks: when the browser went away, or the app stops.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    app_.core_.device_events.Unsubscribe(subscription_);
    app_.core_.operator_calls.Remove(open_call_);
    std::lock_guard<std::mutex> lock(app_.streams_->mu);
    app_.streams_->open.erase(registry_id_);
  }

 private:
  // On the thread that noticed the change: only note it and post the work. A device of
  // the class redraws it; another one is looked up first (off this thread), since it may
  // have just joined the class.
  void Changed(const std::string& device_id) {
    bool known;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      known = devices_.count(device_id) > 0;
      if (known) {
        if (redraw_pending_) return;
        redraw_pending_ = true;
      }
    }
    auto self = shared_from_this();
    if (known) {
      boost::asio::post(app_.streams_->io, [self] { self->Redraw(); });
    } else {
      boost::asio::post(app_.streams_->io, [self, device_id] {
        auto d = self->app_.core_.store->GetDevice(device_id);
        if (!d.ok() || !PathWithin(d->group, self->group_)) return;
        {
          std::lock_guard<std::mutex> lock(self->mu_);
          if (self->redraw_pending_) return;
          self->redraw_pending_ = true;
        }
        self->Redraw();
      });
    }
  }

  void Redraw() {
    bool resend;
    {
      std::lock_guard<std::mutex> lock(mu_);
      redraw_pending_ = false;
      if (stopped_) return;
      resend = std::exchange(resend_, false);
    }
    std::set<std::string> devices;
    uint64_t version = 0;
    auto grid = app_.GridJson(op_, peer_, group_, &devices, &version);
    if (!grid.ok()) {
      events_->Send("fin", French(grid.status()));
      events_->End();
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      devices_ = std::move(devices);
      if (*grid == last_sent_ && !resend) return;
      last_sent_ = *grid;
    }
    events_->Send("grille", Stamped(version, *grid));
  }

  ConsoleApp& app_;
  const std::string op_;
  const std::string peer_;
  const std::string group_;
  std::shared_ptr<EventStream> events_;
  std::mutex mu_;
  bool redraw_pending_ = false;
  bool resend_ = false;
  bool stopped_ = false;
  std::set<std::string> devices_;
  std::string last_sent_;
  uint64_t subscription_ = 0;
  uint64_t open_call_ = 0;
  uint64_t registry_id_ = 0;
};

ConsoleApp::ConsoleApp(ServerCore& core, ClassCommands& classes, ConsoleSessions& sessions,
                       ConsolePasswords& passwords)
    : core_(core), classes_(classes), sessions_(sessions), passwords_(passwords),
      sign_in_failures_(kMaxSignInFailures, kSignInWindowMs),
      password_failures_(kMaxPasswordFailures, kPasswordWindowMs),
      streams_(std::make_shared<StreamRegistry>()),
      grid_version_(static_cast<uint64_t>(Clock::System().NowUnixMs()) * 1000) {
  streams_->thread = std::thread([reg = streams_] { reg->io.run(); });
}

ConsoleApp::~ConsoleApp() {
  EndStreams();
  streams_->work.reset();
  streams_->io.stop();
  if (streams_->thread.joinable()) streams_->thread.join();
}

void ConsoleApp::EndStreams() {
  {
    std::lock_guard<std::mutex> lock(life_->mu);
    life_->alive = false;  // a command answered from now on carries no grid
  }
  std::vector<std::shared_ptr<GridStream>> open;
  {
    std::lock_guard<std::mutex> lock(streams_->mu);
    for (auto& [id, stream] : streams_->open) {
      open.push_back(std::static_pointer_cast<GridStream>(stream));
    }
  }
  for (auto& s : open) {
    s->Stop();
    s->events()->End();
  }
}

void ConsoleApp::ResendGrids(const std::string& group) {
  std::vector<std::shared_ptr<GridStream>> of_group;
  {
    std::lock_guard<std::mutex> lock(streams_->mu);
    for (auto& [id, stream] : streams_->open) {
      auto s = std::static_pointer_cast<GridStream>(stream);
      if (s->group() == group) of_group.push_back(std::move(s));
    }
  }
  for (auto& s : of_group) boost::asio::post(streams_->io, [s] { s->Resend(); });
}

size_t ConsoleApp::open_streams() const {
  std::lock_guard<std::mutex> lock(streams_->mu);
  return streams_->open.size();
}

void ConsoleApp::Handle(const HttpRequest& req, std::function<void(HttpResponse)> reply) {
  const std::string& p = req.path;
  if (req.method == "GET" || req.method == "HEAD") {
    if (p == "/" || p == "/connexion") return reply(Asset("/index.html"));
    if (p.rfind("/api/", 0) != 0) return reply(Asset(p));
  }
  if (p == "/api/connexion") {
    if (req.method != "POST") return reply(ConsoleError(405, "POST attendu"));
    return SignIn(req, std::move(reply));
  }
  auto caller = Authenticate(req);
  if (!caller.ok()) {
    return reply(ConsoleError(HttpStatusOf(caller.status()), caller.status().message()));
  }
  if (req.method == "POST") {
    // Every change carries the session's token, which only the page itself can read.
    if (!SameSecret(req.csrf_token, caller->session.csrf)) {
      core_.Audit(caller->op.name, "console.csrf", p,
                  PermissionDenied("missing or wrong CSRF token from " + req.peer));
      return reply(ConsoleError(403, "Requête refusée : jeton anti-CSRF absent ou invalide. "
                                     "Rechargez la page."));
    }
    if (p == "/api/commande") return Command(*caller, req, std::move(reply));
    if (p == "/api/deconnexion") {
      (void)sessions_.End(caller->cookie);
      HttpResponse r = JsonResponse(Json::Object());
      r.headers.push_back({"Set-Cookie", std::string(kCookieName) +
                                             "=; Path=/; Secure; HttpOnly; SameSite=Strict; "
                                             "Max-Age=0"});
      return reply(std::move(r));
    }
    return reply(ConsoleError(404, "Adresse inconnue : " + p));
  }
  if (req.method != "GET") return reply(ConsoleError(405, "Méthode non permise"));
  auto q = ParseForm(req.query);
  if (p == "/api/session") return reply(SessionInfo(*caller));
  if (p == "/api/classe") return reply(Grid(*caller, q["chemin"]));
  if (p == "/api/flux") return reply(Events(*caller, q["chemin"]));
  return reply(ConsoleError(404, "Adresse inconnue : " + p));
}

HttpResponse ConsoleApp::Asset(const std::string& path) {
  const ConsoleAsset* a = FindConsoleAsset(path);
  if (!a) return ConsoleError(404, "Adresse inconnue : " + path);
  HttpResponse r;
  r.content_type = std::string(a->content_type);
  r.body = std::string(a->data);
  r.headers.push_back({"Cache-Control", "no-cache"});
  return r;
}

Result<ConsoleApp::Caller> ConsoleApp::Authenticate(const HttpRequest& req) {
  Caller c;
  c.peer = req.peer;
  c.cookie = CookieValue(req.cookie, kCookieName);
  PREAU_ASSIGN_OR_RETURN(c.session, sessions_.Find(c.cookie, core_.Now()));
  auto op = core_.store->GetOperator(c.session.operator_name);
  if (!op.ok() || op->revoked_ms != 0) {
    (void)sessions_.EndAll(c.session.operator_name);
    return Unauthenticated("Votre accès a été révoqué : la session est terminée.");
  }
  c.op = std::move(*op);
  return c;
}

void ConsoleApp::SignIn(const HttpRequest& req, std::function<void(HttpResponse)> reply) {
  int64_t now = core_.Now();
  if (int64_t wait = sign_in_failures_.WaitFor(req.peer, now)) {
    return reply(ConsoleError(429, "Trop d'essais de connexion depuis cette adresse : "
                                   "réessayez dans " + std::to_string((wait + 999) / 1000) +
                                   " s."));
  }
  auto form = ParseForm(req.body);
  std::string cookie;
  Result<ConsoleSessions::Session> session = Unauthenticated("");
  const std::string name = form["nom"];
  if (!form["jeton"].empty() || name.empty()) {
    session = sessions_.RedeemLink(form["jeton"], now, &cookie);
  } else if (int64_t wait = password_failures_.WaitFor(name, now)) {
    core_.Audit("console " + req.peer, "console.signin", name,
                ResourceExhausted("too many wrong passwords"), "from " + req.peer);
    return reply(ConsoleError(429, "Trop de mots de passe erronés pour ce nom : réessayez dans " +
                                   std::to_string((wait + 59999) / 60000) + " min, ou "
                                   "demandez un lien de connexion."));
  } else if (passwords_.Verify(name, form["mot_de_passe"])) {
    session = sessions_.Open(name, EndOfLocalDay(now), &cookie);
  } else {
    password_failures_.Failed(name, now);
    session = Unauthenticated("Nom ou mot de passe incorrect.");
  }
  std::string who = session.ok() ? session->operator_name : "console " + req.peer;
  if (session.ok()) {
    auto op = core_.store->GetOperator(session->operator_name);
    if (!op.ok() || op->revoked_ms != 0) {
      (void)sessions_.EndAll(session->operator_name);
      session = Unauthenticated("Votre accès a été révoqué : connexion refusée.");
    }
  }
  core_.Audit(who, "console.signin", session.ok() ? session->operator_name : "",
              session.ok() ? Status::Ok() : session.status(), "from " + req.peer);
  if (!session.ok()) {
    sign_in_failures_.Failed(req.peer, now);
    return reply(ConsoleError(401, session.status().message()));
  }
  Json j = Json::Object();
  j.Set("operateur", Json::String(session->operator_name));
  j.Set("fin", Json::Int(session->until_ms));
  HttpResponse r = JsonResponse(j);
  int64_t max_age = std::max<int64_t>(1, (session->until_ms - now) / 1000);
  r.headers.push_back({"Set-Cookie", std::string(kCookieName) + "=" + cookie +
                                         "; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=" +
                                         std::to_string(max_age)});
  reply(std::move(r));
}

HttpResponse ConsoleApp::SessionInfo(const Caller& caller) {
  OperatorCall call(core_, caller.op, "console " + caller.peer, "AdminService.ListGroups", "");
  Json classes = Json::Array();
  Status st = call.Run([&](const OperatorRecord& op) {
    PREAU_ASSIGN_OR_RETURN(auto groups, core_.store->ListGroups());
    for (const auto& [path, count] : groups) {
      // A class is a group with devices of its own.
      if (!InScope(op, path) || count == 0) continue;
      Json c = Json::Object();
      c.Set("chemin", Json::String(path));
      c.Set("appareils", Json::Uint(count));
      classes.Add(std::move(c));
    }
    return Status::Ok();
  });
  call.Finish(st);
  if (!st.ok()) return ConsoleError(HttpStatusOf(st), st.message());
  Json j = Json::Object();
  j.Set("operateur", Json::String(caller.op.name));
  j.Set("role", Json::String(RoleName(caller.op.role)));
  j.Set("csrf", Json::String(caller.session.csrf));
  j.Set("fin", Json::Int(caller.session.until_ms));
  j.Set("fin_texte", Json::String(FormatLocalHourMinute(caller.session.until_ms)));
  j.Set("classes", std::move(classes));
  Json actions = Json::Array();
  for (const auto& a : SupportedActions()) actions.Add(Json::String(a));
  j.Set("actions", std::move(actions));
  return JsonResponse(j);
}

Result<std::string> ConsoleApp::GridJson(const std::string& operator_name,
                                         const std::string& peer, const std::string& group,
                                         std::set<std::string>* ids, uint64_t* version) {
  std::lock_guard<std::mutex> lock(grid_mu_);
  if (version) *version = ++grid_version_;
  auto op = core_.store->GetOperator(operator_name);
  Result<OperatorRecord> who = op;
  if (op.ok() && op->revoked_ms != 0) {
    who = Unauthenticated("Votre accès a été révoqué : la session est terminée.");
  }
  OperatorCall call(core_, who, "console " + peer, "AdminService.ListDevices", group);
  Json devices = Json::Array();
  int online = 0, locked = 0;
  Status st = call.Run([&](const OperatorRecord& op) {
    PREAU_RETURN_IF_ERROR(ValidateGroupPath(group));
    PREAU_RETURN_IF_ERROR(RequireScope(op, group));
    PREAU_ASSIGN_OR_RETURN(auto list, core_.store->ListDevices(group, false));
    for (const auto& d : list) {
      if (!InScope(op, d.group)) continue;
      if (ids) ids->insert(d.id);
      bool on = core_.connections.Online(d.id);
      Json t = Json::Object();
      t.Set("id", Json::String(d.id));
      t.Set("nom", Json::String(d.name));
      t.Set("en_ligne", Json::Bool(on));
      t.Set("verrou", Json::String(LockState(d.lock_state)));
      t.Set("verrou_detail", Json::String(d.lock_state));
      v1::Inventory inv;
      if (inv.ParseFromString(d.inventory) && inv.has_battery() && inv.battery().present()) {
        t.Set("batterie", Json::Uint(inv.battery().percent()));
        t.Set("en_charge", Json::Bool(inv.battery().charging()));
      } else {
        t.Set("batterie", Json::Null());
      }
      // Live, from the connection (an app's name, never a title); none when offline.
      std::string app = on ? core_.connections.ForegroundApp(d.id) : "";
      t.Set("appli", app.empty() ? Json::Null() : Json::String(app));
      online += on;
      locked += d.lock_state == "locked";
      devices.Add(std::move(t));
    }
    return Status::Ok();
  });
  call.Finish(st);
  if (!st.ok()) return st;
  Json j = Json::Object();
  j.Set("chemin", Json::String(group));
  j.Set("total", Json::Uint(devices.size()));
  j.Set("en_ligne", Json::Int(online));
  j.Set("verrouillees", Json::Int(locked));
  j.Set("appareils", std::move(devices));
  return j.Dump(0);
}

HttpResponse ConsoleApp::Grid(const Caller& caller, const std::string& group) {
  auto grid = GridJson(caller.op.name, caller.peer, group, nullptr);
  if (!grid.ok()) return ConsoleError(HttpStatusOf(grid.status()), French(grid.status()));
  HttpResponse r;
  r.body = *grid;
  return r;
}

HttpResponse ConsoleApp::Events(const Caller& caller, const std::string& group) {
  std::set<std::string> ids;
  uint64_t version = 0;
  auto grid = GridJson(caller.op.name, caller.peer, group, &ids, &version);
  if (!grid.ok()) return ConsoleError(HttpStatusOf(grid.status()), French(grid.status()));
  auto stream = std::make_shared<GridStream>(*this, caller.op.name, caller.peer, group);
  stream->Start(*grid, version, std::move(ids));
  HttpResponse r;
  r.content_type = "text/event-stream; charset=utf-8";
  r.headers.push_back({"Cache-Control", "no-store"});
  r.events = stream->events();
  return r;
}

void ConsoleApp::Command(const Caller& caller, const HttpRequest& req,
                         std::function<void(HttpResponse)> reply) {
  auto form = ParseForm(req.body);
  const std::string verb = form["action"];
  const std::string group = form["chemin"];
  auto kind = KindOf(verb);
  if (!kind.ok()) return reply(ConsoleError(400, kind.status().message()));
  v1::ClassCommandRequest cmd;
  cmd.set_group(group);
  cmd.set_kind(*kind);
  cmd.set_message(form["message"]);
  cmd.set_url(form["url"]);
  cmd.set_site(form["site"]);
  if (!form["minutes"].empty()) {
    char* end = nullptr;
    long minutes = std::strtol(form["minutes"].c_str(), &end, 10);
    if (*end != '\0' || minutes < 0 || minutes > 24 * 60) {
      return reply(ConsoleError(400, "Durée invalide : un nombre de minutes entre 0 et 1440."));
    }
    cmd.set_for_seconds(minutes * 60);
  }
  auto call = std::make_unique<OperatorCall>(core_, caller.op, "console " + caller.peer,
                                             "ClassService.Run", group);
  classes_.Start(std::move(call), cmd,
                 [this, life = life_, op = caller.op.name, peer = caller.peer, group, verb,
                  reply = std::move(reply)](const Status& st, v1::ClassCommandResponse resp) {
                   if (!st.ok()) return reply(ConsoleError(HttpStatusOf(st), French(st)));
                   Json j = Json::Object();
                   // The grid as it stands once every device answered, drawn by the page
                   // with the summary: each lock report reaches the server before its
                   // device's ack, so a tile of a device that locked shows it locked in
                   // the very frame the summary appears (the CLI's answer, on the page).
                   {
                     std::lock_guard<std::mutex> alive(life->mu);
                     uint64_t version = 0;
                     auto grid = life->alive ? GridJson(op, peer, group, nullptr, &version)
                                             : Result<std::string>(Unavailable("stopping"));
                     if (grid.ok()) j.Set("grille", Json::Raw(Stamped(version, *grid)));
                     if (life->alive) ResendGrids(group);
                   }
                   j.Set("resume", Json::String(
                       resp.results_size() == 0
                           ? "Aucun appareil dans cette classe"
                           : ClassSummary(SummaryVerb(verb), resp, SummaryLanguage::kFrench)));
                   Json details = Json::Array();
                   for (const auto& d : resp.results()) {
                     if (d.outcome() == v1::DEVICE_DONE) continue;
                     Json x = Json::Object();
                     x.Set("nom", Json::String(d.device_name()));
                     x.Set("pourquoi", Json::String(ClassOutcomeWhy(
                         SummaryVerb(verb), resp, d, SummaryLanguage::kFrench)));
                     details.Add(std::move(x));
                   }
                   j.Set("details", std::move(details));
                   reply(JsonResponse(j));
                 });
}

}  // namespace preau::server

#include "agent/policy/policy_plugin.h"

#include <cstdio>

#include <boost/asio/post.hpp>

#include "agent/enforce/default_enforcers.h"

namespace preau::agent {

namespace {
// What a report says rule by rule (reasons only for failures: "period: school_hours"
// changes through the day without anything going wrong).
std::string Outcomes(const v1::ComplianceReport& r) {
  std::string out = std::to_string(r.policy_version()) + (r.accepted() ? "+" : "-");
  for (const auto& rule : r.rules()) {
    out += "|" + rule.rule() + "=" + std::to_string(rule.outcome());
    if (rule.outcome() == v1::RULE_FAILED) out += ":" + rule.reason();
  }
  return out;
}

bool TeacherActive(const ClassControl& c) {
  return c.locked || !c.focus_app.empty() || !c.focus_url.empty();
}

// What a report's Wi-Fi rule says for a teacher who asked for it on (or back to the
// policy): the radio's state as the platform set it, or why it is not on.
Result<std::string> WifiVerdict(const v1::ComplianceReport& report, bool asked_on) {
  if (!report.accepted()) return FailedPrecondition(report.refusal());
  for (const auto& rule : report.rules()) {
    if (rule.rule() != "wifi") continue;
    if (rule.outcome() != v1::RULE_APPLIED) {
      return FailedPrecondition(rule.reason().empty() ? "the radio was not switched"
                                                      : rule.reason());
    }
    if (asked_on && rule.reason().rfind("on", 0) != 0) {
      return FailedPrecondition("the policy keeps the radio " + rule.reason());
    }
    return rule.reason();  // "on (teacher demand)", "off (always off)"...
  }
  if (asked_on) return FailedPrecondition("the policy's Wi-Fi rule did not switch the radio");
  return std::string("left as it is (the policy has no Wi-Fi rule)");
}
}  // namespace

PolicyPlugin::PolicyPlugin(std::shared_ptr<TeacherState> teacher, PolicyPluginOptions options)
    : teacher_(std::move(teacher)), options_(std::move(options)) {}

PolicyPlugin::~PolicyPlugin() { alive_->store(false); }

void PolicyPlugin::Start(AgentContext& ctx) {
  ctx_ = &ctx;
  store_ = std::make_unique<StatePolicyStore>(&ctx.state());
  PolicyEngineOptions o;
  o.device_id = ctx.identity().device_id;
  o.pinned_key_pem = ctx.identity().policy_key_pem;
  o.clock = &ctx.clock();
  auto enforcers = MakeDefaultEnforcers(&ctx.platform(), options_.installer);
  for (auto& rule : options_.extra_rules) enforcers.push_back(std::move(rule));
  options_.extra_rules.clear();
  engine_ = std::make_unique<PolicyEngine>(o, store_.get(), std::move(enforcers));
  Status loaded = engine_->Load();
  if (!loaded.ok() && loaded.code() != Code::kNotFound) {
    std::fprintf(stderr, "preau-agent: %s; waiting for a policy from the server\n",
                 loaded.message().c_str());
  }
  if (teacher_) {
    // A teacher's `class wifi`: applied through the engine at once, so that the ack says
    // what the radio is. Called on the strand by the class-control plugin.
    teacher_->SetWifiDemandHandler([this, alive = alive_](int64_t until) -> Result<std::string> {
      if (!alive->load()) return Unavailable("the agent is stopping");
      synced_wifi_until_ = until;
      engine_->SetTeacherWifiDemand(until != 0, until);
      if (engine_->held_version() == 0) {
        return FailedPrecondition("no policy held yet: the Wi-Fi follows the policy's rule");
      }
      v1::ComplianceReport report = engine_->Enforce(teacher_->Current());
      Report(report, /*periodic=*/true);
      return WifiVerdict(report, until != 0);
    });
  }
  // Input reported by the desktop session restarts the Wi-Fi idle timer (loi Abeille).
  ctx.platform().OnUserActivity([engine = engine_.get(), alive = alive_] {
    if (alive->load()) engine->NoteActivity();
  });
  // Enforce at once: a device restarted offline must not wait for its server.
  EnforceAndReport();
  timer_ = std::make_unique<boost::asio::steady_timer>(ctx.strand());
  ArmTimer();
  if (options_.on_start) {
    options_.on_start([this, alive = alive_, strand = &ctx.strand()] {
      if (!alive->load()) return;
      boost::asio::post(*strand, [this, alive] {
        if (alive->load()) EnforceAndReport();
      });
    });
  }
  if (teacher_) {
    auto alive = alive_;
    Strand* strand = &ctx.strand();
    teacher_->OnChange([this, alive, strand] {
      if (!alive->load()) return;
      boost::asio::post(*strand, [this, alive] {
        if (alive->load()) EnforceAndReport();
      });
    });
  }
}

void PolicyPlugin::ArmTimer() {
  timer_->expires_after(options_.enforce_every);
  timer_->async_wait([this, alive = alive_](boost::system::error_code ec) {
    if (ec || !alive->load()) return;
    EnforceAndReport();
    ArmTimer();
  });
}

void PolicyPlugin::EnforceAndReport() {
  if (!engine_) return;
  SyncWifiDemand();
  if (engine_->held_version() == 0) return;
  // Tell class control whether the policy itself wants the screen locked now (curfew), so
  // that a teacher's unlock never lifts it, not even for a moment.
  if (teacher_) teacher_->SetPolicyHoldsLock(engine_->Evaluate().locked);
  Report(engine_->Enforce(teacher_ ? teacher_->Current() : ClassControl{}), /*periodic=*/true);
}

void PolicyPlugin::SyncWifiDemand() {
  // A demand held across a restart (class control keeps it) reaches the engine here.
  int64_t until = teacher_ ? teacher_->Current().wifi_until_unix_ms : 0;
  if (until == synced_wifi_until_) return;
  synced_wifi_until_ = until;
  engine_->SetTeacherWifiDemand(until > ctx_->clock().NowUnixMs(), until);
}

void PolicyPlugin::Report(const v1::ComplianceReport& report, bool periodic) {
  std::string outcomes = Outcomes(report);
  if (periodic && outcomes == last_outcomes_) return;
  // A refusal says nothing about the bundle held: the next tick compares with the last
  // report about that one.
  if (report.accepted()) last_outcomes_ = outcomes;
  v1::AgentMessage m;
  *m.mutable_compliance() = report;
  // Every bundle's own report is kept until acked; an unsent tick report is replaced by a
  // newer one (only the latest state matters).
  ctx_->SendReliable(std::move(m), periodic ? "policy-tick" : "policy-report",
                     /*replace_kind=*/periodic);
}

void PolicyPlugin::FillHello(v1::Hello* hello) {
  hello->set_policy_version(engine_ ? engine_->held_version() : 0);
}

bool PolicyPlugin::OnServerMessage(const v1::ServerMessage& msg) {
  if (!msg.has_policy() || !engine_) return false;
  v1::ComplianceReport report = engine_->Apply(msg.policy());
  if (report.accepted() && teacher_ && TeacherActive(teacher_->Current())) {
    // Apply enforced the policy alone; a teacher's lock or focus must hold over it.
    report = engine_->Enforce(teacher_->Current());
  }
  if (!report.accepted()) {
    // Every refusal names itself ("policy bundle refused: ...", "policy bundle not kept: ...").
    std::fprintf(stderr, "preau-agent: %s\n", report.refusal().c_str());
  }
  Report(report, /*periodic=*/false);
  return true;
}

void PolicyPlugin::Stop() {
  alive_->store(false);
  if (timer_) timer_->cancel();
}

}  // namespace preau::agent

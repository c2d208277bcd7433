#include "tools/preau/console_commands.h"

#include <qrencode.h>
#include <time.h>

#include <memory>

#include "common/duration.h"
#include "preau/v1/console.grpc.pb.h"

namespace preau::cli {

namespace {

// "HH:MM" today, local time, as Unix milliseconds.
Result<int64_t> TodayAt(const std::string& hhmm) {
  int h = -1, m = -1;
  char extra = 0;
  if (std::sscanf(hhmm.c_str(), "%d:%d%c", &h, &m, &extra) != 2 || h < 0 || h > 23 || m < 0 ||
      m > 59 || hhmm.size() != 5) {
    return InvalidArgument("--until '" + hhmm + "': expected a time today, HH:MM (e.g. 16:30)");
  }
  time_t now = time(nullptr);
  struct tm tm {};
  localtime_r(&now, &tm);
  tm.tm_hour = h;
  tm.tm_min = m;
  tm.tm_sec = 0;
  tm.tm_isdst = -1;
  int64_t at = static_cast<int64_t>(mktime(&tm)) * 1000;
  if (at <= static_cast<int64_t>(now) * 1000) {
    return InvalidArgument("--until " + hhmm + " is already past today");
  }
  return at;
}

}  // namespace

Result<std::string> QrCodeText(const std::string& text) {
  std::unique_ptr<QRcode, void (*)(QRcode*)> qr(
      QRcode_encodeString(text.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1), QRcode_free);
  if (!qr) return Internal("could not make the QR code");
  const int n = qr->width;
  const int quiet = 2;
  auto dark = [&](int x, int y) {
    if (x < 0 || y < 0 || x >= n || y >= n) return false;
    return (qr->data[y * n + x] & 1) != 0;
  };
  // Upper half block: the top module is the glyph's colour, the bottom one the
  // background's; light is drawn, dark is left blank.
  std::string out;
  for (int y = -quiet; y < n + quiet; y += 2) {
    for (int x = -quiet; x < n + quiet; ++x) {
      bool top = !dark(x, y), bottom = !dark(x, y + 1);
      out += top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ";
    }
    out += "\n";
  }
  return out;
}

Status OperatorsLink(const CliContext& ctx, const OperatorsLinkOptions& o) {
  v1::ConsoleLinkRequest req;
  req.set_operator_name(o.name);
  if (!o.until.empty()) {
    PREAU_ASSIGN_OR_RETURN(auto until, TodayAt(o.until));
    req.set_session_until_unix_ms(until);
  }
  PREAU_ASSIGN_OR_RETURN(auto client, AdminClient::Connect(ctx.connection));
  v1::ConsoleService::Stub stub(client->channel());
  v1::ConsoleLinkResponse resp;
  PREAU_RETURN_IF_ERROR(client->Call([&](grpc::ClientContext* c) {
    return stub.CreateLink(c, req, &resp);
  }).Context("making a console link for operator '" + o.name + "'"));
  // The link alone on stdout (scripts); the rest is for the person at the terminal.
  Print(ctx, resp.url() + "\n");
  *ctx.err << "One-time link for " << o.name << ", valid until "
           << FormatLocalHourMinute(resp.expires_unix_ms()) << "; the session it opens ends at "
           << FormatLocalTime(resp.session_until_unix_ms()) << ".\n";
  if (!o.no_qr) {
    auto qr = QrCodeText(resp.url());
    if (qr.ok()) *ctx.err << *qr;
  }
  return Status::Ok();
}

Status OperatorsPassword(const CliContext& ctx, const OperatorsPasswordOptions& o,
                         std::istream& in) {
  v1::ConsolePasswordRequest req;
  req.set_operator_name(o.name);
  if (!o.clear) {
    std::string line;
    if (!std::getline(in, line) || line.empty()) {
      return InvalidArgument("give the password on the first line of standard input "
                             "(or --clear to remove it)");
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    req.set_password(line);
  }
  PREAU_ASSIGN_OR_RETURN(auto client, AdminClient::Connect(ctx.connection));
  v1::ConsoleService::Stub stub(client->channel());
  v1::ConsolePasswordResponse resp;
  PREAU_RETURN_IF_ERROR(client->Call([&](grpc::ClientContext* c) {
    return stub.SetPassword(c, req, &resp);
  }).Context("setting the console password of operator '" + o.name + "'"));
  Print(ctx, o.clear ? "Removed the console password of " + o.name + "\n"
                     : "Set the console password of " + o.name + "\n");
  return Status::Ok();
}

}  // namespace preau::cli

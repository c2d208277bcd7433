#include "session/big_text.h"

#include <X11/Xutil.h>

#include <algorithm>
#include <cstdint>
#include <sstream>

namespace preau::session {
namespace {

constexpr const char* kFonts[] = {
    "-misc-fixed-bold-r-normal--18-*-*-*-*-*-iso10646-1",
    "-misc-fixed-medium-r-normal--20-*-*-*-*-*-iso10646-1",
    "10x20",
    "fixed",
};

// UTF-8 to the 16-bit characters the core font calls take (outside the BMP: '?').
std::vector<XChar2b> ToChar2b(const std::string& s) {
  std::vector<XChar2b> out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    uint32_t cp = '?';
    int len = 1;
    if (c < 0x80) {
      cp = c;
    } else if ((c & 0xE0) == 0xC0 && i + 1 < s.size()) {
      cp = ((c & 0x1F) << 6) | (s[i + 1] & 0x3F);
      len = 2;
    } else if ((c & 0xF0) == 0xE0 && i + 2 < s.size()) {
      cp = ((c & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
      len = 3;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
    }
    i += len;
    if (cp > 0xFFFF) cp = '?';
    out.push_back(XChar2b{static_cast<unsigned char>(cp >> 8), static_cast<unsigned char>(cp & 0xFF)});
  }
  return out;
}

size_t Utf8Length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

BigText::BigText(Display* dpy) : dpy_(dpy) {
  for (const char* name : kFonts) {
    font_ = XLoadQueryFont(dpy_, name);
    if (font_) break;
  }
}

BigText::~BigText() {
  if (font_) XFreeFont(dpy_, font_);
}

int BigText::line_height() const { return font_ ? font_->ascent + font_->descent : 16; }

std::vector<std::string> BigText::Wrap(const std::string& text, int width, int scale) const {
  int char_w = font_ ? std::max<int>(1, font_->max_bounds.width) : 8;
  size_t max_chars = std::max<size_t>(8, static_cast<size_t>(width / (char_w * scale)));
  std::vector<std::string> lines;
  std::istringstream words(text);
  std::string word, line;
  while (words >> word) {
    if (!line.empty() && Utf8Length(line) + 1 + Utf8Length(word) > max_chars) {
      lines.push_back(line);
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  if (!line.empty()) lines.push_back(line);
  return lines;
}

void BigText::Draw(Drawable d, GC gc, const std::string& text, int x0, int width, int y,
                   int scale) {
  if (!font_) return;
  std::vector<XChar2b> chars = ToChar2b(text);
  int w = XTextWidth16(font_, chars.data(), static_cast<int>(chars.size()));
  int h = font_->ascent + font_->descent;
  if (w <= 0) return;
  Pixmap pm = XCreatePixmap(dpy_, d, w, h, 1);
  GC pgc = XCreateGC(dpy_, pm, 0, nullptr);
  XSetFont(dpy_, pgc, font_->fid);
  XSetForeground(dpy_, pgc, 0);
  XFillRectangle(dpy_, pm, pgc, 0, 0, w, h);
  XSetForeground(dpy_, pgc, 1);
  XDrawString16(dpy_, pm, pgc, 0, font_->ascent, chars.data(), static_cast<int>(chars.size()));
  XImage* img = XGetImage(dpy_, pm, 0, 0, w, h, 1, XYPixmap);
  int left = x0 + (width - w * scale) / 2;
  std::vector<XRectangle> rects;
  if (img) {
    // One rectangle per run of set pixels on a row.
    for (int py = 0; py < h; ++py) {
      for (int px = 0; px < w;) {
        if (!XGetPixel(img, px, py)) {
          ++px;
          continue;
        }
        int run = px;
        while (run < w && XGetPixel(img, run, py)) ++run;
        rects.push_back(XRectangle{static_cast<short>(left + px * scale),
                                   static_cast<short>(y + py * scale),
                                   static_cast<unsigned short>((run - px) * scale),
                                   static_cast<unsigned short>(scale)});
        px = run;
      }
    }
    XDestroyImage(img);
  }
  XFreeGC(dpy_, pgc);
  XFreePixmap(dpy_, pm);
  if (!rects.empty()) XFillRectangles(dpy_, d, gc, rects.data(), static_cast<int>(rects.size()));
}

}  // namespace preau::session

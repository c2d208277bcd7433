// BigText: large, readable type on X11 without any font package: the server's "fixed"
// font (which every X server has; its ISO 10646 variant when present, for French
// accents) drawn into a bitmap and enlarged pixel by pixel. Used by the lock screen and
// the teacher's messages.
#pragma once

#include <X11/Xlib.h>

#include <string>
#include <vector>

namespace preau::session {

class BigText {
 public:
  explicit BigText(Display* dpy);
  ~BigText();
  BigText(const BigText&) = delete;
  BigText& operator=(const BigText&) = delete;

  bool ok() const { return font_ != nullptr; }
  int line_height() const;  // of one line at scale 1
  // Draws `text` (UTF-8) centred in [x0, x0 + width) with its top at `y`, each font
  // pixel a `scale`-sized square in `gc`'s foreground.
  void Draw(Drawable d, GC gc, const std::string& text, int x0, int width, int y, int scale);
  // Splits `text` at spaces into lines that fit `width` at `scale`.
  std::vector<std::string> Wrap(const std::string& text, int width, int scale) const;

 private:
  Display* dpy_;
  XFontStruct* font_ = nullptr;
};

}  // namespace preau::session

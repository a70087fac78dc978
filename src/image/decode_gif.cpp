// GIF, first frame only, through giflib, arranged like Pillow 9.4 (GifImagePlugin):
//   * the canvas is the logical screen, grown to contain the first frame if it sticks out;
//   * the canvas starts filled with the frame's transparent index when its graphic control
//     extension sets one, otherwise with index 0; the frame's rectangle is decoded onto it;
//   * colours come from the local colour table, else the global one, else index i is gray
//     (i, i, i) (Pillow's mode "L"); indices past a table's end read the same gray ramp.
// Transparency is not applied (convert("RGB") of a "P" image ignores it).
#include <gif_lib.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "image/decode_internal.h"

namespace dsvl::image::detail {
namespace {

struct GifReader {
  const uint8_t* data;
  size_t size;
  size_t pos;
  bool short_read;
};

int read_cb(GifFileType* gif, GifByteType* out, int n) {
  auto* r = static_cast<GifReader*>(gif->UserData);
  size_t k = n < 0 ? 0 : size_t(n);
  if (k > r->size - r->pos) {
    k = r->size - r->pos;
    r->short_read = true;
  }
  std::memcpy(out, r->data + r->pos, k);
  r->pos += k;
  return int(k);
}

struct GifCloser {
  void operator()(GifFileType* g) const {
    int err = 0;
    DGifCloseFile(g, &err);
  }
};
using GifPtr = std::unique_ptr<GifFileType, GifCloser>;

[[noreturn]] void fail_gif(const Source& src, const GifReader& r, int code) {
  // giflib reports running out of data as a read failure; other codes mean malformed data even
  // if it later read past the end.
  const bool eof_error = code == D_GIF_ERR_READ_FAILED || code == D_GIF_ERR_EOF_TOO_SOON ||
                         code == D_GIF_ERR_NO_SCRN_DSCR || code == D_GIF_ERR_NO_IMAG_DSCR;
  if (r.short_read && eof_error)
    fail(src, "truncated GIF (the file ends before the first image is complete)");
  // giflib also uses "read failed" for some malformed fields (e.g. an LZW code size above 8).
  const char* msg = code == D_GIF_ERR_READ_FAILED ? "malformed data" : GifErrorString(code);
  fail(src, std::string("corrupt GIF: ") + (msg ? msg : "unknown error"));
}

// Skips the sub-blocks of an extension; returns the transparent index a graphic control
// extension sets (-1 otherwise).
int read_extension(const Source& src, const GifReader& r, GifFileType* gif) {
  int code = 0;
  GifByteType* ext = nullptr;
  if (DGifGetExtension(gif, &code, &ext) == GIF_ERROR) fail_gif(src, r, gif->Error);
  int transparent = -1;
  // ext[0] is the sub-block length: flags, delay (2 bytes), transparent index.
  if (code == GRAPHICS_EXT_FUNC_CODE && ext && ext[0] >= 4 && (ext[1] & 1)) transparent = ext[4];
  while (ext) {
    if (DGifGetExtensionNext(gif, &ext) == GIF_ERROR) fail_gif(src, r, gif->Error);
  }
  return transparent;
}

// Rows of an interlaced frame arrive in four passes.
std::vector<int> row_order(int height, bool interlaced) {
  std::vector<int> order;
  order.reserve(size_t(height));
  if (!interlaced) {
    for (int y = 0; y < height; ++y) order.push_back(y);
    return order;
  }
  const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
  for (int p = 0; p < 4; ++p)
    for (int y = start[p]; y < height; y += step[p]) order.push_back(y);
  return order;
}

Palette palette_of(const ColorMapObject* map) {
  if (!map || !map->Colors || map->ColorCount <= 0) return Palette();
  std::vector<uint8_t> rgb;
  for (int i = 0; i < map->ColorCount && i < 256; ++i) {
    rgb.push_back(map->Colors[i].Red);
    rgb.push_back(map->Colors[i].Green);
    rgb.push_back(map->Colors[i].Blue);
  }
  return Palette(rgb.data(), int(rgb.size() / 3));
}

}  // namespace

RgbImage decode_gif(const Source& src) {
  GifReader r{src.data, src.size, 0, false};
  int err = 0;
  GifPtr gif(DGifOpen(&r, read_cb, &err));
  if (!gif) fail_gif(src, r, err);

  // Records up to the first image descriptor; the last transparency flag seen wins (Pillow).
  int transparent = -1;
  for (;;) {
    GifRecordType type;
    if (DGifGetRecordType(gif.get(), &type) == GIF_ERROR) fail_gif(src, r, gif->Error);
    if (type == TERMINATE_RECORD_TYPE) fail(src, "corrupt GIF: the file holds no image");
    if (type == EXTENSION_RECORD_TYPE) {
      const int t = read_extension(src, r, gif.get());
      if (t >= 0) transparent = t;
      continue;
    }
    if (type == IMAGE_DESC_RECORD_TYPE) break;
  }
  if (DGifGetImageDesc(gif.get()) == GIF_ERROR) fail_gif(src, r, gif->Error);
  const GifImageDesc& desc = gif->Image;
  const int64_t x1 = int64_t(desc.Left) + desc.Width, y1 = int64_t(desc.Top) + desc.Height;
  check_dimensions(src, "GIF", desc.Width, desc.Height);
  const int64_t canvas_w = std::max<int64_t>(gif->SWidth, x1);
  const int64_t canvas_h = std::max<int64_t>(gif->SHeight, y1);
  check_dimensions(src, "GIF", canvas_w, canvas_h);

  // Decode the frame's indices onto an index canvas, then map through the palette.
  const int w = int(canvas_w), h = int(canvas_h);
  std::vector<uint8_t> index(size_t(w) * size_t(h), uint8_t(transparent >= 0 ? transparent : 0));
  std::vector<GifPixelType> line(size_t(desc.Width));
  for (int y : row_order(desc.Height, desc.Interlace)) {
    if (DGifGetLine(gif.get(), line.data(), desc.Width) == GIF_ERROR) fail_gif(src, r, gif->Error);
    std::memcpy(index.data() + size_t(desc.Top + y) * size_t(w) + size_t(desc.Left), line.data(),
                line.size());
  }
  const Palette pal = palette_of(desc.ColorMap ? desc.ColorMap : gif->SColorMap);
  RgbImage img = new_image(w, h);
  for (size_t i = 0; i < index.size(); ++i) std::memcpy(&img.rgb[3 * i], pal.at(index[i]), 3);
  return img;
}

}  // namespace dsvl::image::detail

// JPEG through libjpeg-turbo with the settings Pillow 9.4 uses (JpegDecode.c): ISLOW integer
// DCT, fancy upsampling, libjpeg's own colour-space guess; the output colour space follows the
// number of components (1 -> gray, 3 -> RGB, 4 -> CMYK). Gray is replicated; CMYK is read with
// Pillow's "CMYK;I" raw mode (Adobe's inverted convention) and converted with its integer
// cmyk2rgb (libImaging/Convert.c).
//
// libjpeg's fatal errors longjmp back into the small C-style functions below. Warnings are
// ignored like Pillow does (corrupt-data warnings still give an image), except running out of
// data: Pillow feeds libjpeg through a suspending source and reports "image file is truncated"
// whenever libjpeg still wants bytes at the end of the file. With our non-suspending source that
// is (a) libjpeg needing entropy bits past the end (its JWRN_HIT_MARKER warning after our fake
// EOI), or (b) a multi-scan file whose real EOI is missing (jpeg_start_decompress must read the
// whole file). A baseline file that lacks only its EOI marker decodes, as in Pillow.
#include <cstdio>
// jpeglib.h needs size_t and FILE declared first.
#include <jerror.h>
#include <jpeglib.h>

#include <csetjmp>
#include <cstring>
#include <memory>
#include <vector>

#include "image/decode_internal.h"

namespace dsvl::image::detail {
namespace {

// A hostile progressive file can hold thousands of tiny scans that each rescan the whole
// coefficient buffer; real files have about ten.
constexpr int kMaxScans = 500;

// Plain data shared with libjpeg's callbacks (reached through cinfo.client_data).
struct JpegState {
  jpeg_decompress_struct cinfo;
  jpeg_error_mgr err;
  jpeg_source_mgr src;
  jpeg_progress_mgr progress;
  std::jmp_buf jump;
  bool created = false;
  bool hit_eof = false;    // the source ran out and fed a fake EOI
  bool truncated = false;  // ... and libjpeg really needed the missing bytes
  bool too_many_scans = false;
  char message[JMSG_LENGTH_MAX] = "";
};

JpegState* state_of(j_common_ptr c) { return static_cast<JpegState*>(c->client_data); }

void error_exit(j_common_ptr c) {
  JpegState* s = state_of(c);
  (*c->err->format_message)(c, s->message);
  std::longjmp(s->jump, 1);
}

// Warnings are not errors (as in Pillow), except the one that means "needed data past EOF".
void emit_message(j_common_ptr c, int level) {
  JpegState* s = state_of(c);
  if (level < 0 && s->hit_eof && c->err->msg_code == JWRN_HIT_MARKER) s->truncated = true;
}

void progress_monitor(j_common_ptr c) {
  auto* d = reinterpret_cast<j_decompress_ptr>(c);
  if (d->input_scan_number > kMaxScans) {
    JpegState* s = state_of(c);
    s->too_many_scans = true;
    std::longjmp(s->jump, 1);
  }
}

// Memory source. At the end of the data it reports the fact and feeds a fake EOI marker, as
// libjpeg's own sources do, so the library finishes cleanly and we decide what it means.
void init_source(j_decompress_ptr) {}
void term_source(j_decompress_ptr) {}

boolean fill_input_buffer(j_decompress_ptr d) {
  static const JOCTET kEoi[2] = {0xFF, JPEG_EOI};
  state_of(reinterpret_cast<j_common_ptr>(d))->hit_eof = true;
  d->src->next_input_byte = kEoi;
  d->src->bytes_in_buffer = 2;
  return TRUE;
}

void skip_input_data(j_decompress_ptr d, long n) {
  if (n <= 0) return;
  while (size_t(n) > d->src->bytes_in_buffer) {
    n -= long(d->src->bytes_in_buffer);
    fill_input_buffer(d);
  }
  d->src->next_input_byte += n;
  d->src->bytes_in_buffer -= size_t(n);
}

// C-style steps: only trivially destructible locals between setjmp and any longjmp.
bool open_jpeg(JpegState* s, const uint8_t* data, size_t size) {
  s->cinfo.err = jpeg_std_error(&s->err);
  s->err.error_exit = error_exit;
  s->err.emit_message = emit_message;
  s->cinfo.client_data = s;
  if (setjmp(s->jump)) return false;
  jpeg_create_decompress(&s->cinfo);
  s->created = true;
  s->cinfo.client_data = s;  // jpeg_create_decompress clears the struct but keeps err
  s->src.init_source = init_source;
  s->src.fill_input_buffer = fill_input_buffer;
  s->src.skip_input_data = skip_input_data;
  s->src.resync_to_restart = jpeg_resync_to_restart;
  s->src.term_source = term_source;
  s->src.next_input_byte = data;
  s->src.bytes_in_buffer = size;
  s->cinfo.src = &s->src;
  s->progress.progress_monitor = progress_monitor;
  s->cinfo.progress = &s->progress;
  jpeg_read_header(&s->cinfo, TRUE);
  return true;
}

// Decodes every scanline into `out` (rows of `stride` bytes); `truncated` tells whether data
// was missing.
bool read_scanlines(JpegState* s, J_COLOR_SPACE space, uint8_t* out, size_t stride) {
  if (setjmp(s->jump)) return false;
  s->cinfo.out_color_space = space;
  s->cinfo.dct_method = JDCT_ISLOW;
  s->cinfo.do_fancy_upsampling = TRUE;
  jpeg_start_decompress(&s->cinfo);
  if (s->hit_eof && jpeg_has_multiple_scans(&s->cinfo)) {
    s->truncated = true;
    return true;
  }
  JSAMPROW rows[16];
  while (s->cinfo.output_scanline < s->cinfo.output_height) {
    const JDIMENSION y = s->cinfo.output_scanline;
    JDIMENSION n = s->cinfo.output_height - y;
    if (n > 16) n = 16;
    for (JDIMENSION i = 0; i < n; ++i) rows[i] = out + (y + i) * stride;
    jpeg_read_scanlines(&s->cinfo, rows, n);
  }
  return true;
}

struct JpegGuard {
  JpegState* s;
  ~JpegGuard() {
    if (s->created) jpeg_destroy_decompress(&s->cinfo);
  }
};

// Pillow: unpackCMYKI (inverts every byte), then cmyk2rgb with MULDIV255.
void cmyk_to_rgb(const uint8_t* cmyk, size_t n, uint8_t* rgb) {
  auto muldiv255 = [](int a, int b) {
    const int t = a * b + 128;
    return ((t >> 8) + t) >> 8;
  };
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = cmyk + 4 * i;
    const int nk = p[3];  // 255 - (255 - raw K)
    for (int c = 0; c < 3; ++c) {
      const int v = nk - muldiv255(255 - p[c], nk);
      rgb[3 * i + c] = uint8_t(v < 0 ? 0 : v > 255 ? 255 : v);
    }
  }
}

}  // namespace

RgbImage decode_jpeg(const Source& src) {
  static const char* kTruncated = "truncated JPEG (the file ends before the image is complete)";
  auto s = std::make_unique<JpegState>();
  std::memset(&s->cinfo, 0, sizeof s->cinfo);
  JpegGuard guard{s.get()};
  auto fail_jpeg = [&]() {
    if (s->too_many_scans)
      fail(src, "corrupt JPEG: more than " + std::to_string(kMaxScans) + " progressive scans");
    if (s->hit_eof) fail(src, kTruncated);
    fail(src, std::string("corrupt JPEG: ") + s->message);
  };
  if (!open_jpeg(s.get(), src.data, src.size)) fail_jpeg();
  check_dimensions(src, "JPEG", s->cinfo.image_width, s->cinfo.image_height);
  const int w = int(s->cinfo.image_width), h = int(s->cinfo.image_height);
  const int comps = s->cinfo.num_components;
  if (comps != 1 && comps != 3 && comps != 4)
    fail(src, "unsupported JPEG: " + std::to_string(comps) + " color components");

  RgbImage img = new_image(w, h);
  const size_t n = size_t(w) * size_t(h);
  if (comps == 3) {
    if (!read_scanlines(s.get(), JCS_RGB, img.rgb.data(), size_t(w) * 3)) fail_jpeg();
  } else if (comps == 1) {
    // Decode into the first third of the buffer, then replicate back to front in place.
    if (!read_scanlines(s.get(), JCS_GRAYSCALE, img.rgb.data(), size_t(w))) fail_jpeg();
    uint8_t* p = img.rgb.data();
    for (size_t i = n; i-- > 0;) p[3 * i] = p[3 * i + 1] = p[3 * i + 2] = p[i];
  } else {
    std::vector<uint8_t> cmyk(n * 4);
    if (!read_scanlines(s.get(), JCS_CMYK, cmyk.data(), size_t(w) * 4)) fail_jpeg();
    cmyk_to_rgb(cmyk.data(), n, img.rgb.data());
  }
  if (s->truncated) fail(src, kTruncated);
  return img;
}

}  // namespace dsvl::image::detail

// WebP through libwebp. Pillow 9.4 decodes WebP with WebPAnimDecoder in non-premultiplied RGBA
// (or RGBX) and drops alpha for convert("RGB"). For a still image the animation decoder decodes
// the single frame straight onto its zeroed canvas, so the colour channels equal a plain
// WebPDecode to RGB, which is what we do (same default options: fancy upsampling, no dithering).
// Animated files are refused: compositing frames would need libwebpdemux.
#include <webp/decode.h>

#include <string>

#include "image/decode_internal.h"

namespace dsvl::image::detail {
namespace {

const char* status_text(VP8StatusCode st) {
  switch (st) {
    case VP8_STATUS_OUT_OF_MEMORY:
      return "out of memory";
    case VP8_STATUS_INVALID_PARAM:
      return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR:
      return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE:
      return "unsupported feature";
    case VP8_STATUS_SUSPENDED:
      return "suspended";
    case VP8_STATUS_USER_ABORT:
      return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA:
      return "not enough data";
    default:
      return "unknown error";
  }
}

[[noreturn]] void fail_status(const Source& src, VP8StatusCode st) {
  if (st == VP8_STATUS_NOT_ENOUGH_DATA)
    fail(src, "truncated WebP (the file ends before the image is complete)");
  fail(src, std::string("corrupt WebP: ") + status_text(st));
}

}  // namespace

RgbImage decode_webp(const Source& src) {
  WebPDecoderConfig cfg;
  if (!WebPInitDecoderConfig(&cfg)) fail(src, "WebP: libwebp version mismatch");
  VP8StatusCode st = WebPGetFeatures(src.data, src.size, &cfg.input);
  if (st != VP8_STATUS_OK) fail_status(src, st);
  if (cfg.input.has_animation)
    fail(src, "unsupported WebP: animated WebP files are not supported (send a still image)");
  check_dimensions(src, "WebP", cfg.input.width, cfg.input.height);

  RgbImage img = new_image(cfg.input.width, cfg.input.height);
  cfg.output.colorspace = MODE_RGB;
  cfg.output.is_external_memory = 1;
  cfg.output.u.RGBA.rgba = img.rgb.data();
  cfg.output.u.RGBA.stride = img.width * 3;
  cfg.output.u.RGBA.size = img.rgb.size();
  st = WebPDecode(src.data, src.size, &cfg);
  WebPFreeDecBuffer(&cfg.output);  // frees nothing for external memory; keeps the API contract
  if (st != VP8_STATUS_OK) fail_status(src, st);
  return img;
}

}  // namespace dsvl::image::detail

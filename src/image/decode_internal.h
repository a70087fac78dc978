// Shared pieces of the per-format decoders (decode_<format>.cpp). Not part of the public API.
//
// The C libraries (libpng, libjpeg) report fatal errors by longjmp. The decoders keep every
// setjmp inside small C-style functions whose frames hold only trivially destructible locals,
// so a longjmp never skips a C++ destructor; those functions return false and leave a message,
// and the C++ caller turns it into an exception.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "image/image.h"

namespace dsvl::image::detail {

// The encoded bytes and how to talk about them.
struct Source {
  const uint8_t* data;
  size_t size;
  const std::string& name;  // file path or caller-given name, for messages
  const DecodeLimits& limits;
};

// Throws IoError("<name>: <what>").
[[noreturn]] void fail(const Source& src, const std::string& what);

// Rejects zero/negative sizes (IoError) and more than limits.max_pixels pixels (LimitError),
// naming the file, the format and the dimensions. Call it before allocating pixel memory.
void check_dimensions(const Source& src, const char* format, int64_t width, int64_t height);

// An RgbImage of the given size with its pixel buffer allocated (uninitialised values).
RgbImage new_image(int width, int height);

// Pillow's palette lookup: entries past `count` hold its default gray ramp (i, i, i)
// (libImaging/Palette.c ImagingPaletteNew). `rgb` has count*3 bytes, count <= 256.
struct Palette {
  uint8_t rgb[256 * 3];
  explicit Palette(const uint8_t* entries = nullptr, int count = 0, int stride = 3,
                   bool bgr = false);
  const uint8_t* at(int index) const { return rgb + index * 3; }
};

RgbImage decode_png(const Source& src);
RgbImage decode_jpeg(const Source& src);
RgbImage decode_webp(const Source& src);
RgbImage decode_gif(const Source& src);
RgbImage decode_bmp(const Source& src);

}  // namespace dsvl::image::detail

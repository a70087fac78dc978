// Entry points of decoding: read the file, recognise the format from its first bytes (never
// from the file name, like Pillow), hand the bytes to the matching decoder, and turn everything
// that is not a supported image into a message that says what the bytes look like instead.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "image/decode_internal.h"

namespace dsvl::image {
namespace detail {

void fail(const Source& src, const std::string& what) { throw IoError(src.name + ": " + what); }

void check_dimensions(const Source& src, const char* format, int64_t width, int64_t height) {
  const std::string dims = std::to_string(width) + "x" + std::to_string(height);
  if (width <= 0 || height <= 0)
    fail(src, std::string(format) + " image has a zero size (" + dims + ")");
  // Each side fits in 32 unsigned bits in every format (BMP reaches 2^32 - 1), so the product
  // is taken unsigned: in int64 it could overflow (found by fuzz/targets/image_bmp).
  const uint64_t product = uint64_t(width) * uint64_t(height);
  const int64_t pixels = product > uint64_t(INT64_MAX) ? INT64_MAX : int64_t(product);
  if (pixels > src.limits.max_pixels || width > INT32_MAX / 4 || height > INT32_MAX / 4) {
    throw LimitError(src.name + ": " + format + " image is " + dims + " = " +
                     std::to_string(pixels) + " pixels, more than the limit of " +
                     std::to_string(src.limits.max_pixels) + " pixels");
  }
}

RgbImage new_image(int width, int height) {
  RgbImage img;
  img.width = width;
  img.height = height;
  img.rgb.resize(size_t(width) * size_t(height) * 3);
  return img;
}

Palette::Palette(const uint8_t* entries, int count, int stride, bool bgr) {
  for (int i = 0; i < 256; ++i) rgb[i * 3] = rgb[i * 3 + 1] = rgb[i * 3 + 2] = uint8_t(i);
  for (int i = 0; i < count && i < 256; ++i) {
    const uint8_t* e = entries + size_t(i) * stride;
    rgb[i * 3 + 0] = bgr ? e[2] : e[0];
    rgb[i * 3 + 1] = e[1];
    rgb[i * 3 + 2] = bgr ? e[0] : e[2];
  }
}

}  // namespace detail

namespace {

using detail::Source;

bool starts_with(const uint8_t* d, size_t n, const char* magic, size_t m, size_t at = 0) {
  return n >= at + m && std::memcmp(d + at, magic, m) == 0;
}

// Plain text (ASCII or UTF-8, no control bytes besides whitespace) in the first bytes.
bool looks_like_text(const uint8_t* d, size_t n) {
  const size_t m = n < 512 ? n : 512;
  for (size_t i = 0; i < m; ++i) {
    const uint8_t c = d[i];
    if (c == '\t' || c == '\n' || c == '\r' || c == '\f') continue;
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// Formats people send that we recognise but do not decode, for a helpful message.
const char* known_unsupported(const uint8_t* d, size_t n) {
  if (starts_with(d, n, "II*\0", 4) || starts_with(d, n, "MM\0*", 4)) return "TIFF";
  if (starts_with(d, n, "ftyp", 4, 4)) {
    if (starts_with(d, n, "avif", 4, 8) || starts_with(d, n, "avis", 4, 8)) return "AVIF";
    if (starts_with(d, n, "heic", 4, 8) || starts_with(d, n, "heix", 4, 8) ||
        starts_with(d, n, "mif1", 4, 8) || starts_with(d, n, "msf1", 4, 8))
      return "HEIF/HEIC";
    return "an ISO media (MP4/MOV/HEIF family) file";
  }
  if (starts_with(d, n, "\0\0\1\0", 4)) return "ICO";
  if (starts_with(d, n, "8BPS", 4)) return "PSD";
  if (starts_with(d, n, "\0\0\0\x0cjP  ", 8) || starts_with(d, n, "\xff\x4f\xff\x51", 4))
    return "JPEG 2000";
  if (starts_with(d, n, "qoif", 4)) return "QOI";
  if (starts_with(d, n, "\xff\x0a", 2)) return "JPEG XL";
  if (starts_with(d, n, "%PDF", 4)) return "PDF";
  return nullptr;
}

std::string first_bytes_hex(const uint8_t* d, size_t n) {
  std::string s;
  char buf[4];
  for (size_t i = 0; i < n && i < 8; ++i) {
    std::snprintf(buf, sizeof buf, "%s%02x", i ? " " : "", d[i]);
    s += buf;
  }
  return s;
}

RgbImage dispatch(const Source& src) {
  const uint8_t* d = src.data;
  const size_t n = src.size;
  if (n == 0) detail::fail(src, "empty file (0 bytes), not an image");
  if (starts_with(d, n, "\x89PNG\r\n\x1a\n", 8)) return detail::decode_png(src);
  if (starts_with(d, n, "\xff\xd8\xff", 3)) return detail::decode_jpeg(src);
  if (starts_with(d, n, "RIFF", 4) && starts_with(d, n, "WEBP", 4, 8))
    return detail::decode_webp(src);
  if (starts_with(d, n, "GIF87a", 6) || starts_with(d, n, "GIF89a", 6))
    return detail::decode_gif(src);
  if (starts_with(d, n, "BM", 2)) return detail::decode_bmp(src);
  // A prefix of a supported signature: the file was cut short.
  if (n < 12 && (std::memcmp(d, "\x89PNG\r\n\x1a\n", n < 8 ? n : 8) == 0 ||
                 std::memcmp(d, "RIFF", n < 4 ? n : 4) == 0 ||
                 std::memcmp(d, "GIF8", n < 4 ? n : 4) == 0 || (n < 3 && d[0] == 0xff)))
    detail::fail(src, "truncated image file (only " + std::to_string(n) + " bytes)");
  const std::string supported = " (supported: PNG, JPEG, WebP, GIF, BMP)";
  if (const char* what = known_unsupported(d, n))
    detail::fail(src, std::string("unsupported image format: ") + what + supported);
  if (looks_like_text(d, n))
    detail::fail(src, "not an image: the file looks like text" + supported);
  detail::fail(src, "unsupported or unrecognised image format (first bytes " +
                        first_bytes_hex(d, n) + ")" + supported);
}

// Reads a whole regular file. Errors name the path and the system's reason.
std::vector<uint8_t> read_file(const std::string& path) {
  auto sys_fail = [&](const char* what) {
    throw IoError(path + ": cannot " + std::string(what) + " image file: " + std::strerror(errno));
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) sys_fail("open");
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) sys_fail("stat");
  if (S_ISDIR(st.st_mode)) throw IoError(path + ": is a directory, not an image file");
  if (!S_ISREG(st.st_mode)) throw IoError(path + ": not a regular file");
  // Far above any image within the pixel limit; keeps a mistaken path from filling memory.
  constexpr int64_t kMaxFileBytes = int64_t(2) << 30;
  if (st.st_size > kMaxFileBytes)
    throw LimitError(path + ": file is " + std::to_string(st.st_size) +
                     " bytes, more than the 2 GiB accepted for an image");
  std::vector<uint8_t> bytes(size_t(st.st_size));
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t r = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) sys_fail("read");
    if (r == 0) break;  // the file shrank while we read it
    got += size_t(r);
  }
  bytes.resize(got);
  return bytes;
}

}  // namespace

RgbImage decode_memory(const uint8_t* data, size_t size, const std::string& name,
                       const DecodeLimits& limits) {
  static const uint8_t kEmpty = 0;
  const Source src{data ? data : &kEmpty, data ? size : 0, name, limits};
  return dispatch(src);
}

RgbImage decode_file(const std::string& path, const DecodeLimits& limits) {
  const std::vector<uint8_t> bytes = read_file(path);
  return decode_memory(bytes.data(), bytes.size(), path, limits);
}

}  // namespace dsvl::image

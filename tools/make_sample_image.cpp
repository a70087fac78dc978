// Draws assets/sample.png, the picture of the README's quick start: a house under a blue sky
// with a sun, clouds, hills, a tree and a path (256x192 RGB, a few kB). Made by the project
// itself so the repository carries no third-party image.
//
//   build/make_sample_image assets/sample.png
#include <png.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <vector>

namespace {

constexpr int kW = 256, kH = 192, kSuper = 4;  // 4x4 supersampling smooths the edges

using Rgb = std::array<float, 3>;

struct Shape {
  std::function<bool(float, float)> inside;
  std::function<Rgb(float, float)> color;
};

Rgb flat(int r, int g, int b) { return {float(r), float(g), float(b)}; }
std::function<Rgb(float, float)> paint(int r, int g, int b) {
  return [c = flat(r, g, b)](float, float) { return c; };
}
std::function<bool(float, float)> disc(float cx, float cy, float r) {
  return [=](float x, float y) { return (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r; };
}
std::function<bool(float, float)> rect(float x0, float y0, float x1, float y1) {
  return [=](float x, float y) { return x >= x0 && x < x1 && y >= y0 && y < y1; };
}
std::function<bool(float, float)> ellipse(float cx, float cy, float rx, float ry) {
  return [=](float x, float y) {
    const float dx = (x - cx) / rx, dy = (y - cy) / ry;
    return dx * dx + dy * dy <= 1.0f;
  };
}
// Points left of all three directed edges (a counter-clockwise triangle in image coordinates).
std::function<bool(float, float)> triangle(float ax, float ay, float bx, float by, float cx,
                                           float cy) {
  auto side = [](float px, float py, float qx, float qy, float x, float y) {
    return (qx - px) * (y - py) - (qy - py) * (x - px);
  };
  return [=](float x, float y) {
    const float s1 = side(ax, ay, bx, by, x, y), s2 = side(bx, by, cx, cy, x, y),
                s3 = side(cx, cy, ax, ay, x, y);
    return (s1 >= 0 && s2 >= 0 && s3 >= 0) || (s1 <= 0 && s2 <= 0 && s3 <= 0);
  };
}

// Back to front: later shapes cover earlier ones.
std::vector<Shape> scene() {
  std::vector<Shape> s;
  s.push_back({[](float, float) { return true; }, [](float, float y) {  // sky, lighter low
                 const float t = std::min(1.0f, y / 130.0f);
                 return Rgb{90 + 110 * t, 160 + 70 * t, 235 + 15 * t};
               }});
  s.push_back({disc(48, 40, 20), paint(255, 208, 60)});
  for (auto [cx, cy] : {std::array<float, 2>{112, 34}, std::array<float, 2>{196, 50}}) {
    s.push_back({disc(cx, cy, 11), paint(250, 250, 252)});
    s.push_back({disc(cx + 13, cy - 4, 13), paint(250, 250, 252)});
    s.push_back({disc(cx + 27, cy, 10), paint(250, 250, 252)});
  }
  s.push_back({ellipse(40, 150, 110, 45), paint(70, 145, 70)});              // far hill
  s.push_back({ellipse(230, 158, 120, 40), paint(82, 160, 78)});             // second hill
  s.push_back({rect(0, 150, kW, kH), paint(100, 180, 80)});                  // field
  s.push_back({rect(120, 100, 190, 160), paint(236, 226, 200)});             // wall
  s.push_back({triangle(110, 101, 200, 101, 155, 60), paint(200, 52, 45)});  // roof
  s.push_back({rect(148, 130, 162, 160), paint(120, 72, 40)});               // door
  s.push_back({rect(127, 112, 142, 126), paint(120, 180, 232)});             // windows
  s.push_back({rect(168, 112, 183, 126), paint(120, 180, 232)});
  s.push_back({triangle(148, 160, 162, 160, 178, kH), paint(212, 190, 140)});  // path
  s.push_back({triangle(148, 160, 178, kH, 126, kH), paint(212, 190, 140)});
  s.push_back({rect(215, 118, 223, 162), paint(110, 70, 40)});  // tree
  s.push_back({disc(219, 106, 19), paint(40, 120, 52)});
  s.push_back({disc(207, 116, 11), paint(46, 132, 58)});
  s.push_back({disc(231, 116, 11), paint(46, 132, 58)});
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_sample_image OUT.png\n");
    return 2;
  }
  const std::vector<Shape> shapes = scene();
  std::vector<png_byte> pixels(size_t(kW) * kH * 3);
  for (int y = 0; y < kH; ++y)
    for (int x = 0; x < kW; ++x) {
      Rgb acc{0, 0, 0};
      for (int sy = 0; sy < kSuper; ++sy)
        for (int sx = 0; sx < kSuper; ++sx) {
          const float px = x + (sx + 0.5f) / kSuper, py = y + (sy + 0.5f) / kSuper;
          Rgb c{0, 0, 0};
          for (const Shape& s : shapes)
            if (s.inside(px, py)) c = s.color(px, py);
          for (int k = 0; k < 3; ++k) acc[size_t(k)] += c[size_t(k)];
        }
      for (int k = 0; k < 3; ++k)
        pixels[(size_t(y) * kW + size_t(x)) * 3 + size_t(k)] =
            png_byte(std::lround(acc[size_t(k)] / (kSuper * kSuper)));
    }

  FILE* f = std::fopen(argv[1], "wb");
  if (!f) {
    std::perror(argv[1]);
    return 1;
  }
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (!png || !info || setjmp(png_jmpbuf(png))) {  // libpng reports errors by longjmp
    std::fprintf(stderr, "%s: PNG encoding failed\n", argv[1]);
    std::fclose(f);
    return 1;
  }
  png_init_io(png, f);
  png_set_compression_level(png, 9);
  png_set_IHDR(png, info, kW, kH, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < kH; ++y) png_write_row(png, &pixels[size_t(y) * kW * 3]);
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  std::fclose(f);
  return 0;
}

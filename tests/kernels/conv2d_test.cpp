#include "kernels/cpu/conv2d.h"

#include "core/error.h"
#include "kernel_test_util.h"

namespace dsvl::kernels {
namespace {

std::vector<uint16_t> to_half(const std::vector<float>& v, DType t) {
  std::vector<uint16_t> h(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    h[i] = t == DType::kF16 ? f32_to_f16(v[i]) : f32_to_bf16(v[i]);
  return h;
}

TEST(Conv2d, MatchesReferenceAllDtypesOddSizes) {
  const Conv2dShape shapes[] = {{7, 5, 3, 4, 3, 1, 1}, {9, 9, 5, 7, 3, 2, 1},
                                {1, 1, 1, 1, 1, 1, 0}, {13, 11, 17, 6, 1, 1, 0},
                                {8, 8, 3, 5, 2, 2, 0}, {6, 7, 2, 3, 3, 2, 0}};
  for (const Conv2dShape& s : shapes) {
    auto x = test::random_vec(size_t(s.H * s.W * s.Cin) + 1, uint32_t(s.H * 100 + s.Cin));
    auto wf = test::random_vec(size_t(s.Cout * s.Cin * s.kernel * s.kernel), 3);
    auto bf = test::random_vec(size_t(s.Cout), 4);
    for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
      auto wh = to_half(wf, t), bh = to_half(bf, t);
      const bool f32 = t == DType::kF32;
      TensorView w{
          t, {s.Cout, s.Cin, s.kernel, s.kernel}, f32 ? (const void*)wf.data() : wh.data()};
      TensorView b{t, {s.Cout}, f32 ? (const void*)bf.data() : bh.data()};
      std::vector<float> y(size_t(s.OH() * s.OW() * s.Cout)), r(y.size());
      std::vector<float> scratch(size_t(conv2d_scratch_floats(s)) + 1);
      for (const TensorView* bias :
           {static_cast<const TensorView*>(&b), static_cast<const TensorView*>(nullptr)}) {
        conv2d_nhwc(x.data() + 1, s, w, bias, y.data(), scratch.data());
        conv2d_nhwc_ref(x.data() + 1, s, w, bias, r.data());
        EXPECT_TRUE(test::close(y.data(), r.data(), y.size(), 1e-5, 1e-5,
                                "conv2d H=" + std::to_string(s.H) +
                                    " k=" + std::to_string(s.kernel) + " dtype=" + dtype_name(t)));
      }
    }
  }
}

TEST(Conv2d, RejectsWrongWeightShape) {
  std::vector<float> w(2 * 3 * 3 * 3);
  TensorView wv{DType::kF32, {2, 3, 3, 3}, w.data()};
  Conv2dShape s{4, 4, 4, 2, 3, 1, 1};
  std::vector<float> x(64), y(32), sc(size_t(conv2d_scratch_floats(s)));
  EXPECT_THROW(conv2d_nhwc(x.data(), s, wv, nullptr, y.data(), sc.data()), ShapeError);
}

TEST(Conv2d, PatchIm2colMatchesStridedConv) {
  // Patch embedding = conv k=p, stride p on NCHW; compare against the NHWC reference conv.
  const int64_t C = 3, H = 10, W = 15, p = 5, Cout = 4;
  auto img = test::random_vec(size_t(C * H * W), 9);
  std::vector<float> nhwc(img.size());
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < H * W; ++i) nhwc[size_t(i * C + c)] = img[size_t(c * H * W + i)];
  auto wf = test::random_vec(size_t(Cout * C * p * p), 8);
  TensorView w{DType::kF32, {Cout, C, p, p}, wf.data()};
  std::vector<float> cols(size_t((H / p) * (W / p) * C * p * p)),
      y(size_t((H / p) * (W / p) * Cout));
  im2col_patches_nchw(img.data(), C, H, W, p, cols.data());
  for (int64_t m = 0; m < (H / p) * (W / p); ++m)
    for (int64_t o = 0; o < Cout; ++o) {
      double s = 0;
      for (int64_t k = 0; k < C * p * p; ++k)
        s += double(cols[size_t(m * C * p * p + k)]) * wf[size_t(o * C * p * p + k)];
      y[size_t(m * Cout + o)] = float(s);
    }
  std::vector<float> r(y.size());
  conv2d_nhwc_ref(nhwc.data(), Conv2dShape{H, W, C, Cout, p, p, 0}, w, nullptr, r.data());
  EXPECT_TRUE(test::close(y.data(), r.data(), y.size(), 1e-5, 1e-5, "patch im2col"));
}

}  // namespace
}  // namespace dsvl::kernels

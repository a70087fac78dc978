#include "kernels/cpu/causal_attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/error.h"
#include "core/threadpool.h"
#include "kernels/cpu/matmul.h"

namespace dsvl::kernels {
namespace {

struct Seq {
  std::vector<float> q, k, v, out;
  std::vector<uint16_t> k16, v16;  // the cache when the dtype is bf16
  AttentionJob job;
};

// A sequence with n_past cached keys and n_q new query rows (its keys already in the cache).
Seq make_seq(const AttentionDims& dims, int64_t n_past, int64_t n_q, int64_t capacity,
             std::mt19937& rng, DType dtype = DType::kF32) {
  std::normal_distribution<float> nd(0.f, 1.f);
  Seq s;
  const int64_t width = int64_t(dims.n_heads) * dims.head_dim, ld = width + 3;
  s.q.resize(size_t(n_q * ld) + 1);
  s.k.resize(size_t(dims.n_kv_heads * capacity * dims.head_dim) + 1);
  s.v.resize(s.k.size());
  s.out.assign(size_t(n_q * ld) + 1, 0.0f);
  for (auto& x : s.q) x = nd(rng);
  for (auto& x : s.k) x = nd(rng);
  for (auto& x : s.v) x = nd(rng);
  for (float x : s.k) s.k16.push_back(f32_to_bf16(x));
  for (float x : s.v) s.v16.push_back(f32_to_bf16(x));
  // +1: unaligned pointers.
  s.job = {s.q.data() + 1,
           ld,
           s.out.data() + 1,
           ld,
           n_q,
           n_past,
           s.k.data() + 1,
           s.v.data() + 1,
           capacity * dims.head_dim,
           dtype};
  if (dtype == DType::kBF16) s.job.k = s.k16.data() + 1, s.job.v = s.v16.data() + 1;
  return s;
}

void expect_matches_ref(Seq& s, const AttentionDims& dims, const char* what, float tol = 2e-5f) {
  std::vector<float> ref(s.out.size(), 0.0f);
  AttentionJob rj = s.job;
  rj.out = ref.data() + 1;
  causal_attention_ref(rj, dims);
  for (size_t i = 0; i < ref.size(); ++i) ASSERT_NEAR(s.out[i], ref[i], tol) << what << " i=" << i;
}

TEST(CausalAttention, MatchesReferenceOddSizesAndGqa) {
  std::mt19937 rng(21);
  for (AttentionDims dims : {AttentionDims{1, 1, 2}, AttentionDims{3, 3, 16},
                             AttentionDims{4, 2, 16}, AttentionDims{6, 1, 8}}) {
    for (auto [n_past, n_q] :
         {std::pair<int64_t, int64_t>{0, 1}, {0, 7}, {5, 1}, {3, 63}, {60, 33}, {0, 70}}) {
      AttentionScratch scratch;
      Seq s = make_seq(dims, n_past, n_q, n_past + n_q + 2, rng);
      causal_attention({&s.job, 1}, dims, scratch);
      expect_matches_ref(s, dims, "single");
    }
  }
}

TEST(CausalAttention, BatchedJobsAreBitIdenticalToSingleJobs) {
  std::mt19937 rng(4);
  const AttentionDims dims{4, 2, 16};
  std::vector<Seq> seqs;
  for (auto [n_past, n_q] : {std::pair<int64_t, int64_t>{0, 37}, {12, 1}, {80, 1}, {3, 5}})
    seqs.push_back(make_seq(dims, n_past, n_q, n_past + n_q, rng));
  std::vector<std::vector<float>> alone;
  AttentionScratch scratch;
  for (Seq& s : seqs) {
    causal_attention({&s.job, 1}, dims, scratch);
    alone.push_back(s.out);
    std::fill(s.out.begin(), s.out.end(), 0.0f);
  }
  std::vector<AttentionJob> jobs;
  for (Seq& s : seqs) jobs.push_back(s.job);
  causal_attention(jobs, dims, scratch);
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i].out, alone[i]) << "sequence " << i;
}

TEST(CausalAttention, PrefillRowsEqualOneByOneDecode) {
  // The last row of a 40-row prefill equals a 1-row call at the same position.
  std::mt19937 rng(8);
  const AttentionDims dims{2, 2, 16};
  Seq s = make_seq(dims, 0, 40, 40, rng);
  AttentionScratch scratch;
  causal_attention({&s.job, 1}, dims, scratch);
  AttentionJob last = s.job;
  std::vector<float> out(s.out.size(), 0.0f);
  last.q = s.job.q + 39 * s.job.ldq;
  last.out = out.data();
  last.n_q = 1;
  last.pos0 = 39;
  causal_attention({&last, 1}, dims, scratch);
  const int64_t width = dims.n_heads * dims.head_dim;
  for (int64_t i = 0; i < width; ++i) EXPECT_EQ(out[size_t(i)], s.job.out[39 * s.job.ldo + i]);
}

// The bf16 cache: same contract, with the reference reading the same bf16 keys/values (the
// kernel accumulates in float32 and uses vecmath's exp, hence the slightly wider tolerance).
TEST(CausalAttentionBf16, MatchesReferenceOddSizesAndGqa) {
  std::mt19937 rng(22);
  for (AttentionDims dims :
       {AttentionDims{1, 1, 2}, AttentionDims{3, 3, 17}, AttentionDims{4, 2, 16},
        AttentionDims{6, 1, 8}, AttentionDims{2, 2, 128}, AttentionDims{2, 1, 200},
        AttentionDims{1, 1, 300}}) {
    for (auto [n_past, n_q] :
         {std::pair<int64_t, int64_t>{0, 1}, {0, 7}, {5, 1}, {3, 63}, {60, 33}, {0, 70}}) {
      AttentionScratch scratch;
      Seq s = make_seq(dims, n_past, n_q, n_past + n_q + 2, rng, DType::kBF16);
      causal_attention({&s.job, 1}, dims, scratch);
      SCOPED_TRACE(testing::Message()
                   << "d=" << dims.head_dim << " past=" << n_past << " q=" << n_q);
      expect_matches_ref(s, dims, "bf16", 1e-4f);
    }
  }
}

TEST(CausalAttentionBf16, BatchedJobsAreBitIdenticalToSingleJobs) {
  std::mt19937 rng(5);
  for (AttentionDims dims :
       {AttentionDims{4, 2, 16}, AttentionDims{2, 2, 128}, AttentionDims{3, 1, 40}}) {
    std::vector<Seq> seqs;
    for (auto [n_past, n_q] : {std::pair<int64_t, int64_t>{0, 37}, {12, 1}, {80, 1}, {3, 5}})
      seqs.push_back(make_seq(dims, n_past, n_q, n_past + n_q, rng, DType::kBF16));
    std::vector<std::vector<float>> alone;
    AttentionScratch scratch;
    for (Seq& s : seqs) {
      causal_attention({&s.job, 1}, dims, scratch);
      alone.push_back(s.out);
      std::fill(s.out.begin(), s.out.end(), 0.0f);
    }
    std::vector<AttentionJob> jobs;
    for (Seq& s : seqs) jobs.push_back(s.job);
    causal_attention(jobs, dims, scratch);
    for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i].out, alone[i]) << "sequence " << i;
  }
}

TEST(CausalAttentionBf16, EveryPrefillRowEqualsOneRowCall) {
  // Rows of a 45-row call (two row blocks, odd pairing) equal 1-row calls at their positions,
  // and a chunked call (rows 0..20, then 21..44) equals the one-shot call.
  std::mt19937 rng(9);
  for (AttentionDims dims : {AttentionDims{2, 2, 128}, AttentionDims{3, 3, 24}}) {
    Seq s = make_seq(dims, 0, 45, 45, rng, DType::kBF16);
    AttentionScratch scratch;
    causal_attention({&s.job, 1}, dims, scratch);
    const int64_t width = dims.n_heads * dims.head_dim;
    std::vector<float> out(s.out.size(), 0.0f);
    for (int64_t t : {0, 1, 20, 31, 32, 44}) {
      AttentionJob one = s.job;
      one.q = s.job.q + t * s.job.ldq;
      one.out = out.data();
      one.n_q = 1;
      one.pos0 = t;
      causal_attention({&one, 1}, dims, scratch);
      for (int64_t i = 0; i < width; ++i)
        ASSERT_EQ(out[size_t(i)], s.job.out[t * s.job.ldo + i]) << "row " << t << " i=" << i;
    }
    std::vector<float> chunked(s.out.size(), 0.0f);
    AttentionJob a = s.job, b = s.job;
    a.out = chunked.data() + 1, a.n_q = 21;
    b.out = chunked.data() + 1 + 21 * s.job.ldo, b.q = s.job.q + 21 * s.job.ldq, b.n_q = 24,
    b.pos0 = 21;
    causal_attention({&a, 1}, dims, scratch);
    causal_attention({&b, 1}, dims, scratch);
    EXPECT_EQ(chunked, s.out);
  }
}

// The sequence's bf16 keys again, packed (AttentionJob::k_packed) by kv_store_packed into
// `packed`, which the returned job reads instead of the key rows.
AttentionJob with_packed_keys(const Seq& s, const AttentionDims& dims, int64_t capacity,
                              std::vector<uint16_t>& packed) {
  const int64_t stride = packed_elems({capacity, int64_t(dims.head_dim)});
  packed.assign(size_t(dims.n_kv_heads * stride), 0xffff);  // NaN: unwritten lanes stay unused
  for (int g = 0; g < dims.n_kv_heads; ++g)
    for (int64_t p = 0; p < capacity; ++p)
      kv_store_packed(s.k.data() + 1 + (g * capacity + p) * dims.head_dim, dims.head_dim,
                      packed.data() + g * stride, p);
  AttentionJob j = s.job;
  j.k = packed.data();
  j.k_packed = true;
  j.k_head_stride = stride;
  return j;
}

TEST(CausalAttentionBf16, PackedKeysGiveTheSameBitsAsKeyRows) {
  // Decode rows (streamed scores), short and long prefill blocks, head dims on and off the
  // layout's 32-wide pair rows, GQA, and capacities not a multiple of its 32-position panels.
  std::mt19937 rng(23);
  for (AttentionDims dims : {AttentionDims{2, 2, 128}, AttentionDims{4, 2, 40},
                             AttentionDims{3, 3, 16}, AttentionDims{2, 1, 64}}) {
    for (auto [n_past, n_q] :
         {std::pair<int64_t, int64_t>{0, 1}, {37, 1}, {100, 1}, {5, 7}, {0, 45}, {33, 40}}) {
      SCOPED_TRACE(testing::Message()
                   << "d=" << dims.head_dim << " past=" << n_past << " q=" << n_q);
      const int64_t capacity = n_past + n_q + 3;
      Seq s = make_seq(dims, n_past, n_q, capacity, rng, DType::kBF16);
      AttentionScratch scratch;
      causal_attention({&s.job, 1}, dims, scratch);
      std::vector<uint16_t> packed;
      AttentionJob pj = with_packed_keys(s, dims, capacity, packed);
      std::vector<float> out(s.out.size(), 0.0f);
      pj.out = out.data() + 1;
      causal_attention({&pj, 1}, dims, scratch);
      ASSERT_EQ(out, s.out);
      s.job = pj;  // the reference reads the packed layout too
      s.job.out = s.out.data() + 1;
      expect_matches_ref(s, dims, "packed", 1e-4f);
    }
  }
}

TEST(KvStore, ValuesGoInLaneBlocks) {
  // head_dim 128: lanes [0, 64) of every position, then lanes [64, 128); other head dims rows.
  EXPECT_EQ(kv_value_block(128), 64);
  EXPECT_EQ(kv_value_block(64), 64);
  EXPECT_EQ(kv_value_block(40), 40);
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (int d : {128, 64, 40}) {
    const int64_t capacity = 7;
    std::vector<uint16_t> values(size_t(capacity * d) + 1, 0xabcd);
    std::vector<float> x(static_cast<size_t>(d));
    for (int64_t p : {3, 0, 6}) {
      for (auto& e : x) e = nd(rng);
      kv_store_values(x.data(), d, values.data(), capacity, p);
      const int b = d == 128 ? 64 : d;
      for (int c = 0; c < d; ++c) {
        const int64_t e = c / b * capacity * b + p * b + c % b;
        ASSERT_EQ(kv_value_index(capacity * d, d, p, c), e) << d << " " << p << " " << c;
        ASSERT_EQ(values[size_t(e)], f32_to_bf16(x[size_t(c)])) << d << " " << p << " " << c;
      }
    }
    EXPECT_EQ(values.back(), 0xabcd) << "wrote past the head";
  }
}

TEST(CausalAttentionBf16, ValueBlocksGiveTheRowsResult) {
  // A bf16 cache written as the model writes it (kv_store_packed, kv_store_values) against the
  // float32 path over the same bf16 values as rows, q rounded as the bf16 path rounds it: so a
  // value read from the wrong lane or position shows whatever index the reference uses.
  std::mt19937 rng(25);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (AttentionDims dims : {AttentionDims{2, 2, 128}, AttentionDims{2, 1, 64}}) {
    for (auto [n_past, n_q] : {std::pair<int64_t, int64_t>{40, 1}, {3, 5}, {0, 30}}) {
      SCOPED_TRACE(testing::Message()
                   << "d=" << dims.head_dim << " past=" << n_past << " q=" << n_q);
      const int d = dims.head_dim;
      const int64_t capacity = n_past + n_q + 2, head = capacity * d;
      Seq s = make_seq(dims, n_past, n_q, capacity, rng);  // float32 rows, rounded below
      for (auto* t : {&s.q, &s.k, &s.v})
        for (auto& e : *t) e = bf16_to_f32(f32_to_bf16(e));
      std::vector<uint16_t> keys(size_t(dims.n_kv_heads * packed_elems({capacity, d})));
      std::vector<uint16_t> values(size_t(dims.n_kv_heads * head));
      for (int g = 0; g < dims.n_kv_heads; ++g)
        for (int64_t p = 0; p < capacity; ++p) {
          const float* row = s.k.data() + 1 + g * head + p * d;
          kv_store_packed(row, d, keys.data() + g * packed_elems({capacity, d}), p);
          kv_store_values(s.v.data() + 1 + g * head + p * d, d, values.data() + g * head, capacity,
                          p);
        }
      AttentionScratch scratch;
      causal_attention({&s.job, 1}, dims, scratch);
      AttentionJob bj = s.job;
      std::vector<float> out(s.out.size(), 0.0f);
      bj.out = out.data() + 1;
      bj.k = keys.data(), bj.v = values.data(), bj.kv_dtype = DType::kBF16;
      bj.k_packed = true, bj.k_head_stride = packed_elems({capacity, d});
      causal_attention({&bj, 1}, dims, scratch);
      for (size_t i = 0; i < out.size(); ++i) ASSERT_NEAR(out[i], s.out[i], 2e-5f) << i;
    }
  }
}

TEST(CausalAttention, PackedKeysMustBeBf16) {
  std::mt19937 rng(24);
  const AttentionDims dims{1, 1, 8};
  Seq s = make_seq(dims, 0, 1, 4, rng);
  s.job.k_packed = true;
  AttentionScratch scratch;
  EXPECT_THROW(causal_attention({&s.job, 1}, dims, scratch), Error);
}

TEST(CausalAttentionBf16, ThreadCountDoesNotChangeResults) {
  std::mt19937 rng(10);
  const AttentionDims dims{4, 4, 128};
  Seq s = make_seq(dims, 30, 40, 70, rng, DType::kBF16);
  AttentionScratch scratch;
  causal_attention({&s.job, 1}, dims, scratch);
  const std::vector<float> two = s.out;
  const int before = num_threads();
  set_num_threads(1);
  std::fill(s.out.begin(), s.out.end(), 0.0f);
  causal_attention({&s.job, 1}, dims, scratch);
  set_num_threads(before);
  EXPECT_EQ(s.out, two);
}

TEST(KvStore, Bf16RoundsLikeScalarConversion) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.f, 100.f);
  for (int64_t n : {1, 15, 16, 17, 128, 131}) {
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& e : x) e = nd(rng);
    if (n > 2) x[1] = 1e-39f, x[2] = std::nanf("");
    if (n > 8) {  // infinities, −0, and ties that round to even: down (0x3f80) and up (0x3f82)
      x[3] = INFINITY, x[4] = -INFINITY, x[5] = -0.0f;
      const uint32_t ties[2] = {0x3f808000u, 0x3f818000u};
      std::memcpy(&x[6], &ties[0], 4), std::memcpy(&x[7], &ties[1], 4);
    }
    std::vector<uint16_t> got(size_t(n) + 1, 0xabcd);
    kv_store(x.data(), n, got.data(), DType::kBF16);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(got[size_t(i)], f32_to_bf16(x[size_t(i)])) << i;
    EXPECT_EQ(got[size_t(n)], 0xabcd) << "wrote past the row";
    std::vector<float> f(static_cast<size_t>(n));
    kv_store(x.data(), n, f.data(), DType::kF32);
    EXPECT_EQ(0, std::memcmp(f.data(), x.data(), sizeof(float) * size_t(n)));
  }
}

}  // namespace
}  // namespace dsvl::kernels

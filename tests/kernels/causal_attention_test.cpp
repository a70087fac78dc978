#include "kernels/cpu/causal_attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace dsvl::kernels {
namespace {

struct Seq {
  std::vector<float> q, k, v, out;
  AttentionJob job;
};

// A sequence with n_past cached keys and n_q new query rows (its keys already in the cache).
Seq make_seq(const AttentionDims& dims, int64_t n_past, int64_t n_q, int64_t capacity,
             std::mt19937& rng) {
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
  // +1: unaligned pointers.
  s.job = {s.q.data() + 1,
           ld,
           s.out.data() + 1,
           ld,
           n_q,
           n_past,
           s.k.data() + 1,
           s.v.data() + 1,
           capacity * dims.head_dim};
  return s;
}

void expect_matches_ref(Seq& s, const AttentionDims& dims, const char* what) {
  std::vector<float> ref(s.out.size(), 0.0f);
  AttentionJob rj = s.job;
  rj.out = ref.data() + 1;
  causal_attention_ref(rj, dims);
  for (size_t i = 0; i < ref.size(); ++i)
    ASSERT_NEAR(s.out[i], ref[i], 2e-5f) << what << " i=" << i;
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

}  // namespace
}  // namespace dsvl::kernels

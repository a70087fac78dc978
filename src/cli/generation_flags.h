// Flags shared by `dsvl run` and `dsvl chat`: model loading and sampling, with the defaults
// of the official cli_chat.py (temperature 0.2, top-p 0.95, top-k 50, repetition penalty 1.1
// on generated tokens, 512 new tokens).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "dsvl/dsvl.h"

namespace dsvl::cli {

inline constexpr int kDefaultMaxTokens = 512;

// Value flags understood by parse_load / parse_sampling.
std::vector<std::string> generation_value_flags();

// RequestError naming the first positional argument, if any (a prompt given without -p).
void reject_positional(const Args& a);

// An integer flag within [lo, hi], RequestError naming the flag and the range otherwise.
long long get_int_in(const Args& a, const std::string& flag, long long def, long long lo,
                     long long hi);

LoadParams parse_load(const Args& a);
SamplingParams parse_sampling(const Args& a);
// Whether -n / --n-predict was given (else the answer may be bounded by the context left).
bool max_tokens_given(const Args& a);

// Engine::load with a spinner on a terminal.
std::unique_ptr<Engine> load_engine(const LoadParams& lp);

// The timings block on stderr, like llama.cpp: load, image encode, prefill and decode with
// tokens per second, and `finish`: why generation ended.
void print_timings(const Result& r, const std::string& finish);

}  // namespace dsvl::cli

// Flags shared by `dsvl run` and `dsvl chat`: model loading and sampling, with the defaults
// of the official cli_chat.py (temperature 0.2, top-p 0.95, top-k 50, repetition penalty 1.1
// on generated tokens, 512 new tokens).
#pragma once

#include <string>
#include <vector>

#include "cli/command.h"
#include "dsvl/dsvl.h"

namespace dsvl::cli {

// Value flags understood by parse_load / parse_sampling.
std::vector<std::string> generation_value_flags();

LoadParams parse_load(const Args& a);
SamplingParams parse_sampling(const Args& a);

// "load 1.23 s, image encode ..., prefill N tok/s, decode N tok/s" on stderr, like llama.cpp.
void print_timings(const Result& r);

}  // namespace dsvl::cli

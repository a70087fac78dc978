// Multiple-choice perplexity scoring (the paper's MCPPL): each option is appended to the
// prompt and scored by its own forward (batched as separate rows); per option the NLL sum
// over its tokens and the mean; the choice is the lowest mean.
#pragma once

#include <cstdint>
#include <vector>

#include "train/model.h"

namespace dsvl::train {

struct MultipleChoice {
  std::vector<float> nll_sum, nll_mean;
  int64_t choice = -1;
};

// rows[i] = prompt + option i, labels set on the option tokens (−100 elsewhere);
// prompt_len = number of prompt tokens (option tokens start there).
MultipleChoice score_options(TrainModel& model, const std::vector<Row>& rows, int64_t prompt_len);

}  // namespace dsvl::train

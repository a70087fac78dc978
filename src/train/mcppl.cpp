#include "train/mcppl.h"

namespace dsvl::train {

MultipleChoice score_options(TrainModel& model, const std::vector<Row>& rows, int64_t prompt_len) {
  const StepResult r = model.forward(rows);
  MultipleChoice mc;
  for (size_t i = 0; i < rows.size(); ++i) {
    // The option's first token is predicted at position prompt_len − 1.
    double s = 0;
    const auto& tn = r.token_nll[i];
    for (size_t t = size_t(prompt_len - 1); t < tn.size(); ++t) s += double(tn[t]);
    const int64_t n = int64_t(rows[i].ids.size()) - prompt_len;
    mc.nll_sum.push_back(float(s));
    mc.nll_mean.push_back(float(s / double(n > 0 ? n : 1)));
    if (mc.choice < 0 || mc.nll_mean.back() < mc.nll_mean[size_t(mc.choice)])
      mc.choice = int64_t(i);
  }
  return mc;
}

}  // namespace dsvl::train

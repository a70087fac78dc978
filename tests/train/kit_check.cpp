#include "train/kit_check.h"

#include <cmath>
#include <cstring>
#include <map>
#include <sstream>

namespace dsvl::test {
namespace {

std::vector<double> as_double(DType t, const Shape& s, const void* p) {
  TensorView v{t, s, p};
  std::vector<double> r(size_t(v.numel()));
  for (int64_t i = 0; i < v.numel(); ++i) {
    switch (t) {
      case DType::kI64: {
        // Golden files do not align their tensors: read through memcpy.
        int64_t x;
        std::memcpy(&x, static_cast<const char*>(p) + i * int64_t(sizeof x), sizeof x);
        r[size_t(i)] = double(x);
        break;
      }
      case DType::kBool:
      case DType::kU8:
        r[size_t(i)] = double(static_cast<const uint8_t*>(p)[i]);
        break;
      default:
        r[size_t(i)] = double(load_float(v, i));
    }
  }
  return r;
}

bool starts(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

}  // namespace

std::vector<KitMismatch> compare_with_kit(const io::WeightStore& golden,
                                          const std::vector<io::OwnedTensor>& out,
                                          std::string* report) {
  std::map<std::string, const io::OwnedTensor*> by_name;
  for (const auto& t : out) by_name[t.name] = &t;
  std::vector<KitMismatch> bad;
  std::ostringstream rep;
  for (const std::string& name : golden.keys()) {
    const TensorView& g = golden.get(name);
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      bad.push_back({name, "missing from the output"});
      continue;
    }
    const io::OwnedTensor& o = *it->second;
    if (o.shape != g.shape) {
      bad.push_back({name, "shape " + shape_str(o.shape) + ", golden " + shape_str(g.shape)});
      continue;
    }
    const auto gv = as_double(g.dtype, g.shape, g.data);
    const auto ov = as_double(o.dtype, o.shape, o.bytes.data());
    double max_abs = 0, max_g = 0, worst_rel = 0;
    int64_t first_bad = -1;
    const bool exact = g.dtype == DType::kI64 || g.dtype == DType::kBool;
    for (size_t i = 0; i < gv.size(); ++i) max_g = std::max(max_g, std::fabs(gv[i]));
    double tol_abs;
    bool per_element = false;
    if (exact) {
      tol_abs = 0;
    } else if (starts(name, "grad.")) {
      tol_abs = 1e-4 * max_g;
    } else if (starts(name, "param.")) {
      tol_abs = 2e-4;
    } else if (name == "adamw.grad_norms") {
      per_element = true;  // relative 1e-4
      tol_abs = 0;
    } else {
      per_element = true;  // loss, token_nll, adamw.losses, mcppl.*: 1e-5·max(1, |golden|)
      tol_abs = 0;
    }
    for (size_t i = 0; i < gv.size(); ++i) {
      const double d = std::fabs(gv[i] - ov[i]);
      double tol = tol_abs;
      if (per_element)
        tol = name == "adamw.grad_norms" ? 1e-4 * std::fabs(gv[i])
                                         : 1e-5 * std::max(1.0, std::fabs(gv[i]));
      if (!(d <= tol) && first_bad < 0) first_bad = int64_t(i);
      max_abs = std::max(max_abs, d);
      if (tol > 0) worst_rel = std::max(worst_rel, d / tol);
    }
    rep << name << ": max_abs " << max_abs << " max|golden| " << max_g << " err/tol " << worst_rel
        << "\n";
    if (first_bad >= 0) {
      std::ostringstream w;
      w << "max_abs " << max_abs << " (max|golden| " << max_g << "), first bad index " << first_bad
        << ": " << ov[size_t(first_bad)] << " vs golden " << gv[size_t(first_bad)];
      bad.push_back({name, w.str()});
    }
  }
  if (report) *report = rep.str();
  return bad;
}

}  // namespace dsvl::test

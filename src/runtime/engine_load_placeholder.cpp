// PLACEHOLDER until the runtime lands: the executable (dsvl serve) links against
// Engine::load. The runtime's real definition replaces this file (delete it then).
#include "dsvl/dsvl.h"

namespace dsvl {

std::unique_ptr<Engine> Engine::load(const LoadParams& params) {
  throw Error(ErrorKind::kInternal, "cannot load " + params.model_dir +
                                        ": this build has no inference runtime yet "
                                        "(src/runtime/engine_load_placeholder.cpp)");
}

}  // namespace dsvl

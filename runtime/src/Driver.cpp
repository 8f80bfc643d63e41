//===- Driver.cpp - CUDA driver entry points resolved at run time ---------===//

#include "Driver.h"
#include <dlfcn.h>

using namespace kuai::rt;

static const char *kNoGpuHint =
    "; without a GPU, run the model on the CPU reference executor: kuai-run "
    "model.onnx";

kuai_status_t Driver::load(const char *libraryName) {
  library = dlopen(libraryName, RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char *why = dlerror();
    return makeStatus(KUAI_UNAVAILABLE,
                      std::string("no CUDA driver: cannot load ") +
                          libraryName + " (" + (why ? why : "unknown") + ")" +
                          kNoGpuHint);
  }
#define KUAI_RESOLVE_ENTRY(name, ret, params)                                  \
  name = reinterpret_cast<ret(*) params>(dlsym(library, #name));               \
  if (!name)                                                                   \
    return makeStatus(KUAI_NOT_FOUND,                                          \
                      std::string("the CUDA driver in ") + libraryName +       \
                          " lacks " #name " (driver too old?)");
  KUAI_CUDA_ENTRY_POINTS(KUAI_RESOLVE_ENTRY)
#undef KUAI_RESOLVE_ENTRY
  CUresult r = cuInit(0);
  if (r == CUDA_ERROR_NO_DEVICE)
    return makeStatus(KUAI_UNAVAILABLE,
                      std::string("the CUDA driver finds no GPU") + kNoGpuHint);
  if (r != CUDA_SUCCESS)
    return makeStatus(KUAI_UNAVAILABLE, describe("cuInit", r) + kNoGpuHint);
  return nullptr;
}

std::string Driver::describe(const char *call, CUresult result) const {
  const char *text = nullptr;
  if (cuGetErrorString)
    cuGetErrorString(result, &text);
  return std::string(call) + " failed: " + (text ? text : "unknown error") +
         " (" + std::to_string(result) + ")";
}

Driver::~Driver() {
  if (library)
    dlclose(library);
}

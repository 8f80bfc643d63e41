//===- TemplateCodegen.cpp - Kernel templates to PTX with NVRTC -----------===//
//
// The CUDA C++ templates ship inside kuai-compile (embedded at build time)
// and are compiled for the target with NVRTC; the artifact carries only the
// resulting PTX, so the runtime never compiles source.
//
//===----------------------------------------------------------------------===//

#include "kuai/Codegen/KernelProgram.h"
#include "kuai/Codegen/GenericKernels.inc"
#include <nvrtc.h>

using namespace kuai;
using namespace kuai::codegen;

llvm::Expected<std::string>
kuai::codegen::compileTemplatesPtx(const KernelProgram &program) {
  bool any = llvm::any_of(program.launches, [](const Launch &l) {
    return l.module == "templates";
  });
  if (!any)
    return std::string();
  llvm::StringRef target = program.options.target;
  if (!target.consume_front("sm_"))
    return llvm::createStringError("--target must look like sm_90, got '" +
                                   program.options.target + "'");
  std::string arch = "--gpu-architecture=compute_" + target.str();
  nvrtcProgram prog;
  if (nvrtcResult r = nvrtcCreateProgram(&prog, kGenericKernelsSource,
                                         "generic_kernels.cu", 0, nullptr,
                                         nullptr))
    return llvm::createStringError(std::string("NVRTC: ") +
                                   nvrtcGetErrorString(r));
  const char *options[] = {arch.c_str(), "--std=c++17", "-default-device",
                           "--use_fast_math=false"};
  nvrtcResult r = nvrtcCompileProgram(prog, 3, options);
  size_t logSize = 0;
  nvrtcGetProgramLogSize(prog, &logSize);
  std::string log(logSize, '\0');
  if (logSize)
    nvrtcGetProgramLog(prog, log.data());
  if (r != NVRTC_SUCCESS) {
    nvrtcDestroyProgram(&prog);
    return llvm::createStringError("NVRTC failed to compile the kernel "
                                   "templates for " +
                                   program.options.target + ":\n" + log);
  }
  size_t size = 0;
  nvrtcGetPTXSize(prog, &size);
  std::string ptx(size, '\0');
  nvrtcGetPTX(prog, ptx.data());
  nvrtcDestroyProgram(&prog);
  while (!ptx.empty() && ptx.back() == '\0')
    ptx.pop_back();
  return ptx;
}

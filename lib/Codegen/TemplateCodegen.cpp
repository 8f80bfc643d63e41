//===- TemplateCodegen.cpp - Kernel templates to PTX with NVRTC -----------===//
//
// The CUDA C++ templates ship inside kuai-compile (embedded at build time)
// and are compiled for the target with NVRTC; the artifact carries only the
// resulting PTX, so the runtime never compiles source.
//
//===----------------------------------------------------------------------===//

#include "kuai/Codegen/KernelProgram.h"
#include "kuai/Codegen/templates/attention_tc.cu.inc"
#include "kuai/Codegen/templates/generic_kernels.cu.inc"
#include "kuai/Codegen/templates/kuai_attention.cuh.inc"
#include "kuai/Codegen/templates/kuai_epilogue.cuh.inc"
#include "kuai/Codegen/templates/kuai_mma.cuh.inc"
#include "kuai/Codegen/templates/kuai_norm.cuh.inc"
#include "kuai/Codegen/templates/kuai_types.cuh.inc"
#include "kuai/Codegen/templates/kuai_wgmma.cuh.inc"
#include "kuai/Codegen/templates/linear_gemv.cu.inc"
#include "kuai/Codegen/templates/linear_tc.cu.inc"
#include "kuai/Codegen/templates/linear_wgmma.cu.inc"
#include "kuai/Codegen/templates/paged_attention.cu.inc"
#include "kuai/artifact_format.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"
#include <cstdlib>
#include <nvrtc.h>
#include <unistd.h>

/// Where compiled template PTX is cached: $KUAI_CACHE_DIR, else
/// $XDG_CACHE_HOME/kuai, else ~/.cache/kuai ("" when none; "off" disables).
static std::string cacheDir() {
  if (const char *d = std::getenv("KUAI_CACHE_DIR"))
    return std::string(d) == "off" ? "" : d;
  if (const char *d = std::getenv("XDG_CACHE_HOME"))
    return std::string(d) + "/kuai";
  if (const char *h = std::getenv("HOME"))
    return std::string(h) + "/.cache/kuai";
  return "";
}

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
  // The Hopper linear (wgmma, setmaxnreg) needs the arch-specific target:
  // its module is PTX for sm_90a, which loads on sm_90 devices only.
  bool hopper = llvm::any_of(program.launches, [](const Launch &l) {
    return llvm::StringRef(l.function).starts_with("kuai_linear_wg");
  });
  std::string arch = "--gpu-architecture=compute_" + target.str() +
                     (hopper && !target.ends_with("a") ? "a" : "");
  nvrtcProgram prog;
  // One program over every template file (they are its headers).
  const char *headers[] = {
      kTemplate_generic_kernels_cu, kTemplate_linear_tc_cu,
      kTemplate_attention_tc_cu,    kTemplate_linear_wgmma_cu,
      kTemplate_kuai_types_cuh,     kTemplate_kuai_mma_cuh,
      kTemplate_kuai_attention_cuh, kTemplate_kuai_epilogue_cuh,
      kTemplate_kuai_wgmma_cuh,     kTemplate_paged_attention_cu,
      kTemplate_linear_gemv_cu,     kTemplate_kuai_norm_cuh};
  const char *names[] = {
      "generic_kernels.cu", "linear_tc.cu",      "attention_tc.cu",
      "linear_wgmma.cu",    "kuai_types.cuh",    "kuai_mma.cuh",
      "kuai_attention.cuh", "kuai_epilogue.cuh", "kuai_wgmma.cuh",
      "paged_attention.cu", "linear_gemv.cu",    "kuai_norm.cuh"};
  constexpr int headerCount = sizeof(headers) / sizeof(headers[0]);
  static_assert(headerCount == sizeof(names) / sizeof(names[0]),
                "every template needs its name");
  // --template-dir: every template file from there instead (all of them,
  // so that a directory missing one is an error, not a silent mix).
  std::string fromDir[headerCount];
  if (const std::string &dir = program.options.templateDir; !dir.empty()) {
    for (int i = 0; i < headerCount; ++i) {
      llvm::SmallString<256> path(dir);
      llvm::sys::path::append(path, names[i]);
      auto buf = llvm::MemoryBuffer::getFile(path);
      if (!buf)
        return llvm::createStringError("--template-dir: cannot read " +
                                       path.str().str() + ": " +
                                       buf.getError().message());
      fromDir[i] = (*buf)->getBuffer().str();
      headers[i] = fromDir[i].c_str();
    }
  }
  std::string main = "#include \"generic_kernels.cu\"\n"
                     "#include \"linear_tc.cu\"\n"
                     "#include \"attention_tc.cu\"\n";
  bool paged = llvm::any_of(program.launches, [](const Launch &l) {
    return llvm::StringRef(l.function).starts_with("kuai_kv_append");
  });
  if (paged)
    main += "#include \"paged_attention.cu\"\n";
  if (llvm::any_of(program.launches, [](const Launch &l) {
        return llvm::StringRef(l.function).starts_with("kuai_linear_gemv");
      }))
    main += "#include \"linear_gemv.cu\"\n";
  if (hopper)
    main += "#include \"linear_wgmma.cu\"\n";
  if (nvrtcResult r =
          nvrtcCreateProgram(&prog, main.c_str(), "kuai_templates.cu",
                             headerCount, headers, names))
    return llvm::createStringError(std::string("NVRTC: ") +
                                   nvrtcGetErrorString(r));
  std::vector<const char *> options = {arch.c_str(), "--std=c++17",
                                       "-default-device"};
  // Only the dtypes the launches use.
  for (const char *suffix : {"f32", "f16", "bf16"}) {
    std::string tag = std::string("_") + suffix;
    bool used = llvm::any_of(program.launches, [&](const Launch &l) {
      return l.module == "templates" &&
             (llvm::StringRef(l.function).ends_with(tag) ||
              llvm::StringRef(l.function).contains(tag + "_"));
    });
    if (used)
      options.push_back(suffix == std::string("f32")   ? "-DKUAI_WITH_F32"
                        : suffix == std::string("f16") ? "-DKUAI_WITH_F16"
                                                       : "-DKUAI_WITH_BF16");
  }
  // NVRTC takes seconds for the templates: reuse PTX compiled before from
  // the same sources and options.
  std::string key = main;
  for (const char *h : headers)
    key += h;
  for (const char *o : options)
    key += std::string("\n") + o;
  std::string cached;
  if (std::string dir = cacheDir(); !dir.empty()) {
    char name[40];
    std::snprintf(
        name, sizeof(name), "templates-%016llx.ptx",
        (unsigned long long)kuai_artifact_checksum(key.data(), key.size()));
    cached = dir + "/" + name;
    if (auto buf = llvm::MemoryBuffer::getFile(cached)) {
      nvrtcDestroyProgram(&prog);
      return (*buf)->getBuffer().str();
    }
  }
  nvrtcResult r =
      nvrtcCompileProgram(prog, int(options.size()), options.data());
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
  if (!cached.empty() && !llvm::sys::fs::create_directories(
                             llvm::sys::path::parent_path(cached))) {
    // Written aside and renamed, so concurrent compiles never read half.
    std::string tmp = cached + ".tmp" + std::to_string(::getpid());
    std::error_code ec;
    {
      llvm::raw_fd_ostream os(tmp, ec);
      if (!ec)
        os << ptx;
    }
    if (!ec)
      llvm::sys::fs::rename(tmp, cached);
  }
  return ptx;
}

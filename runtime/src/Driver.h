//===- Driver.h - CUDA driver entry points resolved at run time -*- C++ -*-===//
//
// The runtime links no CUDA library: it opens libcuda with dlopen and
// resolves the entry points below, so the same binary starts (and explains
// itself) on machines without a driver. Types are the driver API's ABI.
//
//===----------------------------------------------------------------------===//
#ifndef KUAI_RUNTIME_DRIVER_H
#define KUAI_RUNTIME_DRIVER_H

#include "Status.h"
#include <cstddef>
#include <cstdint>
#include <string>

namespace kuai::rt {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUjit_option = int;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;
using CUgraph = struct CUgraph_st *;
using CUgraphExec = struct CUgraphExec_st *;
/// The driver's CUtensorMap: 128 opaque bytes, 64-byte aligned.
struct alignas(64) CUtensorMap {
  uint64_t opaque[16];
};

/// The driver's CUlaunchAttribute: an id and a 64-byte value union.
struct CUlaunchAttribute {
  int id;
  char pad[4];
  union {
    char bytes[64];
    int programmaticStreamSerializationAllowed;
    uint64_t align;
  } value;
};
/// The driver's CUlaunchConfig (cuLaunchKernelEx).
struct CUlaunchConfig {
  unsigned gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ;
  unsigned sharedMemBytes;
  CUstream hStream;
  CUlaunchAttribute *attrs;
  unsigned numAttrs;
};
static_assert(sizeof(CUlaunchAttribute) == 72 && sizeof(CUlaunchConfig) == 56,
              "the driver API's layout");
constexpr int CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;

constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult CUDA_ERROR_OUT_OF_MEMORY = 2;
constexpr CUresult CUDA_ERROR_NO_DEVICE = 100;
constexpr CUjit_option CU_JIT_ERROR_LOG_BUFFER = 5;
constexpr CUjit_option CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;

// X(name, return, parameters): every entry point the runtime uses.
#define KUAI_CUDA_ENTRY_POINTS(X)                                              \
  X(cuInit, CUresult, (unsigned))                                              \
  X(cuDriverGetVersion, CUresult, (int *))                                     \
  X(cuDeviceGetCount, CUresult, (int *))                                       \
  X(cuDeviceGet, CUresult, (CUdevice *, int))                                  \
  X(cuDeviceGetName, CUresult, (char *, int, CUdevice))                        \
  X(cuDeviceTotalMem_v2, CUresult, (size_t *, CUdevice))                       \
  X(cuDevicePrimaryCtxRetain, CUresult, (CUcontext *, CUdevice))               \
  X(cuDevicePrimaryCtxRelease_v2, CUresult, (CUdevice))                        \
  X(cuCtxSetCurrent, CUresult, (CUcontext))                                    \
  X(cuGetErrorString, CUresult, (CUresult, const char **))                     \
  X(cuModuleLoadDataEx, CUresult,                                              \
    (CUmodule *, const void *, unsigned, CUjit_option *, void **))             \
  X(cuModuleUnload, CUresult, (CUmodule))                                      \
  X(cuMemAlloc_v2, CUresult, (CUdeviceptr *, size_t))                          \
  X(cuMemFree_v2, CUresult, (CUdeviceptr))                                     \
  X(cuMemcpyHtoD_v2, CUresult, (CUdeviceptr, const void *, size_t))            \
  X(cuMemcpyHtoDAsync_v2, CUresult,                                            \
    (CUdeviceptr, const void *, size_t, CUstream))                             \
  X(cuMemAllocHost_v2, CUresult, (void **, size_t))                            \
  X(cuMemFreeHost, CUresult, (void *))                                         \
  X(cuMemcpyDtoH_v2, CUresult, (void *, CUdeviceptr, size_t))                  \
  X(cuModuleGetFunction, CUresult, (CUfunction *, CUmodule, const char *))     \
  X(cuFuncSetAttribute, CUresult, (CUfunction, int, int))                      \
  X(cuLaunchKernelEx, CUresult,                                                \
    (const CUlaunchConfig *, CUfunction, void **, void **))                    \
  X(cuCtxSynchronize, CUresult, ())                                            \
  X(cuEventCreate, CUresult, (CUevent *, unsigned))                            \
  X(cuEventRecord, CUresult, (CUevent, CUstream))                              \
  X(cuEventSynchronize, CUresult, (CUevent))                                   \
  X(cuEventElapsedTime, CUresult, (float *, CUevent, CUevent))                 \
  X(cuEventDestroy_v2, CUresult, (CUevent))                                    \
  X(cuStreamCreate, CUresult, (CUstream *, unsigned))                          \
  X(cuStreamDestroy_v2, CUresult, (CUstream))                                  \
  X(cuStreamSynchronize, CUresult, (CUstream))                                 \
  X(cuStreamBeginCapture_v2, CUresult, (CUstream, int))                        \
  X(cuStreamEndCapture, CUresult, (CUstream, CUgraph *))                       \
  X(cuGraphInstantiateWithFlags, CUresult,                                     \
    (CUgraphExec *, CUgraph, unsigned long long))                              \
  X(cuGraphLaunch, CUresult, (CUgraphExec, CUstream))                          \
  X(cuGraphExecDestroy, CUresult, (CUgraphExec))                               \
  X(cuGraphDestroy, CUresult, (CUgraph))                                       \
  X(cuTensorMapEncodeTiled, CUresult,                                          \
    (CUtensorMap *, int, uint32_t, void *, const uint64_t *, const uint64_t *, \
     const uint32_t *, const uint32_t *, int, int, int, int))

struct Driver {
  void *library = nullptr;
#define KUAI_DECLARE_ENTRY(name, ret, params) ret(*name) params = nullptr;
  KUAI_CUDA_ENTRY_POINTS(KUAI_DECLARE_ENTRY)
#undef KUAI_DECLARE_ENTRY

  /// Opens `libraryName` and resolves every entry point.
  kuai_status_t load(const char *libraryName);
  /// "cuMemAlloc_v2 failed: out of memory (2)" for a failed call.
  std::string describe(const char *call, CUresult result) const;
  ~Driver();
};

} // namespace kuai::rt

#endif

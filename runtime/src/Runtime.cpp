//===- Runtime.cpp - Runtime, device and model handles --------------------===//

#include "Artifact.h"
#include "Driver.h"
#include <cstdio>
#include <map>
#include <vector>

using namespace kuai::rt;

struct kuai_runtime_s {
  Driver driver;
  CUdevice device = 0;
  CUcontext context = nullptr;
  std::string description;
  int references = 1; // the caller's, plus one per loaded model
};

struct kuai_model_s {
  kuai_runtime_t runtime;
  std::unique_ptr<kuai_artifact_s> artifact;
  std::vector<CUdeviceptr> buffers;
  std::vector<CUmodule> modules;
  std::map<std::string, uint64_t> poolBytes;
};

static void releaseRuntime(kuai_runtime_t runtime) {
  if (!runtime || --runtime->references > 0)
    return;
  if (runtime->context)
    runtime->driver.cuDevicePrimaryCtxRelease_v2(runtime->device);
  delete runtime;
}

extern "C" void kuai_runtime_options_initialize(kuai_runtime_options *options) {
  if (!options)
    return;
  options->struct_size = sizeof(kuai_runtime_options);
  options->device_ordinal = 0;
  options->driver_library = "libcuda.so.1";
}

extern "C" kuai_status_t
kuai_runtime_create(const kuai_runtime_options *options,
                    kuai_runtime_t *out_runtime) {
  if (!options || !out_runtime ||
      options->struct_size != sizeof(kuai_runtime_options))
    return makeStatus(KUAI_INVALID_ARGUMENT,
                      "options must be set by kuai_runtime_options_initialize");
  auto runtime = std::make_unique<kuai_runtime_s>();
  Driver &d = runtime->driver;
  if (kuai_status_t s = d.load(options->driver_library ? options->driver_library
                                                       : "libcuda.so.1"))
    return s;
  int count = 0;
  if (CUresult r = d.cuDeviceGetCount(&count))
    return makeStatus(KUAI_UNAVAILABLE, d.describe("cuDeviceGetCount", r));
  if (options->device_ordinal < 0 || options->device_ordinal >= count)
    return makeStatus(KUAI_UNAVAILABLE,
                      "GPU " + std::to_string(options->device_ordinal) +
                          " does not exist (" + std::to_string(count) +
                          " found)");
  if (CUresult r = d.cuDeviceGet(&runtime->device, options->device_ordinal))
    return makeStatus(KUAI_INTERNAL, d.describe("cuDeviceGet", r));
  if (CUresult r =
          d.cuDevicePrimaryCtxRetain(&runtime->context, runtime->device))
    return makeStatus(KUAI_INTERNAL, d.describe("cuDevicePrimaryCtxRetain", r));
  char name[256] = {};
  size_t memory = 0;
  int version = 0;
  d.cuDeviceGetName(name, sizeof(name) - 1, runtime->device);
  d.cuDeviceTotalMem_v2(&memory, runtime->device);
  d.cuDriverGetVersion(&version);
  char text[400];
  std::snprintf(text, sizeof(text), "%s, %.1f GiB, driver %d.%d", name,
                memory / double(1ull << 30), version / 1000,
                (version % 1000) / 10);
  runtime->description = text;
  *out_runtime = runtime.release();
  return nullptr;
}

extern "C" const char *kuai_runtime_device_description(kuai_runtime_t runtime) {
  return runtime ? runtime->description.c_str() : "";
}

extern "C" void kuai_runtime_release(kuai_runtime_t runtime) {
  releaseRuntime(runtime);
}

extern "C" kuai_status_t kuai_model_load(kuai_runtime_t runtime,
                                         const char *path,
                                         kuai_model_t *out_model) {
  if (!runtime || !out_model)
    return makeStatus(KUAI_INVALID_ARGUMENT,
                      "runtime and out_model are needed");
  auto model = std::make_unique<kuai_model_s>();
  model->runtime = runtime;
  ++runtime->references;
  auto guard = [&](kuai_status_t s) {
    kuai_model_release(model.release());
    return s;
  };
  if (kuai_status_t s = openArtifact(path, model->artifact))
    return guard(s);
  Driver &d = runtime->driver;
  if (CUresult r = d.cuCtxSetCurrent(runtime->context))
    return guard(makeStatus(KUAI_INTERNAL, d.describe("cuCtxSetCurrent", r)));
  for (const kuai_artifact_section &s : model->artifact->sections) {
    const char *data = model->artifact->base + s.offset;
    if (s.kind == KUAI_SECTION_WEIGHTS) {
      CUdeviceptr ptr = 0;
      if (CUresult r = d.cuMemAlloc_v2(&ptr, s.size ? s.size : 1))
        return guard(
            makeStatus(r == CUDA_ERROR_OUT_OF_MEMORY ? KUAI_RESOURCE_EXHAUSTED
                                                     : KUAI_INTERNAL,
                       "pool 'weights': allocating " + std::to_string(s.size) +
                           " bytes for '" + s.name +
                           "' failed: " + d.describe("cuMemAlloc", r)));
      model->buffers.push_back(ptr);
      model->poolBytes["weights"] += s.size;
      if (CUresult r = d.cuMemcpyHtoD_v2(ptr, data, s.size))
        return guard(makeStatus(KUAI_INTERNAL, d.describe("cuMemcpyHtoD", r)));
    } else if (s.kind == KUAI_SECTION_PTX) {
      std::string ptx(data, s.size); // the driver wants NUL-terminated text
      char log[8192] = {};
      CUjit_option keys[] = {CU_JIT_ERROR_LOG_BUFFER,
                             CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
      void *values[] = {log, reinterpret_cast<void *>(sizeof(log) - 1)};
      CUmodule module = nullptr;
      if (CUresult r =
              d.cuModuleLoadDataEx(&module, ptx.c_str(), 2, keys, values))
        return guard(makeStatus(
            KUAI_INTERNAL,
            std::string("PTX module '") + s.name + "' does not load: " +
                d.describe("cuModuleLoadDataEx", r) + "\ndriver log:\n" + log));
      model->modules.push_back(module);
    }
  }
  *out_model = model.release();
  return nullptr;
}

extern "C" uint64_t kuai_model_pool_bytes(kuai_model_t model,
                                          const char *pool) {
  if (!model || !pool)
    return 0;
  auto it = model->poolBytes.find(pool);
  return it == model->poolBytes.end() ? 0 : it->second;
}

extern "C" void kuai_model_release(kuai_model_t model) {
  if (!model)
    return;
  Driver &d = model->runtime->driver;
  if (!model->modules.empty() || !model->buffers.empty())
    d.cuCtxSetCurrent(model->runtime->context);
  for (CUmodule m : model->modules)
    d.cuModuleUnload(m);
  for (CUdeviceptr p : model->buffers)
    d.cuMemFree_v2(p);
  releaseRuntime(model->runtime);
  delete model;
}

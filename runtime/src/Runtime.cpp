//===- Runtime.cpp - Runtime, device and model handles --------------------===//

#include "Artifact.h"
#include "Driver.h"
#include "Plan.h"
#include "kuai/sampling.h"
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
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
  std::map<std::string, CUmodule> moduleByName;
  std::map<std::string, uint64_t> poolBytes;
  std::map<std::string, CUdeviceptr> weightSections;
  Plan plan;
  CUdeviceptr weights = 0, arena = 0;
  std::vector<CUfunction> functions; // one per launch
  // Per launch: its kernel waits on the previous grid (griddepcontrol.wait
  // first), so it is launched as a programmatic dependent: its launch
  // overlaps the kernel before it rather than following it (off with
  // KUAI_PDL=0).
  std::vector<char> dependentLaunch;
  bool usePdl = true;
  // Inputs of the next run: host bytes and dims. The bytes live in
  // page-locked `inputStaging` (one slot per input at its planned size) so
  // that their upload is an asynchronous copy queued before the launches,
  // not one synchronous pageable copy per input; in `inputData` where that
  // memory could not be had.
  std::vector<std::vector<char>> inputData;
  char *inputStaging = nullptr;
  std::vector<uint64_t> stagingOffsets, stagedBytes;
  bool uploadsQueued = false; // copies from inputStaging not waited for yet
  std::vector<std::vector<int64_t>> inputDims;
  std::vector<int64_t> symbolValues;
  bool ran = false;
  CUstream stream = nullptr;
  // One CUDA graph of all launches per set of symbol values: a run is then
  // one graph launch instead of one driver call per kernel.
  std::map<std::vector<int64_t>, CUgraphExec> graphs;
  bool useGraphs = true;
  // KV cache (plan states): one pool holding every state buffer, cut into
  // pages; each sequence owns a list of pages in position order.
  CUdeviceptr kv = 0;
  std::vector<uint64_t> stateOffsets; // byte offset of each state in `kv`
  int64_t kvPages = 0, pageSize = 0, maxTokens = 0;
  std::vector<int32_t> freePages;
  struct Sequence {
    bool live = false;
    int64_t length = 0;
    std::vector<int32_t> pages;
    kuai_sampling_options sampling{}; // temperature 0: greedy
    uint64_t samplingStep = 0;        // appends since sampling was set
  };
  std::vector<Sequence> sequences;
};

/// Device address of a plan buffer.
static CUdeviceptr addressOf(const kuai_model_s &m, const PlanBuffer &b) {
  if (b.weight)
    return m.weights + b.offset;
  if (b.state)
    return m.kv + m.stateOffsets[b.offset];
  return m.arena + b.offset;
}

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

/// Parses the plan, resolves every launch's function (and whether it is
/// launched as a programmatic dependent, from `waitingEntries`) and
/// allocates the arena (the pool "arena").
static kuai_status_t
preparePlan(kuai_model_s &model,
            std::map<std::string, std::set<std::string>> &waitingEntries) {
  const kuai_artifact_s &a = *model.artifact;
  const kuai_artifact_section *planSection = nullptr;
  for (const kuai_artifact_section &s : a.sections)
    if (s.kind == KUAI_SECTION_PLAN)
      planSection = &s;
  if (!planSection)
    return nullptr; // an artifact without a plan loads but cannot run
  if (kuai_status_t s = parsePlan(
          std::string(a.base + planSection->offset, planSection->size),
          model.plan))
    return s;
  Driver &d = model.runtime->driver;
  auto w = model.weightSections.find("weights");
  model.weights = w == model.weightSections.end() ? 0 : w->second;
  for (const PlanLaunch &l : model.plan.launches) {
    auto m = model.moduleByName.find(l.module);
    if (m == model.moduleByName.end())
      return makeStatus(KUAI_DATA_LOSS, "the plan launches " + l.function +
                                            " from module '" + l.module +
                                            "', which the artifact lacks");
    CUfunction f = nullptr;
    if (CUresult r = d.cuModuleGetFunction(&f, m->second, l.function.c_str()))
      return makeStatus(KUAI_DATA_LOSS,
                        "kernel " + l.function + " is not in module '" +
                            l.module +
                            "': " + d.describe("cuModuleGetFunction", r));
    if (l.sharedBytes > 48 * 1024)
      d.cuFuncSetAttribute(f, 8 /* MAX_DYNAMIC_SHARED_SIZE_BYTES */,
                           int(l.sharedBytes));
    model.functions.push_back(f);
    model.dependentLaunch.push_back(
        waitingEntries[l.module].count(l.function) ? 1 : 0);
  }
  uint64_t bytes = model.plan.arenaBytes ? model.plan.arenaBytes : 256;
  if (CUresult r = d.cuMemAlloc_v2(&model.arena, bytes))
    return makeStatus(r == CUDA_ERROR_OUT_OF_MEMORY ? KUAI_RESOURCE_EXHAUSTED
                                                    : KUAI_INTERNAL,
                      "pool 'arena': allocating " + std::to_string(bytes) +
                          " bytes failed: " + d.describe("cuMemAlloc", r));
  model.buffers.push_back(model.arena);
  model.poolBytes["arena"] = bytes;
  model.inputData.resize(model.plan.inputs.size());
  model.inputDims.resize(model.plan.inputs.size());
  uint64_t staging = 0;
  for (const PlanIO &io : model.plan.inputs) {
    model.stagingOffsets.push_back(staging);
    staging += (model.plan.buffers.at(io.buffer).slotBytes + 63) / 64 * 64;
  }
  model.stagedBytes.assign(model.plan.inputs.size(), 0);
  void *pinned = nullptr;
  if (staging && d.cuMemAllocHost_v2(&pinned, staging) == CUDA_SUCCESS)
    model.inputStaging = static_cast<char *>(pinned);
  if (CUresult r = d.cuStreamCreate(&model.stream, 0))
    return makeStatus(KUAI_INTERNAL, d.describe("cuStreamCreate", r));
  if (const char *g = std::getenv("KUAI_CUDA_GRAPHS"))
    model.useGraphs = std::string(g) != "0";
  if (const char *p = std::getenv("KUAI_PDL"))
    model.usePdl = std::string(p) != "0";
  return nullptr;
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
  // Per PTX module, its kernels that wait on the previous grid.
  std::map<std::string, std::set<std::string>> waitingEntries;
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
      model->weightSections[s.name] = ptr;
      model->poolBytes["weights"] += s.size;
      if (CUresult r = d.cuMemcpyHtoD_v2(ptr, data, s.size))
        return guard(makeStatus(KUAI_INTERNAL, d.describe("cuMemcpyHtoD", r)));
    } else if (s.kind == KUAI_SECTION_PTX && s.size > 0) {
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
      model->moduleByName[s.name] = module;
      waitingEntries[s.name] = entriesWaitingOnPreviousGrid(ptx);
    }
  }
  if (kuai_status_t s = preparePlan(*model, waitingEntries))
    return guard(s);
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
  for (auto &[values, exec] : model->graphs)
    d.cuGraphExecDestroy(exec);
  if (model->stream)
    d.cuStreamDestroy_v2(model->stream);
  for (CUmodule m : model->modules)
    d.cuModuleUnload(m);
  for (CUdeviceptr p : model->buffers)
    d.cuMemFree_v2(p);
  if (model->kv)
    d.cuMemFree_v2(model->kv);
  if (model->inputStaging)
    d.cuMemFreeHost(model->inputStaging);
  releaseRuntime(model->runtime);
  delete model;
}

//===-- Running -----------------------------------------------------------===//

extern "C" size_t kuai_model_input_count(kuai_model_t model) {
  return model ? model->plan.inputs.size() : 0;
}

extern "C" size_t kuai_model_output_count(kuai_model_t model) {
  return model ? model->plan.outputs.size() : 0;
}

extern "C" kuai_status_t kuai_model_io_info(kuai_model_t model, int is_output,
                                            size_t index, const char **out_name,
                                            const char **out_dtype,
                                            size_t *out_rank) {
  if (!model)
    return makeStatus(KUAI_INVALID_ARGUMENT, "no model");
  const std::vector<PlanIO> &list =
      is_output ? model->plan.outputs : model->plan.inputs;
  if (index >= list.size())
    return makeStatus(KUAI_INVALID_ARGUMENT,
                      std::string(is_output ? "output " : "input ") +
                          std::to_string(index) + " does not exist (" +
                          std::to_string(list.size()) + ")");
  const PlanBuffer &b = model->plan.buffers.at(list[index].buffer);
  if (out_name)
    *out_name = list[index].name.c_str();
  if (out_dtype)
    *out_dtype = b.dtype.c_str();
  if (out_rank)
    *out_rank = b.dims.size();
  return nullptr;
}

extern "C" kuai_status_t kuai_model_set_input(kuai_model_t model, size_t index,
                                              const void *data,
                                              const int64_t *dims,
                                              size_t rank) {
  if (!model || (!data && rank) || index >= model->plan.inputs.size())
    return makeStatus(KUAI_INVALID_ARGUMENT,
                      "set_input: no model, no data or no input " +
                          std::to_string(index));
  const PlanIO &io = model->plan.inputs[index];
  const PlanBuffer &b = model->plan.buffers.at(io.buffer);
  if (rank != b.dims.size())
    return makeStatus(KUAI_INVALID_ARGUMENT,
                      "input '" + io.name + "' has rank " +
                          std::to_string(b.dims.size()) + ", got " +
                          std::to_string(rank));
  uint64_t count = 1;
  for (size_t i = 0; i < rank; ++i) {
    if (dims[i] < 0)
      return makeStatus(KUAI_INVALID_ARGUMENT,
                        "input '" + io.name + "': negative dim");
    count *= uint64_t(dims[i]);
  }
  uint64_t bytes = count * b.elementBytes;
  if (bytes > b.slotBytes)
    return makeStatus(KUAI_INVALID_ARGUMENT,
                      "input '" + io.name + "' of " + std::to_string(bytes) +
                          " bytes exceeds the " + std::to_string(b.slotBytes) +
                          " bytes planned at the compiled bounds "
                          "(recompile with larger --max-batch/--max-seq)");
  model->inputDims[index].assign(dims, dims + rank);
  const char *p = static_cast<const char *>(data);
  if (model->inputStaging) {
    // A run waits for its uploads before it returns; one that failed on the
    // way may not have, and the slot must not change under a copy.
    if (model->uploadsQueued) {
      Driver &d = model->runtime->driver;
      d.cuCtxSetCurrent(model->runtime->context);
      d.cuStreamSynchronize(model->stream);
      model->uploadsQueued = false;
    }
    if (bytes)
      std::memcpy(model->inputStaging + model->stagingOffsets[index], p, bytes);
    model->stagedBytes[index] = bytes;
  } else {
    model->inputData[index].assign(p, p + bytes);
  }
  return nullptr;
}

/// Binds the symbols from the inputs' dims and checks every bound.
static kuai_status_t bindSymbols(kuai_model_s &m) {
  const Plan &plan = m.plan;
  std::vector<int64_t> values(plan.symbols.size(), -1);
  for (size_t i = 0; i < plan.inputs.size(); ++i) {
    const PlanIO &io = plan.inputs[i];
    if (m.inputDims[i].size() != plan.buffers.at(io.buffer).dims.size())
      return makeStatus(KUAI_INVALID_ARGUMENT,
                        "input '" + io.name + "' was not set");
    const std::vector<Poly> &dims = plan.buffers.at(io.buffer).dims;
    for (size_t d = 0; d < dims.size(); ++d) {
      int64_t got = m.inputDims[i][d];
      const Poly &p = dims[d];
      if (p.isConstant()) {
        int64_t want = p.eval(values);
        if (got != want)
          return makeStatus(KUAI_INVALID_ARGUMENT,
                            "input '" + io.name + "' dim " + std::to_string(d) +
                                " must be " + std::to_string(want) + ", got " +
                                std::to_string(got));
        continue;
      }
      int s = p.terms[0].symbols[0];
      if (values[s] >= 0 && values[s] != got)
        return makeStatus(KUAI_INVALID_ARGUMENT,
                          "input '" + io.name + "' dim " + std::to_string(d) +
                              " is " + std::to_string(got) + " but '" +
                              plan.symbols[s] + "' is already " +
                              std::to_string(values[s]));
      if (got > plan.bounds[s])
        return makeStatus(KUAI_INVALID_ARGUMENT,
                          "'" + plan.symbols[s] + "' = " + std::to_string(got) +
                              " exceeds the compiled bound " +
                              std::to_string(plan.bounds[s]) +
                              " (recompile with a larger --max-" +
                              plan.symbols[s] + ")");
      values[s] = got;
    }
  }
  if (!plan.states.empty()) {
    if (!m.kv)
      return makeStatus(KUAI_INVALID_ARGUMENT,
                        "the model keeps a KV cache: allocate it first "
                        "(kuai_model_kv_allocate)");
    for (size_t s = 0; s < plan.symbols.size(); ++s)
      if (plan.symbols[s] == "kv_pages")
        values[s] = m.kvPages;
  }
  for (size_t s = 0; s < values.size(); ++s)
    if (values[s] < 0)
      values[s] = 1; // a bound symbol no input carries
  for (const auto &[id, b] : plan.buffers) {
    if (b.weight || b.state)
      continue;
    int64_t count = 1;
    for (const Poly &p : b.dims)
      count *= p.eval(values);
    if (uint64_t(count) * b.elementBytes > b.slotBytes)
      return makeStatus(KUAI_INVALID_ARGUMENT,
                        "buffer " + std::to_string(id) + " needs " +
                            std::to_string(count * b.elementBytes) +
                            " bytes at these sizes, more than planned");
  }
  m.symbolValues = values;
  return nullptr;
}

/// Encodes the TMA descriptor of a `tmap:` argument: buffer `b` as a
/// row-major [rows, columns] matrix of 16-bit elements, read in boxes of
/// 64 columns x boxRows rows into 128-byte-swizzled shared memory; what
/// lies outside is read as zeros.
static kuai_status_t encodeTensorMap(kuai_model_s &m, const PlanArg &a,
                                     const PlanBuffer &b,
                                     const std::vector<int64_t> &values,
                                     CUtensorMap &out,
                                     const std::string &where) {
  Driver &d = m.runtime->driver;
  int64_t rows = a.value.eval(values);
  CUdeviceptr address = addressOf(m, b);
  // CU_TENSOR_MAP_DATA_TYPE_FLOAT16 / _BFLOAT16.
  int dataType = b.dtype == "bf16" ? 9 : 6;
  uint64_t dims[2] = {uint64_t(a.columns), uint64_t(rows > 0 ? rows : 1)};
  uint64_t strides[1] = {uint64_t(a.columns) * 2};
  uint32_t box[2] = {64, uint32_t(a.boxRows)}, elementStrides[2] = {1, 1};
  CUresult r = d.cuTensorMapEncodeTiled(
      &out, dataType, 2, reinterpret_cast<void *>(address), dims, strides, box,
      elementStrides, /*interleave none*/ 0, /*swizzle 128B*/ 3,
      /*L2 promotion 256B*/ 3, /*out-of-bounds fill zeros*/ 0);
  if (r != CUDA_SUCCESS)
    return makeStatus(
        KUAI_INTERNAL,
        where + "tensor map of buffer " + std::to_string(a.buffer) + " [" +
            std::to_string(rows) + ", " + std::to_string(a.columns) + "] " +
            b.dtype + ": " + d.describe("cuTensorMapEncodeTiled", r));
  return nullptr;
}

/// Enqueues every kernel on the model's stream; with `events`, records one
/// before each launch and one at the end.
static kuai_status_t enqueueLaunches(kuai_model_s &m,
                                     std::vector<CUevent> *events) {
  Driver &d = m.runtime->driver;
  const std::vector<int64_t> &values = m.symbolValues;
  std::vector<uint64_t> scalars;
  std::vector<std::vector<int64_t>> packs;
  std::vector<CUtensorMap> maps;
  std::vector<void *> params;
  bool afterKernel = false; // the stream's last work is one of these kernels
  for (size_t li = 0; li < m.plan.launches.size(); ++li) {
    const PlanLaunch &l = m.plan.launches[li];
    unsigned grid[3];
    bool empty = false;
    for (int k = 0; k < 3; ++k) {
      int64_t v = l.grid[k].eval(values);
      int64_t g = (v + l.divisor[k] - 1) / l.divisor[k];
      empty |= g <= 0;
      grid[k] = unsigned(g > 0 ? g : 0);
    }
    if (events)
      d.cuEventRecord((*events)[li], m.stream);
    if (empty || !l.runs(values))
      continue; // an empty tensor, or a variant for other sizes
    scalars.assign(l.args.size(), 0);
    packs.assign(l.args.size(), {});
    maps.assign(l.args.size(), CUtensorMap{});
    params.assign(l.args.size(), nullptr);
    for (size_t ai = 0; ai < l.args.size(); ++ai) {
      const PlanArg &a = l.args[ai];
      uint64_t &slot = scalars[ai];
      switch (a.kind) {
      case PlanArg::Buffer: {
        slot = addressOf(m, m.plan.buffers.at(a.buffer));
        break;
      }
      case PlanArg::Null:
        slot = 0;
        break;
      case PlanArg::I64:
        slot = uint64_t(a.value.eval(values));
        break;
      case PlanArg::I32: {
        int32_t v = int32_t(a.value.eval(values));
        std::memcpy(&slot, &v, 4);
        break;
      }
      case PlanArg::F32:
        std::memcpy(&slot, &a.f32, 4);
        break;
      case PlanArg::Pack:
        for (const Poly &p : a.pack)
          packs[ai].push_back(p.eval(values));
        params[ai] = packs[ai].data();
        continue;
      case PlanArg::TensorMap: {
        const PlanBuffer &b = m.plan.buffers.at(a.buffer);
        if (kuai_status_t s =
                encodeTensorMap(m, a, b, values, maps[ai],
                                "launch " + std::to_string(li) + " (" +
                                    l.function + ", " + l.what + "): "))
          return s;
        params[ai] = &maps[ai];
        continue;
      }
      }
      params[ai] = &slot;
    }
    // Not while profiling: the events between launches would serialize
    // them anyway, and each kernel's time would include its wait. Not for
    // the first kernel of a run either: what precedes it on the stream is
    // the inputs' upload, which griddepcontrol.wait does not wait for.
    CUlaunchAttribute programmatic{};
    programmatic.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
    programmatic.value.programmaticStreamSerializationAllowed = 1;
    CUlaunchConfig config{grid[0],       grid[1],    grid[2],       l.block[0],
                          l.block[1],    l.block[2], l.sharedBytes, m.stream,
                          &programmatic, 0};
    config.numAttrs =
        m.usePdl && !events && afterKernel && m.dependentLaunch[li] ? 1 : 0;
    afterKernel = true;
    if (CUresult r = d.cuLaunchKernelEx(&config, m.functions[li], params.data(),
                                        nullptr))
      return makeStatus(KUAI_INTERNAL, "launch " + std::to_string(li) + " (" +
                                           l.function + ", " + l.what + "): " +
                                           d.describe("cuLaunchKernelEx", r));
  }
  if (events)
    d.cuEventRecord(events->back(), m.stream);
  return nullptr;
}

/// Uploads the inputs, runs the launches (through a cached CUDA graph
/// unless profiling) and waits for them.
static kuai_status_t runLaunches(kuai_model_s &m,
                                 std::vector<CUevent> *events) {
  Driver &d = m.runtime->driver;
  if (CUresult r = d.cuCtxSetCurrent(m.runtime->context))
    return makeStatus(KUAI_INTERNAL, d.describe("cuCtxSetCurrent", r));
  if (kuai_status_t s = bindSymbols(m))
    return s;
  for (size_t i = 0; i < m.plan.inputs.size(); ++i) {
    const PlanBuffer &b = m.plan.buffers.at(m.plan.inputs[i].buffer);
    if (m.inputStaging) {
      // On the stream, ahead of the launches that read it.
      if (m.stagedBytes[i])
        if (CUresult r = d.cuMemcpyHtoDAsync_v2(
                m.arena + b.offset, m.inputStaging + m.stagingOffsets[i],
                m.stagedBytes[i], m.stream))
          return makeStatus(KUAI_INTERNAL, d.describe("cuMemcpyHtoDAsync", r));
      m.uploadsQueued = true;
      continue;
    }
    const std::vector<char> &data = m.inputData[i];
    if (!data.empty())
      if (CUresult r =
              d.cuMemcpyHtoD_v2(m.arena + b.offset, data.data(), data.size()))
        return makeStatus(KUAI_INTERNAL, d.describe("cuMemcpyHtoD", r));
  }
  if (events || !m.useGraphs) {
    if (kuai_status_t s = enqueueLaunches(m, events))
      return s;
  } else {
    auto it = m.graphs.find(m.symbolValues);
    if (it == m.graphs.end()) {
      CUgraph graph = nullptr;
      if (CUresult r = d.cuStreamBeginCapture_v2(m.stream, 2 /* relaxed */))
        return makeStatus(KUAI_INTERNAL, d.describe("cuStreamBeginCapture", r));
      kuai_status_t s = enqueueLaunches(m, nullptr);
      CUresult r = d.cuStreamEndCapture(m.stream, &graph);
      if (s) {
        if (graph)
          d.cuGraphDestroy(graph);
        return s;
      }
      if (r)
        return makeStatus(KUAI_INTERNAL, d.describe("cuStreamEndCapture", r));
      CUgraphExec exec = nullptr;
      r = d.cuGraphInstantiateWithFlags(&exec, graph, 0);
      d.cuGraphDestroy(graph);
      if (r)
        return makeStatus(KUAI_INTERNAL,
                          d.describe("cuGraphInstantiateWithFlags", r));
      it = m.graphs.emplace(m.symbolValues, exec).first;
    }
    if (CUresult r = d.cuGraphLaunch(it->second, m.stream))
      return makeStatus(KUAI_INTERNAL, d.describe("cuGraphLaunch", r));
  }
  if (CUresult r = d.cuStreamSynchronize(m.stream))
    return makeStatus(KUAI_INTERNAL, "running the model failed: " +
                                         d.describe("cuStreamSynchronize", r));
  m.uploadsQueued = false;
  m.ran = true;
  return nullptr;
}

extern "C" kuai_status_t kuai_model_execute(kuai_model_t model) {
  if (!model)
    return makeStatus(KUAI_INVALID_ARGUMENT, "no model");
  if (model->functions.size() != model->plan.launches.size() ||
      model->plan.launches.empty())
    return makeStatus(KUAI_INVALID_ARGUMENT, "the artifact has no plan");
  return runLaunches(*model, nullptr);
}

extern "C" kuai_status_t kuai_model_profile(kuai_model_t model,
                                            kuai_launch_profile *out,
                                            size_t capacity,
                                            size_t *out_count) {
  if (!model || model->plan.launches.empty())
    return makeStatus(KUAI_INVALID_ARGUMENT, "no model or no plan");
  Driver &d = model->runtime->driver;
  size_t n = model->plan.launches.size();
  std::vector<CUevent> events(n + 1, nullptr);
  for (CUevent &e : events)
    if (CUresult r = d.cuEventCreate(&e, 0))
      return makeStatus(KUAI_INTERNAL, d.describe("cuEventCreate", r));
  kuai_status_t status = runLaunches(*model, &events);
  // Only the launches that ran at these sizes (variants for other sizes
  // are left out).
  size_t count = 0;
  for (size_t i = 0; !status && i < n; ++i) {
    const PlanLaunch &l = model->plan.launches[i];
    if (!l.runs(model->symbolValues))
      continue;
    if (count < capacity) {
      float ms = 0;
      d.cuEventElapsedTime(&ms, events[i], events[i + 1]);
      out[count].function = l.function.c_str();
      out[count].what = l.what.c_str();
      out[count].milliseconds = ms;
      out[count].bytes = double(l.bytes.eval(model->symbolValues));
      out[count].flops = double(l.flops.eval(model->symbolValues));
    }
    ++count;
  }
  for (CUevent e : events)
    if (e)
      d.cuEventDestroy_v2(e);
  if (out_count)
    *out_count = count;
  return status;
}

extern "C" kuai_status_t kuai_model_output_dims(kuai_model_t model,
                                                size_t index, int64_t *out_dims,
                                                size_t capacity,
                                                size_t *out_rank) {
  if (!model || index >= model->plan.outputs.size())
    return makeStatus(KUAI_INVALID_ARGUMENT, "no such output");
  if (!model->ran)
    return makeStatus(KUAI_INVALID_ARGUMENT, "the model has not run yet");
  const PlanBuffer &b =
      model->plan.buffers.at(model->plan.outputs[index].buffer);
  for (size_t d = 0; d < b.dims.size() && d < capacity; ++d)
    out_dims[d] = b.dims[d].eval(model->symbolValues);
  if (out_rank)
    *out_rank = b.dims.size();
  return nullptr;
}

extern "C" kuai_status_t kuai_model_read_output(kuai_model_t model,
                                                size_t index, void *data,
                                                size_t bytes) {
  int64_t dims[16];
  size_t rank = 0;
  if (kuai_status_t s = kuai_model_output_dims(model, index, dims, 16, &rank))
    return s;
  const PlanIO &io = model->plan.outputs[index];
  const PlanBuffer &b = model->plan.buffers.at(io.buffer);
  uint64_t want = b.elementBytes;
  for (size_t d = 0; d < rank; ++d)
    want *= uint64_t(dims[d]);
  if (bytes != want)
    return makeStatus(KUAI_INVALID_ARGUMENT,
                      "output '" + io.name + "' has " + std::to_string(want) +
                          " bytes, " + std::to_string(bytes) + " asked");
  Driver &d = model->runtime->driver;
  d.cuCtxSetCurrent(model->runtime->context);
  if (CUresult r = d.cuMemcpyDtoH_v2(data, addressOf(*model, b), bytes))
    return makeStatus(KUAI_INTERNAL, d.describe("cuMemcpyDtoH", r));
  return nullptr;
}

//===-- KV cache ----------------------------------------------------------===//

extern "C" void kuai_kv_options_initialize(kuai_kv_options *options) {
  if (!options)
    return;
  options->struct_size = sizeof(kuai_kv_options);
  options->pages = 0;
  options->max_sequences = 1;
  options->max_tokens = 0;
}

/// Bytes of one token of state `i` (its heads x d elements).
static uint64_t stateBytesPerToken(const kuai_model_s &m, size_t i) {
  const PlanBuffer &b = m.plan.buffers.at(m.plan.states[i].buffer);
  std::vector<int64_t> none(m.plan.symbols.size(), 1);
  return uint64_t(b.dims[1].eval(none) * b.dims[3].eval(none)) * b.elementBytes;
}

static int64_t boundOf(const Plan &plan, const char *symbol) {
  for (size_t s = 0; s < plan.symbols.size(); ++s)
    if (plan.symbols[s] == symbol)
      return plan.bounds[s];
  return 0;
}

extern "C" kuai_status_t kuai_model_kv_info(kuai_model_t model,
                                            uint32_t *out_page_size,
                                            uint64_t *out_bytes_per_token,
                                            uint32_t *out_layers) {
  if (!model || model->plan.states.empty())
    return makeStatus(KUAI_INVALID_ARGUMENT,
                      "the model has no KV cache (compile it with "
                      "kuai-compile --kv-cache)");
  std::vector<int64_t> none(model->plan.symbols.size(), 1);
  const PlanBuffer &first =
      model->plan.buffers.at(model->plan.states[0].buffer);
  uint64_t perToken = 0;
  for (size_t i = 0; i < model->plan.states.size(); ++i)
    perToken += stateBytesPerToken(*model, i);
  if (out_page_size)
    *out_page_size = uint32_t(first.dims[2].eval(none));
  if (out_bytes_per_token)
    *out_bytes_per_token = perToken;
  if (out_layers)
    *out_layers = uint32_t(model->plan.states.size() / 2);
  return nullptr;
}

extern "C" void
kuai_sampling_options_initialize(kuai_sampling_options *options) {
  if (!options)
    return;
  *options = {};
  options->struct_size = sizeof(kuai_sampling_options);
  options->top_p = 1.f;
}

/// Whether the artifact has GPU sampling (its kv.sampling input).
static bool samplesOnGpu(const kuai_model_s &m) {
  for (const auto &in : m.plan.inputs)
    if (in.name == "kv.sampling")
      return true;
  return false;
}

static kuai_status_t noGpuSampling() {
  return makeStatus(KUAI_INCOMPATIBLE,
                    "this artifact samples only greedily on the GPU (no "
                    "kv.sampling input: compiled before GPU sampling); "
                    "pick from the logits on the host");
}

extern "C" kuai_status_t
kuai_model_sequence_sampling(kuai_model_t model, uint32_t sequence,
                             const kuai_sampling_options *options) {
  if (!options || options->struct_size != sizeof(kuai_sampling_options))
    return makeStatus(KUAI_INVALID_ARGUMENT,
                      "options must be set by "
                      "kuai_sampling_options_initialize");
  if (!model || sequence >= model->sequences.size() ||
      !model->sequences[sequence].live)
    return makeStatus(KUAI_INVALID_ARGUMENT,
                      "sequence " + std::to_string(sequence) + " is not live");
  if (!(options->top_p > 0.f && options->top_p <= 1.f))
    return makeStatus(KUAI_INVALID_ARGUMENT,
                      "top_p must lie in (0, 1], got " +
                          std::to_string(options->top_p));
  if (!samplesOnGpu(*model))
    return noGpuSampling();
  auto &seq = model->sequences[sequence];
  seq.sampling = *options;
  seq.samplingStep = 0;
  return nullptr;
}

extern "C" kuai_status_t
kuai_model_kv_allocate(kuai_model_t model, const kuai_kv_options *options) {
  if (!options || options->struct_size != sizeof(kuai_kv_options))
    return makeStatus(KUAI_INVALID_ARGUMENT,
                      "options must be set by kuai_kv_options_initialize");
  uint32_t page = 0;
  if (kuai_status_t s = kuai_model_kv_info(model, &page, nullptr, nullptr))
    return s;
  kuai_model_s &m = *model;
  int64_t blockBound = boundOf(m.plan, "kv_blocks");
  int64_t maxTokens =
      options->max_tokens ? options->max_tokens : blockBound * page;
  if (maxTokens > blockBound * page)
    return makeStatus(KUAI_INVALID_ARGUMENT,
                      "max_tokens " + std::to_string(maxTokens) +
                          " exceeds the compiled " +
                          std::to_string(blockBound * page) +
                          " tokens per sequence (recompile with a larger "
                          "--max-seq)");
  if (options->max_sequences == 0)
    return makeStatus(KUAI_INVALID_ARGUMENT, "max_sequences must be >= 1");
  int64_t blocks = (maxTokens + page - 1) / page;
  int64_t pages = options->pages ? int64_t(options->pages)
                                 : blocks * options->max_sequences;
  Driver &d = m.runtime->driver;
  d.cuCtxSetCurrent(m.runtime->context);
  if (m.kv) {
    d.cuMemFree_v2(m.kv);
    m.kv = 0;
  }
  m.stateOffsets.clear();
  uint64_t total = 0;
  for (size_t i = 0; i < m.plan.states.size(); ++i) {
    m.stateOffsets.push_back(total);
    uint64_t bytes = stateBytesPerToken(m, i) * page * uint64_t(pages);
    total += (bytes + 255) / 256 * 256;
  }
  if (CUresult r = d.cuMemAlloc_v2(&m.kv, total))
    return makeStatus(
        r == CUDA_ERROR_OUT_OF_MEMORY ? KUAI_RESOURCE_EXHAUSTED : KUAI_INTERNAL,
        "pool 'kv': allocating " + std::to_string(total) + " bytes (" +
            std::to_string(pages) + " pages of " + std::to_string(page) +
            " tokens) failed: " + d.describe("cuMemAlloc", r));
  m.poolBytes["kv"] = total;
  m.kvPages = pages;
  m.pageSize = page;
  m.maxTokens = maxTokens;
  m.freePages.clear();
  for (int64_t p = pages - 1; p >= 0; --p)
    m.freePages.push_back(int32_t(p));
  m.sequences.clear();
  for (auto &[values, exec] : m.graphs)
    d.cuGraphExecDestroy(exec); // they captured the old pool's addresses
  m.graphs.clear();
  return nullptr;
}

extern "C" kuai_status_t kuai_model_sequence_begin(kuai_model_t model,
                                                   uint32_t *out_sequence) {
  if (!model || !model->kv || !out_sequence)
    return makeStatus(KUAI_INVALID_ARGUMENT,
                      "sequence_begin needs a model with an allocated KV "
                      "cache and out_sequence");
  auto &seqs = model->sequences;
  size_t i = 0;
  while (i < seqs.size() && seqs[i].live)
    ++i;
  if (i == seqs.size())
    seqs.emplace_back();
  seqs[i] = {};
  seqs[i].live = true;
  *out_sequence = uint32_t(i);
  return nullptr;
}

extern "C" kuai_status_t kuai_model_sequence_end(kuai_model_t model,
                                                 uint32_t sequence) {
  if (!model || sequence >= model->sequences.size() ||
      !model->sequences[sequence].live)
    return makeStatus(KUAI_INVALID_ARGUMENT,
                      "sequence " + std::to_string(sequence) + " is not live");
  auto &seq = model->sequences[sequence];
  model->freePages.insert(model->freePages.end(), seq.pages.rbegin(),
                          seq.pages.rend());
  seq = {};
  return nullptr;
}

extern "C" kuai_status_t kuai_model_sequence_length(kuai_model_t model,
                                                    uint32_t sequence,
                                                    uint64_t *out_length) {
  if (!model || sequence >= model->sequences.size() ||
      !model->sequences[sequence].live || !out_length)
    return makeStatus(KUAI_INVALID_ARGUMENT,
                      "sequence " + std::to_string(sequence) + " is not live");
  *out_length = uint64_t(model->sequences[sequence].length);
  return nullptr;
}

extern "C" kuai_status_t kuai_model_append(kuai_model_t model,
                                           const uint32_t *sequences,
                                           size_t batch, const int64_t *ids,
                                           size_t count) {
  if (!model || !model->kv || !sequences || !ids || batch == 0 || count == 0)
    return makeStatus(KUAI_INVALID_ARGUMENT,
                      "append needs an allocated KV cache, sequences and at "
                      "least one token each");
  kuai_model_s &m = *model;
  const int64_t page = m.pageSize;
  // Check everything before taking a page: a failed append changes nothing.
  int64_t wanted = 0;
  for (size_t b = 0; b < batch; ++b) {
    uint32_t s = sequences[b];
    if (s >= m.sequences.size() || !m.sequences[s].live)
      return makeStatus(KUAI_INVALID_ARGUMENT,
                        "sequence " + std::to_string(s) + " is not live");
    for (size_t c = 0; c < b; ++c)
      if (sequences[c] == s)
        return makeStatus(KUAI_INVALID_ARGUMENT,
                          "sequence " + std::to_string(s) +
                              " appears twice in one append");
    const auto &seq = m.sequences[s];
    int64_t length = seq.length + int64_t(count);
    if (length > m.maxTokens)
      return makeStatus(KUAI_RESOURCE_EXHAUSTED,
                        "sequence " + std::to_string(s) + " would hold " +
                            std::to_string(length) + " tokens, more than the " +
                            std::to_string(m.maxTokens) +
                            " the KV cache was allocated for");
    wanted += (length + page - 1) / page - int64_t(seq.pages.size());
  }
  if (wanted > int64_t(m.freePages.size()))
    return makeStatus(KUAI_RESOURCE_EXHAUSTED,
                      "the KV cache is out of pages: this append needs " +
                          std::to_string(wanted) + " more, " +
                          std::to_string(m.freePages.size()) + " of " +
                          std::to_string(m.kvPages) + " are free (sequence " +
                          std::to_string(sequences[0]) +
                          " first); end sequences or allocate more pages");
  const int64_t blocks = (m.maxTokens + page - 1) / page;
  std::vector<int32_t> past(batch), table(batch * blocks, 0);
  for (size_t b = 0; b < batch; ++b) {
    auto &seq = m.sequences[sequences[b]];
    int64_t need = (seq.length + int64_t(count) + page - 1) / page;
    while (int64_t(seq.pages.size()) < need) {
      seq.pages.push_back(m.freePages.back());
      m.freePages.pop_back();
    }
    past[b] = int32_t(seq.length);
    std::copy(seq.pages.begin(), seq.pages.end(), table.begin() + b * blocks);
  }
  for (size_t i = 0; i < m.plan.inputs.size(); ++i) {
    const std::string &name = m.plan.inputs[i].name;
    const PlanBuffer &buf = m.plan.buffers.at(m.plan.inputs[i].buffer);
    kuai_status_t s = nullptr;
    if (name == "kv.sampling") {
      std::vector<float> params(batch * 4);
      for (size_t b = 0; b < batch; ++b) {
        const auto &seq = m.sequences[sequences[b]];
        params[b * 4] = seq.sampling.temperature;
        params[b * 4 + 1] = float(seq.sampling.top_k);
        params[b * 4 + 2] = seq.sampling.top_p;
        params[b * 4 + 3] =
            float(kuai::samplingUniform(seq.sampling.seed, seq.samplingStep));
      }
      int64_t dims[2] = {int64_t(batch), 4};
      s = kuai_model_set_input(model, i, params.data(), dims, 2);
    } else if (name == "kv.past_lengths") {
      int64_t dims[1] = {int64_t(batch)};
      s = kuai_model_set_input(model, i, past.data(), dims, 1);
    } else if (name == "kv.block_table") {
      int64_t dims[2] = {int64_t(batch), blocks};
      s = kuai_model_set_input(model, i, table.data(), dims, 2);
    } else {
      int64_t dims[2] = {int64_t(batch), int64_t(count)};
      if (buf.dtype == "i32") {
        std::vector<int32_t> narrow(ids, ids + batch * count);
        s = kuai_model_set_input(model, i, narrow.data(), dims, 2);
      } else {
        s = kuai_model_set_input(model, i, ids, dims, 2);
      }
    }
    if (s)
      return s;
  }
  if (kuai_status_t s = kuai_model_execute(model))
    return s;
  for (size_t b = 0; b < batch; ++b) {
    m.sequences[sequences[b]].length += int64_t(count);
    ++m.sequences[sequences[b]].samplingStep;
  }
  return nullptr;
}

extern "C" void
kuai_generate_options_initialize(kuai_generate_options *options) {
  if (!options)
    return;
  *options = {};
  options->struct_size = sizeof(kuai_generate_options);
  options->max_new_tokens = 32;
  kuai_sampling_options_initialize(&options->sampling);
}

extern "C" kuai_status_t
kuai_model_generate(kuai_model_t model, const uint32_t *sequences, size_t batch,
                    const int64_t *prompt_ids, size_t prompt_length,
                    const kuai_generate_options *options,
                    kuai_token_callback callback, void *user) {
  if (!options || options->struct_size != sizeof(kuai_generate_options))
    return makeStatus(KUAI_INVALID_ARGUMENT,
                      "options must be set by "
                      "kuai_generate_options_initialize");
  if (!model || !sequences || !prompt_ids || batch == 0 || prompt_length == 0)
    return makeStatus(KUAI_INVALID_ARGUMENT,
                      "generate needs a model, sequences and a prompt of at "
                      "least one token each");
  if (options->stop_count && !options->stop_ids)
    return makeStatus(KUAI_INVALID_ARGUMENT, "stop_count without stop_ids");
  size_t next = model->plan.outputs.size();
  for (size_t i = 0; i < model->plan.outputs.size(); ++i)
    if (model->plan.outputs[i].name == "next_token")
      next = i;
  if (next == model->plan.outputs.size())
    return makeStatus(KUAI_INVALID_ARGUMENT,
                      "generate needs a model compiled with --kv-cache (no "
                      "next_token output)");
  if (options->max_new_tokens == 0)
    return makeStatus(KUAI_INVALID_ARGUMENT, "max_new_tokens must be >= 1");
  // Every sequence is checked before any changes (as kuai_model_append).
  for (size_t b = 0; b < batch; ++b)
    if (sequences[b] >= model->sequences.size() ||
        !model->sequences[sequences[b]].live)
      return makeStatus(KUAI_INVALID_ARGUMENT,
                        "sequence " + std::to_string(sequences[b]) +
                            " is not live");
  if (samplesOnGpu(*model)) {
    for (size_t b = 0; b < batch; ++b)
      if (kuai_status_t s = kuai_model_sequence_sampling(model, sequences[b],
                                                         &options->sampling))
        return s;
  } else if (options->sampling.temperature > 0.f) {
    return noGpuSampling();
  }
  std::vector<uint32_t> active(sequences, sequences + batch);
  std::vector<int64_t> ids(prompt_ids, prompt_ids + batch * prompt_length);
  size_t count = prompt_length;
  for (uint32_t step = 0; step < options->max_new_tokens && !active.empty();
       ++step) {
    if (kuai_status_t s = kuai_model_append(model, active.data(), active.size(),
                                            ids.data(), count))
      return s;
    std::vector<int32_t> picked(active.size() * count);
    if (kuai_status_t s = kuai_model_read_output(
            model, next, picked.data(), picked.size() * sizeof(int32_t)))
      return s;
    std::vector<uint32_t> going;
    std::vector<int64_t> nextIds;
    for (size_t b = 0; b < active.size(); ++b) {
      int64_t token = picked[b * count + count - 1];
      bool stop = callback && callback(user, active[b], token) != 0;
      for (size_t i = 0; i < options->stop_count; ++i)
        stop = stop || options->stop_ids[i] == token;
      if (!stop && step + 1 < options->max_new_tokens) {
        going.push_back(active[b]);
        nextIds.push_back(token);
      }
    }
    active = std::move(going);
    ids = std::move(nextIds);
    count = 1;
  }
  return nullptr;
}

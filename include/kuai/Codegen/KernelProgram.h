//===- KernelProgram.h - Kernel IR: launches over buffers -------*- C++ -*-===//
//
// The kernel level of the pipeline: a model as an ordered list of kernel
// launches over buffers (inputs, weights, activation-arena slots and views
// of them). Sizes stay symbolic (SymExpr over `batch`, `seq`, ...): a launch
// carries its grid and integer arguments as expressions that the runtime
// evaluates with the actual sizes, so nothing recompiles at run time.
//
// Two kinds of launch: a generated elementwise kernel (an expression tree
// over strided loads, compiled through MLIR's GPU path) and a template
// kernel (CUDA C++ compiled with NVRTC). Lowering (lowerToKernels), fusion
// (fuseKernels) and memory planning (planMemory) transform this structure;
// printKernelProgram shows it (`kuai-compile --emit=kernels`).
//
//===----------------------------------------------------------------------===//
#ifndef KUAI_CODEGEN_KERNELPROGRAM_H
#define KUAI_CODEGEN_KERNELPROGRAM_H

#include "kuai/Support/SymExpr.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mlir::func {
class FuncOp;
}

namespace kuai::codegen {

/// Element types the GPU path handles.
enum class DType { F32, F16, BF16, I64, I32, I8, U8, Bool };
const char *dtypeName(DType t);
int64_t dtypeBytes(DType t);
bool isFloat(DType t);

using Dims = llvm::SmallVector<SymExpr, 6>;

/// Row-major element strides of `dims`.
inline Dims contiguousStrides(const Dims &dims) {
  Dims s(dims.size(), SymExpr::constant(1));
  for (int d = int(dims.size()) - 2; d >= 0; --d)
    s[d] = s[d + 1] * dims[d + 1];
  return s;
}

struct Buffer {
  /// State: a KV cache page pool the runtime allocates once and keeps
  /// across runs (an input that the function returns updated).
  enum class Kind { Arena, Weight, View, State };
  Kind kind = Kind::Arena;
  DType dtype = DType::F32;
  Dims dims;
  std::string name; // the source value, for printing and errors
  /// Weight: byte offset in the weights section.
  uint64_t weightOffset = 0;
  /// View: the viewed buffer and the element offset into it.
  int viewOf = -1;
  SymExpr viewElementOffset = SymExpr::constant(0);
  /// Arena: byte offset and planned size (at the bounds), from planMemory.
  int64_t arenaOffset = -1;
  int64_t arenaBytes = 0;
  int inputIndex = -1;  // a model input
  int outputIndex = -1; // a model output (possibly several)
  SymExpr numel() const;
};

/// One node of a generated kernel's expression tree.
struct ExprNode {
  enum class Kind { Load, Const, Param, Iota, Op };
  Kind kind = Kind::Op;
  DType type = DType::F32;
  // Load: element offset = base + sum(coord[d] * strides[d]) (+ gather).
  int buffer = -1;
  SymExpr base = SymExpr::constant(0);
  Dims strides;
  // Gather: the index loaded from `indexBuffer` at indexBase +
  // sum(coord[d] * indexStrides[d]), negative indices wrapped by
  // gatherExtent, times gatherStride, is added to the offset.
  int indexBuffer = -1;
  SymExpr indexBase = SymExpr::constant(0);
  Dims indexStrides;
  SymExpr gatherStride, gatherExtent;
  // Const: the value. Param: an integer expression. Iota: coord[axis].
  double value = 0;
  SymExpr param;
  int axis = 0;
  // Op: name ("add", "tanh", "cast", "select", ...) and operand nodes.
  std::string op;
  llvm::SmallVector<int, 3> operands;
};

/// An elementwise kernel: out[coord] = tree(coord) for every coord of
/// `dims`, stored at outBase + sum(coord[d] * outStrides[d]).
struct ElementwiseKernel {
  Dims dims;
  int out = -1;
  SymExpr outBase = SymExpr::constant(0);
  Dims outStrides;
  std::vector<ExprNode> nodes;
  int root = -1;
};

/// A launch argument.
struct Arg {
  enum class Kind { Buffer, Null, I64, I32, F32, Pack, TensorMap };
  Kind kind = Kind::I64;
  int buffer = -1;                 // Buffer, TensorMap
  SymExpr value;                   // I64, I32; TensorMap: the row count
  float f32 = 0;                   // F32
  llvm::SmallVector<SymExpr> pack; // Pack: consecutive int64 values
  static Arg buf(int b) {
    Arg a;
    a.kind = Kind::Buffer;
    a.buffer = b;
    return a;
  }
  static Arg null() {
    Arg a;
    a.kind = Kind::Null;
    return a;
  }
  static Arg i64(SymExpr v) {
    Arg a;
    a.kind = Kind::I64;
    a.value = std::move(v);
    return a;
  }
  static Arg i32(int64_t v) {
    Arg a;
    a.kind = Kind::I32;
    a.value = SymExpr::constant(v);
    return a;
  }
  static Arg f(float v) {
    Arg a;
    a.kind = Kind::F32;
    a.f32 = v;
    return a;
  }
  /// A TMA tensor map over buffer `b` read as a row-major [rows, cols]
  /// matrix of 16-bit elements, in boxes of boxRows x 64 with the 128-byte
  /// swizzle; the runtime encodes it with the actual sizes.
  static Arg tensorMap(int b, SymExpr rows, int64_t cols, int64_t boxRows) {
    Arg a;
    a.kind = Kind::TensorMap;
    a.buffer = b;
    a.value = std::move(rows);
    a.pack = {SymExpr::constant(cols), SymExpr::constant(boxRows)};
    return a;
  }
};

/// A grid dimension: ceil(value / divisor).
struct GridDim {
  SymExpr value = SymExpr::constant(1);
  int64_t divisor = 1;
};

struct Launch {
  std::string function; // PTX entry name
  std::string module;   // "generated" or "templates"
  std::string what;     // the ops it computes, for printing and profiles
  GridDim grid[3];
  int block[3] = {1, 1, 1};
  int64_t sharedBytes = 0;
  std::vector<Arg> args;
  /// Set for generated kernels (the function is built from it).
  std::optional<ElementwiseKernel> elementwise;
  /// Work estimates for --bench/--profile (bytes moved, flops).
  SymExpr bytes = SymExpr::constant(0), flops = SymExpr::constant(0);
  /// The launch runs only when this evaluates above 0 (kernel variants for
  /// ranges of a size, such as one-token decode steps).
  SymExpr when = SymExpr::constant(1);
  /// Buffers read and written (liveness, fusion).
  llvm::SmallVector<int, 6> reads, writes;
};

struct ModelIO {
  std::string name;
  int buffer = -1;
};

struct CompileOptions {
  std::string dtype = "auto";      // auto | fp32 | fp16 | bf16
  llvm::StringMap<int64_t> bounds; // symbol -> largest size
  std::string target = "sm_90";
  bool fuse = true;
  /// A Hopper linear followed by an activation: false folds the activation
  /// into a cooperative tile's epilogue; true lets the linear take the
  /// ping-pong tile (which has none) where it costs less and leaves the
  /// activation to its own launch.
  bool separateHopperActivation = false;
  /// Where to read the CUDA kernel templates from ("" = the copies built
  /// into the compiler): kernel development without rebuilding kuai-compile.
  std::string templateDir;
};

struct KernelProgram {
  std::vector<Buffer> buffers;
  std::vector<Launch> launches;
  std::vector<ModelIO> inputs, outputs;
  /// State buffers (KV cache pages), in the order of the function's inputs.
  std::vector<ModelIO> states;
  std::vector<uint8_t> weights; // the weights section
  int64_t arenaBytes = 0;
  CompileOptions options;
  int addBuffer(Buffer b) {
    buffers.push_back(std::move(b));
    return int(buffers.size() - 1);
  }
  /// Elements from the start of the storage that owns `b` to `b` (through
  /// views), when constant. Arena slots and weights are 256-byte aligned.
  std::optional<int64_t> rootElementOffset(int b) const {
    int64_t offset = 0;
    for (; buffers[b].kind == Buffer::Kind::View; b = buffers[b].viewOf) {
      auto o = buffers[b].viewElementOffset.getConstant();
      if (!o)
        return std::nullopt;
      offset += *o;
    }
    return offset;
  }
  /// The buffer that owns `b`'s storage (follows views).
  int root(int b) const {
    while (buffers[b].kind == Buffer::Kind::View)
      b = buffers[b].viewOf;
    return b;
  }
};

/// Transformer IR -> kernel program (kuai-lower-to-kernels). Fails with an
/// error naming the op and its source node for anything without a kernel.
llvm::Expected<KernelProgram> lowerToKernels(mlir::func::FuncOp func,
                                             const CompileOptions &options);
/// Merges single-use elementwise producers into their consumers
/// (kuai-fuse-kernels). Returns the number of launches removed.
int fuseKernels(KernelProgram &program);
/// Gives every tensor-core linear whose row count can be small at run time
/// (decode steps) a split-K variant for up to 64 rows, next to the launches
/// chosen at the bound row count: each guarded by `when`. Runs after
/// fuseKernels (the variant takes the fused epilogue) and before planMemory.
void addSmallRowVariants(KernelProgram &program);
/// Assigns arena offsets by liveness, sized at the bounds (kuai-plan-memory).
llvm::Error planMemory(KernelProgram &program);
/// Names the generated launches and fills their grids and arguments (the
/// signature generateElementwisePtx builds).
void finalizeGeneratedLaunches(KernelProgram &program);
void printKernelProgram(const KernelProgram &program, llvm::raw_ostream &os);

/// PTX of the generated kernels (MLIR GPU path: gpu -> NVVM -> PTX).
llvm::Expected<std::string>
generateElementwisePtx(const KernelProgram &program);
/// PTX of the template kernels (NVRTC).
llvm::Expected<std::string> compileTemplatesPtx(const KernelProgram &program);

/// The manifest and plan sections (docs/artifact.md).
std::string buildManifest(const KernelProgram &program);
std::string buildPlan(const KernelProgram &program);
/// Compiles PTX and writes model.kuai.
llvm::Error writeArtifact(const KernelProgram &program,
                          const std::string &generatedPtx,
                          const std::string &templatePtx,
                          const std::string &path);

/// An expression in the plan's syntax: "2*batch*seq+1" (no spaces).
std::string planExpr(const SymExpr &e);

} // namespace kuai::codegen

#endif

//===- PlanMemory.cpp - One activation arena, offsets by liveness ---------===//
//
// kuai-plan-memory: every arena buffer (inputs, intermediates, outputs) gets
// a byte offset in one arena, sized at the bounds of the symbols
// (--max-batch, --max-seq, ...). A buffer lives from the launch that first
// touches it to the last one (inputs from the start, outputs to the end);
// buffers whose lifetimes do not overlap share bytes. Placement is greedy,
// largest first, at the lowest offset free for the whole lifetime. The
// weights section keeps only the weights that launches read.
//
//===----------------------------------------------------------------------===//

#include "kuai/Codegen/KernelProgram.h"
#include <algorithm>
#include <climits>

using namespace kuai;
using namespace kuai::codegen;

/// Drops weights no launch reads (a [K, N] original replaced by its [N, K]
/// copy, constants folded into expressions) and packs the rest.
static void compactWeights(KernelProgram &program) {
  std::vector<bool> used(program.buffers.size(), false);
  for (const Launch &l : program.launches)
    for (const Arg &a : l.args)
      if (a.kind == Arg::Kind::Buffer || a.kind == Arg::Kind::TensorMap)
        used[program.root(a.buffer)] = true;
  std::vector<uint8_t> packed;
  for (size_t b = 0; b < program.buffers.size(); ++b) {
    Buffer &buf = program.buffers[b];
    if (buf.kind != Buffer::Kind::Weight || !used[b])
      continue;
    uint64_t bytes = 1;
    for (const SymExpr &d : buf.dims)
      bytes *= uint64_t(*d.getConstant());
    bytes *= dtypeBytes(buf.dtype);
    packed.resize((packed.size() + 255) / 256 * 256);
    uint64_t offset = packed.size();
    packed.insert(packed.end(), program.weights.begin() + buf.weightOffset,
                  program.weights.begin() + buf.weightOffset + bytes);
    buf.weightOffset = offset;
  }
  program.weights = std::move(packed);
}

llvm::Error kuai::codegen::planMemory(KernelProgram &program) {
  compactWeights(program);
  size_t n = program.buffers.size();
  std::vector<int> first(n, INT_MAX), last(n, -1);
  int end = int(program.launches.size());
  auto touch = [&](int b, int at) {
    b = program.root(b);
    first[b] = std::min(first[b], at);
    last[b] = std::max(last[b], at);
  };
  for (auto [i, l] : llvm::enumerate(program.launches)) {
    for (int b : l.reads)
      touch(b, int(i));
    for (int b : l.writes)
      touch(b, int(i));
  }
  for (const ModelIO &io : program.inputs)
    touch(io.buffer, -1);
  for (const ModelIO &io : program.outputs)
    touch(io.buffer, end);

  struct Item {
    int buffer;
    int64_t bytes;
  };
  std::vector<Item> items;
  for (size_t b = 0; b < n; ++b) {
    Buffer &buf = program.buffers[b];
    if (buf.kind != Buffer::Kind::Arena || first[b] == INT_MAX)
      continue;
    auto count = buf.numel().evaluate(program.options.bounds);
    if (!buf.numel().isKnown())
      return llvm::createStringError(
          "buffer '" + buf.name +
          "': shape depends on tensor values (data-dependent shapes have no "
          "GPU plan: sizes must follow from the input shapes)");
    if (!count) {
      std::string symbols;
      for (const SymExpr &d : buf.dims)
        if (!d.isConstant())
          symbols += " " + d.str();
      return llvm::createStringError(
          "buffer '" + buf.name + "' has dims without a bound:" + symbols +
          " (give --max-batch, --max-seq or --max-dim name=N)");
    }
    int64_t bytes = std::max<int64_t>(*count * dtypeBytes(buf.dtype), 1);
    buf.arenaBytes = bytes;
    items.push_back({int(b), (bytes + 255) / 256 * 256});
  }
  std::stable_sort(
      items.begin(), items.end(),
      [](const Item &a, const Item &b) { return a.bytes > b.bytes; });
  std::vector<Item> placed;
  int64_t arena = 0;
  for (const Item &it : items) {
    // Candidate offsets: 0 and the end of every overlapping placed buffer.
    std::vector<std::pair<int64_t, int64_t>> busy;
    for (const Item &p : placed)
      if (first[p.buffer] <= last[it.buffer] &&
          first[it.buffer] <= last[p.buffer])
        busy.push_back({program.buffers[p.buffer].arenaOffset,
                        program.buffers[p.buffer].arenaOffset + p.bytes});
    std::sort(busy.begin(), busy.end());
    int64_t offset = 0;
    for (auto [lo, hi] : busy) {
      if (offset + it.bytes <= lo)
        break;
      offset = std::max(offset, hi);
    }
    program.buffers[it.buffer].arenaOffset = offset;
    arena = std::max(arena, offset + it.bytes);
    placed.push_back(it);
  }
  program.arenaBytes = arena;
  return llvm::Error::success();
}

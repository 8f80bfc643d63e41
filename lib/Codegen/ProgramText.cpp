//===- ProgramText.cpp - Printing, manifest, plan and the artifact --------===//

#include "kuai/Artifact/ArtifactWriter.h"
#include "kuai/Codegen/KernelProgram.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include <cstring>
#include <set>

using namespace kuai;
using namespace kuai::codegen;

std::string kuai::codegen::planExpr(const SymExpr &e) {
  std::string s = e.str();
  s.erase(std::remove(s.begin(), s.end(), ' '), s.end());
  return s;
}

namespace {

std::string dimsText(const Dims &dims) {
  if (dims.empty())
    return "-";
  std::vector<std::string> parts;
  for (const SymExpr &d : dims)
    parts.push_back(planExpr(d));
  return llvm::join(parts, ",");
}

std::string argText(const Arg &a) {
  switch (a.kind) {
  case Arg::Kind::Buffer:
    return "b" + std::to_string(a.buffer);
  case Arg::Kind::Null:
    return "null";
  case Arg::Kind::I64:
    return "i64:" + planExpr(a.value);
  case Arg::Kind::I32:
    return "i32:" + planExpr(a.value);
  case Arg::Kind::F32: {
    uint32_t bits;
    std::memcpy(&bits, &a.f32, 4);
    return "f32:" + llvm::utohexstr(bits);
  }
  case Arg::Kind::Pack: {
    std::vector<std::string> parts;
    for (const SymExpr &e : a.pack)
      parts.push_back(planExpr(e));
    return "pack:" + llvm::join(parts, ",");
  }
  case Arg::Kind::TensorMap:
    return "tmap:b" + std::to_string(a.buffer) + "," + planExpr(a.value) + "," +
           planExpr(a.pack[0]) + "," + planExpr(a.pack[1]);
  }
  return "?";
}

std::string gridText(const GridDim &g) {
  return planExpr(g.value) + "/" + std::to_string(g.divisor);
}

/// Buffers that the launches or the model's inputs and outputs use.
std::set<int> usedBuffers(const KernelProgram &p) {
  std::set<int> used;
  for (const Launch &l : p.launches)
    for (const Arg &a : l.args)
      if (a.kind == Arg::Kind::Buffer || a.kind == Arg::Kind::TensorMap)
        used.insert(a.buffer);
  for (const ModelIO &io : p.inputs)
    used.insert(io.buffer);
  for (const ModelIO &io : p.outputs)
    used.insert(io.buffer);
  for (const ModelIO &io : p.states)
    used.insert(io.buffer);
  return used;
}

} // namespace

void kuai::codegen::printKernelProgram(const KernelProgram &p,
                                       llvm::raw_ostream &os) {
  os << "// kernel program: " << p.launches.size() << " launches, arena "
     << p.arenaBytes << " bytes at the bounds, weights " << p.weights.size()
     << " bytes\n";
  for (const ModelIO &io : p.inputs)
    os << "input  " << io.name << " = b" << io.buffer << "\n";
  for (const ModelIO &io : p.outputs)
    os << "output " << io.name << " = b" << io.buffer << "\n";
  for (const ModelIO &io : p.states)
    os << "state  " << io.name << " = b" << io.buffer << "\n";
  for (int b : usedBuffers(p)) {
    const Buffer &buf = p.buffers[b];
    os << llvm::format("b%-4d ", b) << dtypeName(buf.dtype) << "["
       << dimsText(buf.dims) << "] ";
    switch (buf.kind) {
    case Buffer::Kind::Arena:
      os << "arena @" << buf.arenaOffset << " (" << buf.arenaBytes << " bytes)";
      break;
    case Buffer::Kind::Weight:
      os << "weights @" << buf.weightOffset;
      break;
    case Buffer::Kind::View:
      os << "view of b" << buf.viewOf;
      if (buf.viewElementOffset != SymExpr::constant(0))
        os << " at element " << buf.viewElementOffset.str();
      break;
    case Buffer::Kind::State:
      os << "state (KV cache pool)";
      break;
    }
    os << "  " << buf.name << "\n";
  }
  for (const Launch &l : p.launches) {
    if (l.when != SymExpr::constant(1))
      os << "[when " << l.when.str() << " > 0] ";
    os << l.module << "." << l.function << " <<<" << gridText(l.grid[0]) << ", "
       << gridText(l.grid[1]) << ", " << gridText(l.grid[2]) << " | "
       << l.block[0] << "x" << l.block[1] << "x" << l.block[2] << ">>> (";
    for (size_t i = 0; i < l.args.size(); ++i)
      os << (i ? " " : "") << argText(l.args[i]);
    os << ")  // " << l.what << "\n";
  }
}

std::string kuai::codegen::buildManifest(const KernelProgram &p) {
  std::string s;
  llvm::raw_string_ostream os(s);
  auto io = [&](const std::vector<ModelIO> &list) {
    os << "[";
    for (size_t i = 0; i < list.size(); ++i) {
      const Buffer &b = p.buffers[list[i].buffer];
      os << (i ? ", " : "") << "{\"name\": \"" << list[i].name
         << "\", \"dtype\": \"" << dtypeName(b.dtype) << "\", \"dims\": [";
      for (size_t d = 0; d < b.dims.size(); ++d)
        os << (d ? ", " : "") << "\"" << planExpr(b.dims[d]) << "\"";
      os << "]}";
    }
    os << "]";
  };
  os << "{\n  \"format\": 1,\n  \"target\": \"" << p.options.target
     << "\",\n  \"dtype\": \"" << p.options.dtype << "\",\n  \"inputs\": ";
  io(p.inputs);
  os << ",\n  \"outputs\": ";
  io(p.outputs);
  if (!p.states.empty()) {
    os << ",\n  \"kv_cache\": ";
    io(p.states);
  }
  os << ",\n  \"bounds\": {";
  std::vector<std::string> names;
  for (const auto &e : p.options.bounds)
    names.push_back(e.getKey().str());
  std::sort(names.begin(), names.end());
  for (size_t i = 0; i < names.size(); ++i)
    os << (i ? ", " : "") << "\"" << names[i]
       << "\": " << p.options.bounds.lookup(names[i]);
  os << "},\n  \"launches\": " << p.launches.size()
     << ",\n  \"arena_bytes\": " << p.arenaBytes
     << ",\n  \"weights_bytes\": " << p.weights.size() << "\n}\n";
  return s;
}

std::string kuai::codegen::buildPlan(const KernelProgram &p) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "kuai-plan 1\n";
  std::vector<std::string> names;
  for (const auto &e : p.options.bounds)
    names.push_back(e.getKey().str());
  std::sort(names.begin(), names.end());
  for (const std::string &n : names)
    os << "symbol " << n << " " << p.options.bounds.lookup(n) << "\n";
  os << "arena " << p.arenaBytes << "\n";
  for (int b : usedBuffers(p)) {
    const Buffer &buf = p.buffers[b];
    const Buffer &root = p.buffers[p.root(b)];
    bool weight = root.kind == Buffer::Kind::Weight;
    if (root.kind == Buffer::Kind::State) {
      // Offset: the state's index; the runtime places it in the kv pool.
      auto index = llvm::find_if(
          p.states, [&](const ModelIO &io) { return io.buffer == p.root(b); });
      assert(p.rootElementOffset(b) == 0 && "a view into a KV page pool");
      os << "buffer " << b << " s " << (index - p.states.begin()) << " 0 "
         << dtypeName(buf.dtype) << " " << dimsText(buf.dims) << "\n";
      continue;
    }
    // A view starts its offset's bytes into its root's slot (constant:
    // views at symbolic offsets are never made).
    assert(p.rootElementOffset(b) && "views at symbolic offsets");
    const int64_t skip = *p.rootElementOffset(b) * dtypeBytes(buf.dtype);
    uint64_t offset = (weight ? root.weightOffset : root.arenaOffset) + skip;
    int64_t slot = weight ? 0 : root.arenaBytes - skip;
    os << "buffer " << b << " " << (weight ? "w" : "a") << " " << offset << " "
       << slot << " " << dtypeName(buf.dtype) << " " << dimsText(buf.dims)
       << "\n";
  }
  for (auto [i, io] : llvm::enumerate(p.inputs))
    os << "input " << i << " " << io.buffer << " " << io.name << "\n";
  for (auto [i, io] : llvm::enumerate(p.states))
    os << "state " << i << " " << io.buffer << " " << io.name << "\n";
  for (auto [i, io] : llvm::enumerate(p.outputs))
    os << "output " << i << " " << io.buffer << " " << io.name << "\n";
  for (const Launch &l : p.launches) {
    if (l.when != SymExpr::constant(1))
      os << "when " << planExpr(l.when) << "\n";
    os << "launch " << l.module << " " << l.function;
    for (const GridDim &g : l.grid)
      os << " " << gridText(g);
    os << " " << l.block[0] << " " << l.block[1] << " " << l.block[2] << " "
       << l.sharedBytes << " " << planExpr(l.bytes) << " " << planExpr(l.flops)
       << " " << l.args.size();
    for (const Arg &a : l.args)
      os << " " << argText(a);
    os << " " << l.what << "\n";
  }
  return s;
}

llvm::Error kuai::codegen::writeArtifact(const KernelProgram &program,
                                         const std::string &generatedPtx,
                                         const std::string &templatePtx,
                                         const std::string &path) {
  std::string manifest = buildManifest(program), plan = buildPlan(program);
  ArtifactWriter writer;
  writer.addSection(KUAI_SECTION_MANIFEST, "manifest", manifest.data(),
                    manifest.size());
  writer.addSection(KUAI_SECTION_PLAN, "plan", plan.data(), plan.size());
  // A model without generated (or template) launches has no such module.
  if (!generatedPtx.empty())
    writer.addSection(KUAI_SECTION_PTX, "generated", generatedPtx.data(),
                      generatedPtx.size());
  if (!templatePtx.empty())
    writer.addSection(KUAI_SECTION_PTX, "templates", templatePtx.data(),
                      templatePtx.size());
  writer.addSection(KUAI_SECTION_WEIGHTS, "weights", program.weights.data(),
                    program.weights.size());
  std::string error = writer.write(path);
  if (!error.empty())
    return llvm::createStringError(error);
  return llvm::Error::success();
}

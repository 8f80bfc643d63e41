//===- Plan.cpp - Parsing the launch plan ---------------------------------===//

#include "Plan.h"
#include <cstdlib>
#include <cstring>
#include <sstream>

using namespace kuai::rt;

int64_t Poly::eval(const std::vector<int64_t> &values) const {
  int64_t sum = 0;
  for (const Term &t : terms) {
    int64_t v = t.coeff;
    for (int s : t.symbols)
      v *= values[s];
    sum += v;
  }
  return sum;
}

int kuai::rt::dtypeBytes(const std::string &dtype) {
  if (dtype == "f32" || dtype == "i32")
    return 4;
  if (dtype == "f16" || dtype == "bf16")
    return 2;
  if (dtype == "i64")
    return 8;
  return 1;
}

namespace {

struct Parser {
  Plan &plan;
  int line = 0;
  std::string error;

  bool fail(const std::string &message) {
    if (error.empty())
      error = "plan line " + std::to_string(line) + ": " + message;
    return false;
  }

  int symbolIndex(const std::string &name) {
    for (size_t i = 0; i < plan.symbols.size(); ++i)
      if (plan.symbols[i] == name)
        return int(i);
    return -1;
  }

  /// "128*batch*seq+2*seq-1"
  bool poly(const std::string &text, Poly &out) {
    out.terms.clear();
    size_t i = 0;
    while (i < text.size()) {
      int64_t sign = 1;
      if (text[i] == '+' || text[i] == '-') {
        sign = text[i] == '-' ? -1 : 1;
        ++i;
      }
      size_t end = text.find_first_of("+-", i);
      std::string term =
          text.substr(i, end == std::string::npos ? end : end - i);
      i = end == std::string::npos ? text.size() : end;
      Poly::Term t{sign, {}};
      std::stringstream factors(term);
      std::string f;
      while (std::getline(factors, f, '*')) {
        if (f.empty())
          return fail("bad expression '" + text + "'");
        if (std::isdigit((unsigned char)f[0])) {
          t.coeff *= std::strtoll(f.c_str(), nullptr, 10);
        } else {
          int s = symbolIndex(f);
          if (s < 0)
            return fail("unknown symbol '" + f + "' in '" + text + "'");
          t.symbols.push_back(s);
        }
      }
      out.terms.push_back(t);
    }
    return true;
  }

  bool list(const std::string &text, std::vector<Poly> &out) {
    out.clear();
    if (text == "-")
      return true;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) {
      Poly p;
      if (!poly(item, p))
        return false;
      out.push_back(p);
    }
    return true;
  }

  bool arg(const std::string &text, PlanArg &a) {
    if (text == "null") {
      a.kind = PlanArg::Null;
      return true;
    }
    if (text[0] == 'b') {
      a.kind = PlanArg::Buffer;
      a.buffer = std::atoi(text.c_str() + 1);
      if (!plan.buffers.count(a.buffer))
        return fail("launch uses undeclared buffer " + text);
      return true;
    }
    size_t colon = text.find(':');
    if (colon == std::string::npos)
      return fail("bad argument '" + text + "'");
    std::string kind = text.substr(0, colon), value = text.substr(colon + 1);
    if (kind == "i64" || kind == "i32") {
      a.kind = kind == "i64" ? PlanArg::I64 : PlanArg::I32;
      return poly(value, a.value);
    }
    if (kind == "f32") {
      a.kind = PlanArg::F32;
      uint32_t bits = uint32_t(std::strtoul(value.c_str(), nullptr, 16));
      std::memcpy(&a.f32, &bits, 4);
      return true;
    }
    if (kind == "pack") {
      a.kind = PlanArg::Pack;
      return list(value, a.pack);
    }
    if (kind == "tmap") {
      // tmap:b<buffer>,<rows>,<columns>,<box rows>
      a.kind = PlanArg::TensorMap;
      std::vector<Poly> parts;
      size_t comma = value.find(',');
      if (value[0] != 'b' || comma == std::string::npos ||
          !list(value.substr(comma + 1), parts) || parts.size() != 3 ||
          !parts[1].isConstant() || !parts[2].isConstant())
        return fail("bad tensor map argument '" + text + "'");
      a.buffer = std::atoi(value.c_str() + 1);
      if (!plan.buffers.count(a.buffer))
        return fail("launch uses undeclared buffer b" +
                    std::to_string(a.buffer));
      int elementBytes = plan.buffers[a.buffer].elementBytes;
      a.value = parts[0];
      a.columns = parts[1].eval({});
      a.boxRows = parts[2].eval({});
      if (elementBytes != 2 || a.columns <= 0 ||
          a.columns * elementBytes % 16 != 0 || a.boxRows <= 0 ||
          a.boxRows > 256)
        return fail("tensor map '" + text +
                    "' needs a 16-bit buffer, rows of a multiple of 16 bytes "
                    "and at most 256 rows per box");
      return true;
    }
    return fail("bad argument kind '" + kind + "'");
  }

  // A `when` record applies to the next launch.
  Poly pendingWhen;
  bool hasWhen = false;

  bool parseLine(const std::string &text) {
    std::istringstream in(text);
    std::string word;
    in >> word;
    if (word.empty())
      return true;
    if (word == "symbol") {
      std::string name;
      int64_t bound = 0;
      in >> name >> bound;
      plan.symbols.push_back(name);
      plan.bounds.push_back(bound);
    } else if (word == "arena") {
      in >> plan.arenaBytes;
    } else if (word == "buffer") {
      int id;
      std::string pool, dims;
      PlanBuffer b;
      in >> id >> pool >> b.offset >> b.slotBytes >> b.dtype >> dims;
      b.weight = pool == "w";
      b.state = pool == "s";
      if (pool != "w" && pool != "a" && pool != "s")
        return fail("buffer pool '" + pool + "' is not w, a or s");
      b.elementBytes = dtypeBytes(b.dtype);
      if (!list(dims, b.dims))
        return false;
      plan.buffers[id] = b;
    } else if (word == "input" || word == "output" || word == "state") {
      int index;
      PlanIO io;
      in >> index >> io.buffer;
      std::getline(in >> std::ws, io.name);
      if (!plan.buffers.count(io.buffer))
        return fail(word + " of an undeclared buffer");
      if ((word == "state") != plan.buffers[io.buffer].state)
        return fail(word + " of a buffer " +
                    (word == "state" ? "outside" : "inside") +
                    " the state pool");
      if (word == "state" &&
          (plan.buffers[io.buffer].offset != plan.states.size() ||
           plan.buffers[io.buffer].dims.size() != 4 ||
           !plan.buffers[io.buffer].dims[2].isConstant()))
        return fail("state " + std::to_string(index) +
                    " must be the next state index with dims [pages, heads, "
                    "page size, d]");
      (word == "input"    ? plan.inputs
       : word == "output" ? plan.outputs
                          : plan.states)
          .push_back(io);
    } else if (word == "when") {
      std::string e;
      in >> e;
      if (!poly(e, pendingWhen))
        return false;
      hasWhen = true;
    } else if (word == "launch") {
      PlanLaunch l;
      if (hasWhen)
        l.when = pendingWhen;
      hasWhen = false;
      in >> l.module >> l.function;
      for (int d = 0; d < 3; ++d) {
        std::string g;
        in >> g;
        size_t slash = g.rfind('/');
        if (slash == std::string::npos || !poly(g.substr(0, slash), l.grid[d]))
          return fail("bad grid '" + g + "'");
        l.divisor[d] = std::strtoll(g.c_str() + slash + 1, nullptr, 10);
        if (l.divisor[d] <= 0)
          return fail("bad grid divisor in '" + g + "'");
      }
      std::string bytes, flops;
      size_t count = 0;
      in >> l.block[0] >> l.block[1] >> l.block[2] >> l.sharedBytes >> bytes >>
          flops >> count;
      if (!poly(bytes, l.bytes) || !poly(flops, l.flops))
        return false;
      for (size_t i = 0; i < count; ++i) {
        std::string a;
        in >> a;
        PlanArg arg;
        if (a.empty() || !this->arg(a, arg))
          return fail("bad or missing argument " + std::to_string(i));
        l.args.push_back(arg);
      }
      std::getline(in >> std::ws, l.what);
      plan.launches.push_back(l);
    } else if (word == "kuai-plan") {
      int version = 0;
      in >> version;
      if (version != 1)
        return fail("plan version " + std::to_string(version) +
                    " is not 1: recompile the model");
    } else {
      return fail("unknown record '" + word + "'");
    }
    if (in.fail())
      return fail("malformed '" + word + "' record");
    return true;
  }
};

} // namespace

kuai_status_t kuai::rt::parsePlan(const std::string &text, Plan &out) {
  Parser p{out};
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    ++p.line;
    if (!p.parseLine(line))
      return makeStatus(KUAI_DATA_LOSS, p.error);
  }
  return nullptr;
}

std::set<std::string>
kuai::rt::entriesWaitingOnPreviousGrid(const std::string &ptx) {
  std::set<std::string> out;
  const std::string entry = ".entry ";
  for (size_t at = ptx.find(entry); at != std::string::npos;
       at = ptx.find(entry, at + entry.size())) {
    size_t nameBegin = at + entry.size();
    size_t nameEnd = ptx.find_first_of("( \t\n", nameBegin);
    // The body: from the first line that is "{" to the next line that is
    // "}" (PTX as NVRTC and LLVM's NVPTX back end print it).
    size_t open = ptx.find("\n{", nameEnd);
    size_t close = open == std::string::npos ? open : ptx.find("\n}", open + 2);
    if (nameEnd == std::string::npos || close == std::string::npos)
      break;
    size_t wait = ptx.find("griddepcontrol.wait", open);
    if (wait < close)
      out.insert(ptx.substr(nameBegin, nameEnd - nameBegin));
    at = close;
  }
  return out;
}

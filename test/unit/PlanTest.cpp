//===- PlanTest.cpp - Parsing the launch plan of model.kuai ---------------===//

#include "../../runtime/src/Plan.h"
#include <gtest/gtest.h>

using namespace kuai::rt;

namespace {

const char *kPlan = R"(kuai-plan 1
symbol batch 4
symbol seq 128
arena 4096
buffer 0 a 0 1024 i64 batch,seq
buffer 1 w 256 0 f16 16,8
buffer 2 a 1024 2048 f32 batch,seq,2
input 0 0 input_ids
output 0 2 logits
launch generated kuai_ew0 2*batch*seq/256 1/1 1/1 256 1 1 0 16*batch*seq 0 4 b2 b0 i64:2*batch*seq-1 pack:batch,seq,3 add
launch templates kuai_norm_f16 batch*seq/1 1/1 1/1 256 1 1 0 0 0 3 b1 null f32:3F800000 rms norm
launch templates kuai_linear_wg128_f16 8/128 batch*seq/128 1/1 384 1 1 0 0 0 1 tmap:b1,2*batch,8,128 linear
when -batch*seq+65
launch templates kuai_linear_tc64_f16 8/64 batch*seq/64 1/1 128 1 1 0 0 0 1 b1 linear (rows <= 64)
)";

std::string message(kuai_status_t s) {
  std::string m = kuai_status_message(s);
  kuai_status_free(s);
  return m;
}

// Tests that every record is read back and that sizes evaluate with the
// bound symbols.
TEST(Plan, ParsesAndEvaluates) {
  Plan plan;
  ASSERT_EQ(parsePlan(kPlan, plan), nullptr);
  ASSERT_EQ(plan.symbols.size(), 2u);
  EXPECT_EQ(plan.bounds[1], 128);
  EXPECT_EQ(plan.arenaBytes, 4096u);
  ASSERT_EQ(plan.buffers.size(), 3u);
  EXPECT_TRUE(plan.buffers[1].weight);
  EXPECT_EQ(plan.buffers[1].elementBytes, 2);
  EXPECT_EQ(plan.inputs[0].name, "input_ids");
  ASSERT_EQ(plan.launches.size(), 4u);
  // `when` guards the next launch only.
  EXPECT_TRUE(plan.launches[2].runs({16, 1024}));
  EXPECT_FALSE(plan.launches[3].runs({2, 64}));
  EXPECT_TRUE(plan.launches[3].runs({1, 64}));
  EXPECT_EQ(plan.launches[3].what, "linear (rows <= 64)");
  const PlanLaunch &l = plan.launches[0];
  std::vector<int64_t> values = {3, 5}; // batch = 3, seq = 5
  EXPECT_EQ(l.grid[0].eval(values), 30);
  EXPECT_EQ(l.divisor[0], 256);
  EXPECT_EQ(l.args[2].value.eval(values), 29);
  ASSERT_EQ(l.args[3].pack.size(), 3u);
  EXPECT_EQ(l.args[3].pack[2].eval(values), 3);
  EXPECT_EQ(l.what, "add");
  EXPECT_EQ(plan.launches[1].args[1].kind, PlanArg::Null);
  EXPECT_FLOAT_EQ(plan.launches[1].args[2].f32, 1.0f);
  EXPECT_EQ(plan.launches[1].what, "rms norm");
  const PlanArg &map = plan.launches[2].args[0];
  EXPECT_EQ(map.kind, PlanArg::TensorMap);
  EXPECT_EQ(map.buffer, 1);
  EXPECT_EQ(map.value.eval(values), 6);
  EXPECT_EQ(map.columns, 8);
  EXPECT_EQ(map.boxRows, 128);
}

// Tests that damaged plans are rejected with the line and the reason.
TEST(Plan, RejectsBadPlans) {
  Plan a;
  EXPECT_EQ(message(parsePlan("kuai-plan 2\n", a)),
            "plan line 1: plan version 2 is not 1: recompile the model");
  Plan b;
  EXPECT_EQ(message(parsePlan("kuai-plan 1\nbuffer 0 a 0 8 f32 tokens\n", b)),
            "plan line 2: unknown symbol 'tokens' in 'tokens'");
  Plan c;
  EXPECT_EQ(message(parsePlan(
                "kuai-plan 1\nlaunch m f 1/1 1/1 1/1 1 1 1 0 0 0 1 b7 x\n", c)),
            "plan line 2: launch uses undeclared buffer b7");
  Plan d;
  EXPECT_EQ(message(parsePlan("kuai-plan 1\nfrobnicate\n", d)),
            "plan line 2: unknown record 'frobnicate'");
  // A tensor map needs a 16-bit buffer whose rows are whole 16-byte units.
  const std::string buffers = "kuai-plan 1\nbuffer 0 a 0 64 f32 4,4\n"
                              "buffer 1 a 256 64 f16 4,4\n";
  Plan e;
  EXPECT_EQ(message(parsePlan(buffers + "launch m f 1/1 1/1 1/1 1 1 1 0 0 0 "
                                        "1 tmap:b0,4,8,64 x\n",
                              e)),
            "plan line 4: tensor map 'tmap:b0,4,8,64' needs a 16-bit buffer, "
            "rows of a multiple of 16 bytes and at most 256 rows per box");
  Plan f;
  EXPECT_EQ(message(parsePlan(buffers + "launch m f 1/1 1/1 1/1 1 1 1 0 0 0 "
                                        "1 tmap:b1,4,4,64 x\n",
                              f)),
            "plan line 4: tensor map 'tmap:b1,4,4,64' needs a 16-bit buffer, "
            "rows of a multiple of 16 bytes and at most 256 rows per box");
  Plan g;
  EXPECT_EQ(message(parsePlan(buffers + "launch m f 1/1 1/1 1/1 1 1 1 0 0 0 "
                                        "1 tmap:b1,4 x\n",
                              g)),
            "plan line 4: bad tensor map argument 'tmap:b1,4'");
}

// Tests the KV cache records: state buffers (pool `s`, offset = the
// state's index) and the state list, and that they must agree.
TEST(Plan, ReadsStates) {
  const std::string head = "kuai-plan 1\nsymbol kv_pages 64\n"
                           "buffer 0 s 0 0 f16 kv_pages,2,16,32\n"
                           "buffer 1 s 1 0 f16 kv_pages,2,16,32\n";
  Plan plan;
  ASSERT_EQ(
      parsePlan(head + "state 0 0 kv.key.0\nstate 1 1 kv.value.0\n", plan),
      nullptr);
  ASSERT_EQ(plan.states.size(), 2u);
  EXPECT_TRUE(plan.buffers[1].state);
  EXPECT_FALSE(plan.buffers[1].weight);
  EXPECT_EQ(plan.states[1].name, "kv.value.0");
  EXPECT_EQ(plan.buffers[0].dims[0].eval({7}), 7);
  Plan outOfOrder;
  EXPECT_EQ(message(parsePlan(head + "state 0 1 kv.value.0\n", outOfOrder)),
            "plan line 5: state 0 must be the next state index with dims "
            "[pages, heads, page size, d]");
  Plan notState;
  EXPECT_EQ(message(parsePlan(head + "input 0 0 kv.key.0\n", notState)),
            "plan line 5: input of a buffer inside the state pool");
  Plan badPool;
  EXPECT_EQ(message(parsePlan("kuai-plan 1\nbuffer 0 q 0 0 f16 4\n", badPool)),
            "plan line 2: buffer pool 'q' is not w, a or s");
}

// Tests which kernels of a PTX module count as programmatic dependents:
// those whose own body waits on the previous grid, not a neighbour's.
TEST(Plan, FindsKernelsWaitingOnPreviousGrid) {
  const std::string ptx = R"(.version 8.0
.target sm_90
.address_size 64

.visible .entry waits(
	.param .u64 waits_param_0
)
{
	griddepcontrol.wait;
	griddepcontrol.launch_dependents;
	ret;
}
.visible .entry plain(
	.param .u64 plain_param_0
)
{
	ret;
}
.visible .entry kuai_ew0(.param .u64 p)
{
	griddepcontrol.wait;
	ret;
}
)";
  std::set<std::string> found = entriesWaitingOnPreviousGrid(ptx);
  EXPECT_EQ(found, (std::set<std::string>{"waits", "kuai_ew0"}));
  EXPECT_TRUE(entriesWaitingOnPreviousGrid("").empty());
  // A module cut short inside a body: nothing after the cut.
  EXPECT_TRUE(
      entriesWaitingOnPreviousGrid(".entry cut(\n)\n{\ngriddepcontrol.wait;")
          .empty());
}

} // namespace

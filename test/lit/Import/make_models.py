#!/usr/bin/env python3
"""Writes the small ONNX models and tensors the importer's lit tests use.

The outputs are committed (lit does not need the `onnx` package); rerun this
script after changing it: python3 test/lit/Import/make_models.py
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "Inputs")


def save(model, name, opset=18):
    model.opset_import[0].version = opset
    model.ir_version = 8
    onnx.save(model, os.path.join(HERE, name))


def graph(nodes, inputs, outputs, inits=()):
    return helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, list(inits)))


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def const(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def main():
    os.makedirs(HERE, exist_ok=True)
    f32 = TensorProto.FLOAT

    # A reshape whose target shape is computed from the input's dynamic dims,
    # the way exporters write it.
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "zero"], ["b"], name="batch", axis=0),
        helper.make_node("Gather", ["s", "one"], ["q"], name="seq", axis=0),
        helper.make_node("Unsqueeze", ["b", "ax0"], ["b1"], name="b1"),
        helper.make_node("Unsqueeze", ["q", "ax0"], ["q1"], name="q1"),
        helper.make_node("Concat", ["b1", "q1", "heads"], ["shape4"], name="cat", axis=0),
        helper.make_node("Reshape", ["x", "shape4"], ["y"], name="split_heads"),
        helper.make_node("Transpose", ["y"], ["out"], name="to_heads", perm=[0, 2, 1, 3]),
    ]
    inits = [const("zero", np.int64(0)), const("one", np.int64(1)),
             const("ax0", np.array([0], np.int64)),
             const("heads", np.array([4, 8], np.int64))]
    save(graph(nodes, [vi("x", f32, ["batch", "seq", 32])],
               [vi("out", f32, ["batch", 4, "seq", 8])], inits), "symbolic_reshape.onnx")

    # The same three ops in their opset 11 form (attributes) and opset 18
    # form (inputs): both import to the same IR.
    x = vi("x", f32, [2, 1, 6])
    old = [helper.make_node("Squeeze", ["x"], ["a"], name="squeeze", axes=[1]),
           helper.make_node("ReduceMean", ["a"], ["m"], name="mean", axes=[1], keepdims=1),
           helper.make_node("Split", ["a"], ["p", "r"], name="split", axis=1, split=[2, 4])]
    outs = [vi("m", f32, None), vi("p", f32, None), vi("r", f32, None)]
    save(graph(old, [x], outs), "opset11_forms.onnx", opset=11)
    new = [helper.make_node("Squeeze", ["x", "one"], ["a"], name="squeeze"),
           helper.make_node("ReduceMean", ["a", "one"], ["m"], name="mean", keepdims=1),
           helper.make_node("Split", ["a", "sizes"], ["p", "r"], name="split", axis=1)]
    save(graph(new, [x], outs, [const("one", np.array([1], np.int64)),
                                const("sizes", np.array([2, 4], np.int64))]),
         "opset18_forms.onnx")

    # Initializers of every supported dtype, each cast to float and summed.
    dtypes = {"f16": np.float16, "f32": np.float32, "f64": np.float64,
              "i8": np.int8, "u8": np.uint8, "i32": np.int32, "i64": np.int64,
              "b": np.bool_}
    nodes, inits = [], []
    for name, dt in dtypes.items():
        inits.append(const(name, (np.arange(24).reshape(2, 3, 4) % 5).astype(dt)))
        nodes.append(helper.make_node("Cast", [name], [name + "_f"], to=f32, name="cast_" + name))
    # make_tensor stores bfloat16 as bit patterns in int32_data.
    bf = helper.make_tensor("bf16", TensorProto.BFLOAT16, [2, 3, 4],
                            [1.5] * 24, raw=False)
    inits.append(bf)
    nodes.append(helper.make_node("Cast", ["bf16"], ["bf16_f"], to=f32, name="cast_bf16"))
    nodes.append(helper.make_node("Sum", [n + "_f" for n in list(dtypes) + ["bf16"]], ["y"], name="sum"))
    save(graph(nodes, [], [vi("y", f32, [2, 3, 4])], inits), "dtypes.onnx")

    # Weights in two external data files.
    w1 = np.arange(64, dtype=np.float32).reshape(8, 8) / 64
    w2 = np.ones((8, 4), np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="mm1"),
             helper.make_node("MatMul", ["h", "w2"], ["y"], name="mm2")]
    m = graph(nodes, [vi("x", f32, ["batch", 8])], [vi("y", f32, ["batch", 4])],
              [const("w1", w1), const("w2", w2)])
    for t, fname in zip(m.graph.initializer, ["weights_a.bin", "weights_b.bin"]):
        data = t.raw_data
        with open(os.path.join(HERE, fname), "wb") as f:
            f.write(b"\0" * 16 + data)  # an offset, as external-data writers use
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        for k, v in [("location", fname), ("offset", "16"), ("length", str(len(data)))]:
            e = t.external_data.add()
            e.key, e.value = k, v
    save(m, "external.onnx")
    np.save(os.path.join(HERE, "external_x.npy"), np.ones((2, 8), np.float32))
    for t in m.graph.initializer:
        t.external_data[0].value = "missing_" + t.external_data[0].value
    save(m, "external_missing.onnx")

    # Unsupported ops, two of one type.
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="ok"),
             helper.make_node("Conv", ["a", "w"], ["b"], name="conv_1"),
             helper.make_node("Conv", ["b", "w"], ["c"], name="conv_2"),
             helper.make_node("LSTM", ["c", "w", "w"], ["d"], name="lstm"),
             helper.make_node("MyOp", ["d"], ["y"], name="custom", domain="com.example")]
    m = graph(nodes, [vi("x", f32, [1, 1, 4, 4])], [vi("y", f32, None)],
              [const("w", np.ones((1, 1, 1, 1), np.float32))])
    m.opset_import.append(helper.make_opsetid("com.example", 1))
    save(m, "unsupported.onnx")

    # An axis out of range for the input rank.
    nodes = [helper.make_node("ReduceSum", ["x", "axes"], ["y"], name="bad_sum")]
    save(graph(nodes, [vi("x", f32, [2, 3])], [vi("y", f32, None)],
               [const("axes", np.array([5], np.int64))]), "axes_out_of_range.onnx")

    # A required attribute is missing (found by mutating models: it must be an
    # error, not a crash).
    nodes = [helper.make_node("Cast", ["x"], ["y"], name="cast_without_to")]
    save(graph(nodes, [vi("x", f32, [2])], [vi("y", f32, [2])]), "cast_without_to.onnx")

    # Inputs of the wrong rank and dtype for symbolic_reshape.onnx.
    np.save(os.path.join(HERE, "rank2_f32.npy"), np.zeros((2, 32), np.float32))
    np.save(os.path.join(HERE, "rank3_i64.npy"), np.zeros((2, 5, 32), np.int64))
    np.save(os.path.join(HERE, "x_2x5x32.npy"),
            np.arange(320, dtype=np.float32).reshape(2, 5, 32))

    # Random bytes with a fixed seed.
    with open(os.path.join(HERE, "random_bytes.onnx"), "wb") as f:
        f.write(np.random.default_rng(7).integers(0, 256, 4096, np.uint8).tobytes())


if __name__ == "__main__":
    main()

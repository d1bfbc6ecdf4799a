#!/usr/bin/env python3
"""The standard training step W in PyTorch, on the CPU: the PyTorch column of `deno task bench step`.

bench/step_bench.ts writes ncegpu's initial parameters, the inputs and the step's settings to a safetensors
file and runs this script on it; the script runs the same step from the same start and prints one JSON line:
the torch version, its threads, the first loss and the median ms/step. It is never a dependency of the library
or its tests: step_bench.ts skips the column when /usr/bin/python3 cannot import torch.

The step, written from the definitions (src/nn/sequential.ts mlp, shaders/l2norm.wgsl, src/losses/sampled.ts
with shaders/contrast.wgsl's InfoNCE, src/optim/optimizer.ts's Adam), not from the kernels:
    encode(x) = normalize(relu(x W0 + b0) W1 + b1),  normalize(y) = y / max(||y||, 1e-12)     W_i [in, out]
    q = encode(xq) [B, D];  c = encode(xc) viewed [B, 1 + K, D]: slot (i, j) is candidate row i (1 + K) + j,
    j = 0 the positive;  logits_ij = q_i . c_ij / tau;  loss = mean_i (logsumexp_j logits_ij - logits_i0)
    Adam: beta1 0.9, beta2 0.999, eps 1e-8 added to sqrt(v_hat), no weight decay, no clipping.
One encoder is shared by anchors and candidates; the gradients of both flow into it.

Use: /usr/bin/python3 bench/torch_step.py FILE.safetensors [--threads 2] [--iterations N]
FILE holds F32 tensors mlp.0.weight, mlp.0.bias, mlp.1.weight, mlp.1.bias, xq [B, 784], xc [B (1 + K), 784]
and metadata b, k, tau, lr, iterations and, optionally, expect_loss (ncegpu's first loss: the script exits
with an error unless its own first loss agrees with it to 1e-4 relative). The first step is the warm-up and
gives the first loss; the next `iterations` steps are timed (wall clock, one median).
"""

import argparse
import json
import os
import statistics
import struct
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its threads: no spinning between ops
import torch  # noqa: E402


def read_safetensors(path):
    """The F32 tensors and the metadata of a safetensors file (the format: u64 header length, JSON header, data)."""
    with open(path, "rb") as f:
        raw = f.read()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length])
    metadata = header.pop("__metadata__", {})
    data = memoryview(raw)[8 + length:]
    tensors = {}
    for name, entry in header.items():
        if entry["dtype"] != "F32":
            sys.exit(f"torch_step.py: {name} is {entry['dtype']}, expected F32")
        start, end = entry["data_offsets"]
        tensors[name] = torch.frombuffer(bytearray(data[start:end]), dtype=torch.float32).reshape(entry["shape"])
    return tensors, metadata


def encode(x, w0, b0, w1, b1):
    y = torch.relu(x @ w0 + b0) @ w1 + b1
    return y / y.norm(dim=1, keepdim=True).clamp_min(1e-12)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("file")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iterations", type=int, default=None, help="timed steps (default: the file's)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)

    tensors, meta = read_safetensors(a.file)
    b, k, tau, lr = int(meta["b"]), int(meta["k"]), float(meta["tau"]), float(meta["lr"])
    iterations = a.iterations if a.iterations is not None else int(meta["iterations"])
    params = [tensors[n].clone().requires_grad_() for n in ("mlp.0.weight", "mlp.0.bias", "mlp.1.weight", "mlp.1.bias")]
    xq, xc = tensors["xq"], tensors["xc"]
    if xq.shape[0] != b or xc.shape[0] != b * (1 + k):
        sys.exit(f"torch_step.py: xq {list(xq.shape)} and xc {list(xc.shape)} do not fit B = {b}, K = {k}")
    opt = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)

    first_loss = None
    times_ms = []
    for i in range(iterations + 1):
        t0 = time.perf_counter()
        q = encode(xq, *params)  # [B, D]
        c = encode(xc, *params).view(b, 1 + k, -1)  # [B, 1 + K, D]
        logits = torch.einsum("bd,bjd->bj", q, c) / tau
        loss = (torch.logsumexp(logits, 1) - logits[:, 0]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        value = float(loss)
        if i == 0:
            first_loss = value  # the loss at the initial parameters; this step warms up
        else:
            times_ms.append(1000 * (time.perf_counter() - t0))

    expect = meta.get("expect_loss")
    # The same parameters and inputs: the first losses agree to 1e-4 relative, as TF.js's must.
    if expect is not None and not abs(first_loss - float(expect)) <= 1e-4 * abs(float(expect)):
        sys.exit(f"torch_step.py: K={k}: first loss {first_loss} differs from ncegpu's {expect} by more than 1e-4")
    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": "cpu",
        "firstLoss": first_loss,
        "medianMs": statistics.median(times_ms) if times_ms else None,
        "timesMs": times_ms,
    }))


if __name__ == "__main__":
    main()

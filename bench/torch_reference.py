#!/usr/bin/env python3
"""Independent PyTorch reference of `deno task train`'s "pairs" recipe (closed-loop or fixed K).

What it is for: a second, plain-autograd implementation of the recipe that
examples/train.ts runs on WebGPU, to check ncegpu's final kNN accuracy against
(same recipe, different random streams: agreement is expected within seed noise,
not bit for bit). It is written from the recipe, not translated from the kernels.

Requirements: python3 with numpy and PyTorch (Debian: `apt-get install python3-torch`,
1.13 is enough; CPU only) and the Fashion-MNIST IDX files (Debian:
dataset-fashion-mnist, /usr/share/datasets/fashion-mnist, gzipped or not).
Optional: PyTorch is never a dependency of the library, its tests or its tasks;
nothing in ncegpu imports or runs this file.

Use (the system python3, /usr/bin/python3, where a pyenv or venv python lacks torch):
    python3 bench/torch_reference.py --seed 2 --threads 2         # the defaults of `deno task train`
    python3 bench/torch_reference.py --schedule fixed --k 32 --steps 700
    python3 bench/torch_reference.py --augment --steps 700
Defaults are train.ts's: closed-loop K (K_max 32), no augmentation, 3,000 steps, B 128, tau 0.1, lr 0.002.
It prints one JSON line: final kNN accuracy, recall@1, recall@5, the final K and every change of K
([first step, K]), training and wall seconds, config. On stderr: K every --k-every steps (default 500; with
the closed loop also the last K* and its moving average), and with --log-every N the mean loss. With more
than one thread, a seed's result is not bit-reproducible (reduction order); --threads 1 is.

Checked against ncegpu (seed 1, llvmpipe, torch 1.13 on 2 shared cores):
    train.ts --no-augment --schedule fixed --k 32 --steps 700   ncegpu 86.87%, this 87.01% / 86.94%
    train.ts --schedule fixed --k 32 --steps 700 (augmented)    ncegpu 84.58%, this 84.14%
    this, --no-augment --k 32 --steps 3000                      88.43% (159 s of training)
    the defaults (closed loop, 3,000 steps), seeds 1, 2, 3:     this 88.44 / 88.72 / 88.28% (88.48 +- 0.22),
                                                                recall@1 86.40 / 86.46 / 85.90%, final K 32
    K over 300 steps (--steps 300 --final-bank 2000 --final-queries 1000), the first step of each new K:
      defaults (lam 1)      both: 1, 5 @21, 9 @41, 13 @61, 17 @81, 21 @101, 25 @121, 29 @141, 30 @161,
                            31 @181, 32 @241 (identical: K* = K_max at every update when lam = 1)
      --lambda 0.97         ncegpu: 2 @21, 3 @41, 4 @61, 5 @101, 6 @121, 7 @221
                            this:   2 @21, 3 @41, 4 @61, 5 @101, 6 @161, 7 @261
      --negatives unaware   both: 1, then 2 from step 41 (lam 0.9)

What it mirrors (examples/train.ts in pairs mode, and the sources it builds on):
  data       training and test images as bytes/255 (784 floats), 10 classes, no label noise;
             src/data/fashion_mnist.ts, src/ops/gather.ts (scale 1/255, shift 0).
  model      MLP dims[0]=784 -> 256 -> 128 (--dims): Linear, ReLU, ..., Linear, then L2 normalisation
             z = h / max(||h||, 1e-12). Weights of layers followed by an activation: Kaiming uniform,
             bound sqrt(6/fan_in); the last layer: Xavier uniform, bound sqrt(6/(fan_in+fan_out));
             biases zero (src/nn/sequential.ts mlp, src/nn/parameters.ts, src/nn/layers.ts,
             shaders/l2norm.wgsl). One encoder shared by anchors and positives; gradients flow
             through both.
  pairs      B anchors uniform with replacement over the 60,000 training rows; each positive uniform
             over the rows with the anchor's label, redrawn (up to 8 tries) while it is the anchor
             itself (src/sampling/pairs.ts).
  negatives  row i's K negatives are drawn uniformly WITH replacement from the other rows' positives
             j != i (label-aware: only rows whose label differs from row i's; label-unaware: any
             j != i), plus, with --queue N, the filled slots of a FIFO queue of past positives'
             embeddings (aware: only slots of another label); a row with nothing eligible falls back
             to every other row and every filled slot (src/sampling/batch_negatives.ts).
             The queue holds the positives' embeddings of earlier steps (computed before that
             step's update), detached, FIFO over N slots, labels kept (src/sampling/queue.ts,
             src/train/step.ts); step 1 has an empty queue.
  loss       InfoNCE on L2-normalised embeddings: logits [q.c_pos, q.c_neg1..K] / tau,
             loss_i = logsumexp(logits_i) - logits_i0, mean over the B rows
             (src/losses/sampled.ts, shaders/contrast.wgsl with the "infonce" weighting).
  optimizer  Adam (beta1 0.9, beta2 0.999, eps 1e-8 added to sqrt(v_hat), no weight decay), gradients
             clipped to global L2 norm 1 (scale min(1, 1/(norm + 1e-6))), lr per 1-based step t:
             warm-up lr*t/W for t <= W with W = ceil(steps/20), then cosine from lr to lr/20 at
             t = steps (src/optim/optimizer.ts, shaders/optim.wgsl, src/train/_trainer_device.ts,
             src/train/config.ts: optimizer default { kind: "adam", clipNorm: 1 }).
  augment    off by default (as train.ts in pairs mode); with --augment both views independently warped by a random
             affine map about the image centre, forward = translate . rotate . shear . scale with
             translate ~ U(-2, 2) px per axis, rotation ~ U(-10, 10) degrees, shear y += h*x with
             h ~ U(-0.1, 0.1), isotropic scale ~ U(0.9, 1.1); each output pixel centre samples the
             source bilinearly at the inverse map, zero outside the image (src/data/augment.ts,
             shaders/gather.wgsl); here affine_grid + grid_sample (bilinear, zeros,
             align_corners=False), which is the same pixel-centre convention. Evaluation embeds
             unwarped images.
  K          --schedule closed (default; docs/science.md §3, src/schedule/, src/train/config.ts, trainer.ts):
             rank counts below_i = how many of row i's K negatives score strictly below its positive (raw
             cosines, a tie is not below; shaders/contrast.wgsl), taken at steps 10, 20, ... (metricsEvery 10,
             from the step's forward pass) and in effect from step m + 11 on. Before step s (s - 1 steps
             done), when s - 1 is a positive multiple of 20 and counts are in effect: f_i = (below_i + 1) /
             (K_then + 2), P^(B|K) = mean_i f_i^K, F(K) = (lam^K - (1 - lam^K)) (1 - P^(B|K)), K* = the
             smallest argmax over 1..K_max = 32; avg += 0.3 (K* - avg) from avg = 1; K moves toward
             round(avg) (JavaScript rounding) by at most 4, within [1, K_max]; K starts at 1. So the updates
             at s = 21, 41, 61, ... use the counts of steps 10, 30, 50, .... lam = 1 for label-aware
             negatives without label noise, 1 - 1/C label-unaware (--lambda overrides). All these numbers
             are options (--every, --smoothing, --max-change, --initial, --pseudo-counts, --w-good, --w-bad,
             --informativeness, --metrics-every, --kmax). With lam = 1, F(K) = 1 - P^(B|K) grows with K
             whatever the counts (every f_i < 1 once a > 0), so K* = K_max at every update and K follows a
             fixed ramp: 1, 5 (step 21), 9, 13, 17, 21, 25, 29 (141), 30 (161), 31 (181), 32 from step 241.
             --schedule fixed: --k every step.
  eval       kNN, k = 10, cosine: ALL test images (or the first --final-queries) with clean labels
             against the first --final-bank rows of the same seeded permutation of the training set
             that ncegpu uses (mulberry32 Fisher-Yates, seed 12345; src/train/eval.ts seededOrder,
             src/train/trainer.ts evaluate()): the same bank rows exactly. Majority vote among the 10,
             ties broken by the larger summed similarity; recall@r = a same-label item among the r
             nearest (src/train/eval.ts tally).

Not mirrored: the ANS schedule and the closed loop's --estimate-lambda, the ADNCE/DCL/HCL weightings,
SimCLR/SupCon modes, label noise and class merges, checkpoints, and ncegpu's random streams (positives,
negatives, warps and the initial weights are drawn from torch's generator seeded with --seed, not
mulberry32).
"""

import argparse
import gzip
import json
import math
import os
import sys
import time

# On a shared, busy machine OpenMP's spinning threads steal each other's cores (2 threads ran 3-4x slower
# than with passive waiting here); must be set before torch starts OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"  # src/data/fashion_mnist.ts
BANK_SEED = 12345  # src/train/trainer.ts


# ---------------------------------------------------------------------------------------------- data


def read_idx(directory, stem):
    """An IDX file (gzipped or not) as a numpy array of its declared shape (u8 data only)."""
    for name, opener in ((stem + ".gz", gzip.open), (stem, open)):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            with opener(path, "rb") as f:
                raw = f.read()
            break
    else:
        sys.exit(f"{directory}/{stem}(.gz) not found: install dataset-fashion-mnist or pass --data")
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        sys.exit(f"{stem}: not an IDX file of unsigned bytes")
    ndim = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        sys.exit(f"{stem}: {data.size} bytes for shape {shape}")
    return data.reshape(shape)


def load_split(directory, prefix):
    images = read_idx(directory, f"{prefix}-images-idx3-ubyte")
    labels = read_idx(directory, f"{prefix}-labels-idx1-ubyte")
    side = images.shape[1:]
    x = torch.from_numpy(images.reshape(images.shape[0], -1).astype(np.float32) / 255.0)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y, tuple(side)


def mulberry32_order(n, seed):
    """ncegpu's seededOrder: Fisher-Yates over 0..n-1 driven by mulberry32 (src/data/random.ts)."""
    state = seed & 0xFFFFFFFF
    m32 = 0xFFFFFFFF

    def imul(a, b):
        return (a * b) & m32

    order = list(range(n))
    for i in range(n - 1, 0, -1):
        state = (state + 0x6D2B79F5) & m32
        s = state
        t = imul(s ^ (s >> 15), s | 1)
        t = (t ^ ((t + imul(t ^ (t >> 7), t | 61)) & m32)) & m32
        u = ((t ^ (t >> 14)) & m32) / 4294967296.0
        j = int(u * (i + 1))
        order[i], order[j] = order[j], order[i]
    return torch.tensor(order, dtype=torch.int64)


# --------------------------------------------------------------------------------------------- model


class Encoder(torch.nn.Module):
    def __init__(self, dims, generator):
        super().__init__()
        self.layers = torch.nn.ModuleList()
        for i in range(len(dims) - 1):
            fan_in, fan_out = dims[i], dims[i + 1]
            layer = torch.nn.Linear(fan_in, fan_out)
            last = i + 2 >= len(dims)
            bound = math.sqrt(6.0 / (fan_in + fan_out)) if last else math.sqrt(6.0 / fan_in)
            with torch.no_grad():
                layer.weight.copy_((torch.rand(fan_out, fan_in, generator=generator) * 2 - 1) * bound)
                layer.bias.zero_()
            self.layers.append(layer)

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            if i > 0:
                x = torch.relu(x)
            x = layer(x)
        return F.normalize(x, dim=1, eps=1e-12)


# ------------------------------------------------------------------------------------------ sampling


class Pairs:
    """Anchors uniform over the training rows, positives uniform over the anchor's label (not itself)."""

    def __init__(self, labels, generator):
        self.labels = labels
        self.g = generator
        order = torch.argsort(labels, stable=True)
        counts = torch.bincount(labels)
        self.by_label = order
        self.counts = counts
        self.offsets = torch.cumsum(counts, 0) - counts

    def sample(self, batch):
        n = self.labels.shape[0]
        anchors = torch.randint(0, n, (batch,), generator=self.g)
        y = self.labels[anchors]
        positives = anchors.clone()
        redo = torch.ones(batch, dtype=torch.bool)
        for _ in range(8):
            idx = redo.nonzero().squeeze(1)
            if idx.numel() == 0:
                break
            yy = y[idx]
            r = torch.floor(torch.rand(idx.numel(), generator=self.g, dtype=torch.float64) * self.counts[yy])
            positives[idx] = self.by_label[self.offsets[yy] + r.long()]
            redo = positives == anchors
        return anchors, positives, y


def draw_negatives(labels, k, aware, queue_labels, generator):
    """[B, K] candidate indices: other rows j != i (and filled queue slots B + s), uniform with replacement."""
    b = labels.shape[0]
    others = ~torch.eye(b, dtype=torch.bool)
    filled = queue_labels.shape[0]
    if aware:
        batch_ok = others & (labels[None, :] != labels[:, None])
        queue_ok = queue_labels[None, :] != labels[:, None]
    else:
        batch_ok = others
        queue_ok = torch.ones(b, filled, dtype=torch.bool)
    ok = torch.cat([batch_ok, queue_ok], 1)
    empty = ~ok.any(1)
    if empty.any():  # every candidate shares the label: fall back to all others
        ok[empty] = torch.cat([others, torch.ones(b, filled, dtype=torch.bool)], 1)[empty]
    return torch.multinomial(ok.float(), k, replacement=True, generator=generator)


class Queue:
    """FIFO ring of past positives' embeddings (detached) and their labels."""

    def __init__(self, capacity, dim):
        self.capacity = capacity
        self.emb = torch.zeros(capacity, dim)
        self.lab = torch.full((capacity,), -1, dtype=torch.int64)
        self.head = 0
        self.filled = 0

    def push(self, emb, lab):
        n = emb.shape[0]
        slots = (self.head + torch.arange(n)) % self.capacity
        self.emb[slots] = emb.detach()
        self.lab[slots] = lab
        self.head = (self.head + n) % self.capacity
        self.filled = min(self.capacity, self.filled + n)


# -------------------------------------------------------------------------------------- augmentation


def random_warp_grids(rows, size, generator, rotate=10.0, scale=(0.9, 1.1), shear=0.1, translate=2.0):
    """affine_grid sampling grids of random inverse warps (the ranges of src/data/augment.ts's defaults)."""
    h, w = size
    u = torch.rand(rows, 5, generator=generator, dtype=torch.float64)
    tx = (2 * u[:, 0] - 1) * translate
    ty = (2 * u[:, 1] - 1) * translate
    angle = (2 * u[:, 2] - 1) * rotate * math.pi / 180
    sh = (2 * u[:, 3] - 1) * shear
    s = scale[0] + (scale[1] - scale[0]) * u[:, 4]
    c, sn = torch.cos(angle), torch.sin(angle)
    fwd = torch.zeros(rows, 3, 3, dtype=torch.float64)
    # translate . rotate . shear(y += sh*x) . scale, in pixels about the image centre
    rot = torch.stack([torch.stack([c, -sn], 1), torch.stack([sn, c], 1)], 1)  # [rows, 2, 2]
    shr = torch.eye(2, dtype=torch.float64).repeat(rows, 1, 1)
    shr[:, 1, 0] = sh
    lin = rot @ shr * s[:, None, None]
    fwd[:, :2, :2] = lin
    fwd[:, 0, 2] = tx
    fwd[:, 1, 2] = ty
    fwd[:, 2, 2] = 1
    inv = torch.linalg.inv(fwd)
    # Pixel-centred coordinates p = D u, D = diag(w/2, h/2), u the normalised grid coordinate:
    # the source at u is D^-1 (A D u + b).
    d = torch.tensor([w / 2, h / 2], dtype=torch.float64)
    theta = torch.zeros(rows, 2, 3, dtype=torch.float64)
    theta[:, :, :2] = inv[:, :2, :2] * d[None, None, :] / d[None, :, None]
    theta[:, :, 2] = inv[:, :2, 2] / d[None, :]
    return F.affine_grid(theta.float(), [rows, 1, h, w], align_corners=False)


def warp(x, size, generator):
    grid = random_warp_grids(x.shape[0], size, generator)
    img = x.view(x.shape[0], 1, *size)
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=False).view(x.shape[0], -1)


# ------------------------------------------------------------------------------------------ K schedule


def rank_counts(pos, negs):
    """Per row, how many of its K negatives score strictly below the positive (a tie is not below)."""
    return (negs < pos).sum(1)


def estimated_model_accuracy(below, k_now, k_max, pseudo):
    """P^(B|K) for K = 1..k_max: the mean over rows of f^K, f = (below + a) / (k_now + 2a)."""
    f = (below.double() + pseudo) / (k_now + 2 * pseudo)
    powers = torch.arange(1, k_max + 1, dtype=torch.float64)
    return (f[:, None] ** powers[None, :]).mean(0)


def best_k(lam, p_b, w_good=1.0, w_bad=-1.0, informativeness="model"):
    """argmax over K = 1..len(p_b) of F(K) = (w_good lam^K + w_bad (1 - lam^K)) I(K); the smallest K on ties."""
    ks = torch.arange(1, p_b.shape[0] + 1, dtype=torch.float64)
    labels_right = lam ** ks
    info = 1 - p_b if informativeness == "model" else torch.log(ks + 1)
    score = (w_good * labels_right + w_bad * (1 - labels_right)) * info
    return int(np.argmax(score.numpy())) + 1  # numpy's argmax takes the first of equal maxima


class ClosedLoop:
    """Every `every` completed steps, once counts exist: K* of the counts in effect, an exponential moving average of
    it (weight `smoothing` on the new value, starting at `initial`), and K moved toward the rounded average by at most
    `max_change`, within [1, k_max]. Between updates K stays."""

    def __init__(self, lam, k_max, every, smoothing, max_change, initial, pseudo, w_good, w_bad, informativeness):
        self.lam, self.k_max, self.every = lam, k_max, every
        self.smoothing, self.max_change, self.pseudo = smoothing, max_change, pseudo
        self.pieces = dict(w_good=w_good, w_bad=w_bad, informativeness=informativeness)
        self.k = initial
        self.average = float(initial)
        self.target = None  # the last K*, for the log

    def k_for(self, done, counts):
        """K for the step after `done` completed steps; counts = (below, K they were taken at) or None."""
        if counts is not None and done > 0 and done % self.every == 0:
            below, k_then = counts
            self.target = best_k(self.lam, estimated_model_accuracy(below, k_then, self.k_max, self.pseudo),
                                 **self.pieces)
            self.average += self.smoothing * (self.target - self.average)
            step = max(-self.max_change, min(self.max_change, round_half_up(self.average) - self.k))
            self.k = max(1, min(self.k_max, self.k + step))
        return self.k


def round_half_up(x):
    """JavaScript's Math.round (Python's round() rounds halves to even)."""
    return math.floor(x + 0.5)


class DelayedCounts:
    """Rank counts are taken every `every` steps (steps every, 2 every, ...) and those of step m come into effect at
    step m + every + 1, then stay in effect until the next ones do."""

    def __init__(self, every):
        self.every = every
        self.waiting = {}
        self.current = None

    def before_step(self, step):
        due = step - 1 - self.every
        if due >= 1 and due % self.every == 0:
            self.current = self.waiting.pop(due)
        return self.current

    def after_step(self, step, below, k):
        if step % self.every == 0:
            self.waiting[step] = (below, k)


# ---------------------------------------------------------------------------------------------- eval


@torch.no_grad()
def knn_evaluate(bank, bank_labels, queries, query_labels, k=10, recall_at=(1, 5), chunk=1000):
    depth = max(k, *recall_at)
    bank64 = bank.double()
    bank64 = bank64 / bank64.norm(dim=1, keepdim=True).clamp_min(1e-300)
    classes = int(max(bank_labels.max(), query_labels.max())) + 1
    correct = 0
    hits = {r: 0 for r in recall_at}
    for start in range(0, queries.shape[0], chunk):
        q = queries[start:start + chunk].double()
        q = q / q.norm(dim=1, keepdim=True).clamp_min(1e-300)
        sims, rows = (q @ bank64.T).topk(depth, dim=1)
        lab = bank_labels[rows]  # [chunk, depth]
        truth = query_labels[start:start + chunk]
        counts = torch.zeros(q.shape[0], classes, dtype=torch.float64).scatter_add_(
            1, lab[:, :k], torch.ones(q.shape[0], k, dtype=torch.float64))
        sums = torch.zeros(q.shape[0], classes, dtype=torch.float64).scatter_add_(1, lab[:, :k], sims[:, :k])
        # Most votes; ties by the larger summed similarity (|sum| <= k, so 4k per vote separates counts).
        key = counts * (4 * k) + sums
        key[counts == 0] = -math.inf
        correct += int((key.argmax(1) == truth).sum())
        for r in recall_at:
            hits[r] += int((lab[:, :r] == truth[:, None]).any(1).sum())
    n = queries.shape[0]
    return correct / n, {r: hits[r] / n for r in recall_at}


@torch.no_grad()
def embed(model, x, chunk=4096):
    return torch.cat([model(x[i:i + chunk]) for i in range(0, x.shape[0], chunk)])


# ----------------------------------------------------------------------------------------------- run


def lr_at(step, peak, steps):
    """warmupCosine({ peak, floor: peak/20, warmup: ceil(steps/20), total: steps }) at a 1-based step."""
    warmup = math.ceil(steps / 20)
    floor = peak / 20
    if step <= warmup:
        return peak * step / max(1, warmup)
    progress = min(1.0, (step - warmup) / max(1, steps - warmup))
    return floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * progress))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=FASHION_MNIST_DIR)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--schedule", choices=["closed", "fixed"], default="closed")
    p.add_argument("--k", type=int, default=8, help="K of the fixed schedule (train.ts --schedule fixed --k)")
    p.add_argument("--kmax", type=int, default=None,
                   help="the closed loop's largest K (default min(32, batch - 1 + queue))")
    p.add_argument("--lambda", dest="lam", type=float, default=None,
                   help="label reliability (default 1 with label-aware negatives, 1 - 1/C without)")
    p.add_argument("--every", type=int, default=20, help="closed loop: recompute K* every N steps")
    p.add_argument("--smoothing", type=float, default=0.3, help="closed loop: weight of the newest K*")
    p.add_argument("--max-change", type=int, default=4, help="closed loop: largest change of K per update")
    p.add_argument("--initial", type=int, default=1, help="closed loop: K before the first counts")
    p.add_argument("--pseudo-counts", type=float, default=1.0, help="closed loop: Beta(a, a) prior per row")
    p.add_argument("--w-good", type=float, default=1.0)
    p.add_argument("--w-bad", type=float, default=-1.0)
    p.add_argument("--informativeness", choices=["model", "mi"], default="model")
    p.add_argument("--metrics-every", type=int, default=10, help="rank counts are taken every N steps")
    p.add_argument("--negatives", choices=["aware", "unaware"], default="aware")
    p.add_argument("--queue", type=int, default=0)
    p.add_argument("--tau", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=0.002)
    p.add_argument("--dims", default="256,128")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=False)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--final-bank", type=int, default=10000)
    p.add_argument("--final-queries", type=int, default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--log-every", type=int, default=0, help="print the mean loss to stderr every N steps")
    p.add_argument("--k-every", type=int, default=500, help="print K to stderr every N steps (0: never)")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    began = time.perf_counter()
    x_train, y_train, side = load_split(a.data, "train")
    x_test, y_test, _ = load_split(a.data, "t10k")
    hidden = [int(d) for d in a.dims.split(",")]
    dims = [x_train.shape[1], *hidden]
    if a.batch < 2:
        sys.exit("--batch must be >= 2")
    if a.queue and a.queue < a.batch:
        sys.exit(f"--queue must be 0 or at least --batch ({a.batch})")
    if not 1 <= a.k <= a.batch - 1 + a.queue:
        sys.exit(f"--k must be in [1, batch - 1 + queue = {a.batch - 1 + a.queue}]")
    k_max = min(32, a.batch - 1 + a.queue) if a.kmax is None else a.kmax
    if not 1 <= k_max <= a.batch - 1 + a.queue:
        sys.exit(f"--kmax must be in [1, batch - 1 + queue = {a.batch - 1 + a.queue}]")
    if not 1 <= a.initial <= k_max or a.every < 1 or a.max_change < 1 or a.metrics_every < 1:
        sys.exit("--initial must be in [1, kmax]; --every, --max-change and --metrics-every >= 1")
    if not 0 < a.smoothing <= 1 or a.pseudo_counts < 0:
        sys.exit("--smoothing must be in (0, 1] and --pseudo-counts >= 0")
    classes = int(y_train.max()) + 1
    aware = a.negatives == "aware"
    lam = a.lam if a.lam is not None else (1.0 if aware else 1 - 1 / classes)  # no label noise here
    if not 0 < lam <= 1:
        sys.exit("--lambda must be in (0, 1]")
    final_bank = min(a.final_bank, x_train.shape[0])
    final_queries = a.final_queries or x_test.shape[0]

    g = torch.Generator().manual_seed(a.seed)
    model = Encoder(dims, g)
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    pairs = Pairs(y_train, g)
    queue = Queue(a.queue, dims[-1]) if a.queue else None
    closed = a.schedule == "closed"
    if closed:
        schedule = ClosedLoop(lam, k_max, a.every, a.smoothing, a.max_change, a.initial, a.pseudo_counts,
                              a.w_good, a.w_bad, a.informativeness)
        counts = DelayedCounts(a.metrics_every)
    k = a.k
    k_changes = []  # [first step, K] each time K changes

    t0 = time.perf_counter()
    running = 0.0
    for step in range(1, a.steps + 1):
        if closed:
            k = schedule.k_for(step - 1, counts.before_step(step))
        if not k_changes or k_changes[-1][1] != k:
            k_changes.append([step, k])
        anchors, positives, labels = pairs.sample(a.batch)
        xa, xp = x_train[anchors], x_train[positives]
        if a.augment:
            xa, xp = warp(xa, side, g), warp(xp, side, g)
        q_labels = queue.lab[:queue.filled] if queue else torch.zeros(0, dtype=torch.int64)
        neg = draw_negatives(labels, k, aware, q_labels, g)
        q = model(xa)
        c = model(xp)
        cands = torch.cat([c, queue.emb[:queue.filled]]) if queue else c
        pos = (q * c).sum(1, keepdim=True)
        negs = torch.einsum("bd,bkd->bk", q, cands[neg])
        logits = torch.cat([pos, negs], 1) / a.tau
        loss = (torch.logsumexp(logits, 1) - logits[:, 0]).mean()
        if closed:
            counts.after_step(step, rank_counts(pos.detach(), negs.detach()), k)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, a.lr, a.steps)
        opt.step()
        if queue:
            queue.push(c.detach(), labels)  # this step's positives, embedded before its update
        running += float(loss)
        if a.log_every and step % a.log_every == 0:
            print(f"step {step}: loss {running / a.log_every:.4f}  K {k}", file=sys.stderr)
            running = 0.0
        if a.k_every and step % a.k_every == 0:
            extra = f" (last K* {schedule.target}, average {schedule.average:.2f})" if closed else ""
            print(f"step {step}: K {k}{extra}", file=sys.stderr, flush=True)
    train_seconds = time.perf_counter() - t0

    model.eval()
    bank_rows = mulberry32_order(x_train.shape[0], BANK_SEED)[:final_bank]
    bank = embed(model, x_train[bank_rows])
    queries = embed(model, x_test[:final_queries])
    acc, recall = knn_evaluate(bank, y_train[bank_rows], queries, y_test[:final_queries], k=10)
    print(json.dumps({
        "accuracy": round(100 * acc, 2),
        "recall@1": round(100 * recall[1], 2),
        "recall@5": round(100 * recall[5], 2),
        "k_final": k,
        "k_changes": k_changes,
        "train_seconds": round(train_seconds, 1),
        "wall_seconds": round(time.perf_counter() - began, 1),
        "config": {
            "mode": "pairs", "schedule": a.schedule, "steps": a.steps, "batch": a.batch,
            **({"k_max": k_max, "lambda": lam, "every": a.every, "smoothing": a.smoothing,
                "max_change": a.max_change, "initial": a.initial, "pseudo_counts": a.pseudo_counts,
                "w_good": a.w_good, "w_bad": a.w_bad, "informativeness": a.informativeness,
                "metrics_every": a.metrics_every} if closed else {"k": a.k}),
            "negatives": a.negatives, "queue": a.queue, "tau": a.tau, "lr": a.lr, "dims": dims,
            "augment": a.augment, "seed": a.seed, "final_bank": final_bank, "final_queries": final_queries,
            "threads": a.threads, "torch": torch.__version__,
        },
    }))


if __name__ == "__main__":
    main()

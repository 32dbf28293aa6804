#!/usr/bin/python3
"""PyTorch twin of bench/train.c: the same five workloads (model shapes,
batch, optimizer, loss and data shape), timed the same way, printing the
same one-line format.

    /usr/bin/python3 bench/torch/train_twin.py [--workload NAME|all]
        [--steps N] [--warmup N] [--mode user|tuned] [--quick] [--seed S]

--mode user runs PyTorch as a user gets it (no settings). --mode tuned
calls torch.set_num_threads(2); the runner (bench/run_train.sh) also sets
OPENBLAS_CORETYPE=SkylakeX and OPENBLAS_NUM_THREADS=1 in the environment
before the process starts, since OpenBLAS reads them when it loads.

zero_grad drops the gradients (set_to_none=True), as dc_optim_zero_grad
does, so both sides do the same work.
"""
import argparse
import math
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


# ------------------------------------------------------------------
# Models (the same structure as libdeepcore's zoo)
# ------------------------------------------------------------------

def mlp(sizes):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def lenet5(in_channels=1, classes=10):
    return nn.Sequential(
        nn.Conv2d(in_channels, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, classes))


class Attention(nn.Module):
    """Causal self-attention with a fused in-projection, as
    dc_multihead_attention (in_proj_weight (3E, E), out_proj)."""

    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.in_proj = nn.Linear(d, 3 * d)
        self.out_proj = nn.Linear(d, d)

    def forward(self, x):
        b, t, e = x.shape
        q, k, v = self.in_proj(x).split(e, dim=2)
        shape = (b, t, self.heads, e // self.heads)
        q, k, v = (z.view(shape).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(e // self.heads))
        mask = torch.ones(t, t, dtype=torch.bool).tril()
        att = att.masked_fill(~mask, float('-inf')).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, e)
        return self.out_proj(y)


class Block(nn.Module):
    """Pre-norm block: x + attn(ln_1(x)), then x + mlp(ln_2(x)), GELU."""

    def __init__(self, d, heads):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = Attention(d, heads)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """Token + position embeddings, blocks, final LayerNorm, and an output
    layer tied to the token embedding (as dc_zoo_gpt_new)."""

    def __init__(self, vocab, context, layers, heads, d):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(context, d)
        self.h = nn.Sequential(*[Block(d, heads) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)
        # GPT-2's initialisation, as dc_zoo_gpt_new: weights normal(0, 0.02),
        # the residual projections 0.02 / sqrt(2 layers), biases zero.
        for name, p in self.named_parameters():
            if name.endswith('bias'):
                nn.init.zeros_(p)
            elif p.dim() >= 2:
                residual = name.endswith('out_proj.weight') or name.endswith('mlp.2.weight')
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * layers) if residual else 0.02)

    def forward(self, tokens):
        t = tokens.shape[1]
        pos = torch.arange(t)
        x = self.wte(tokens) + self.wpe(pos)
        x = self.ln_f(self.h(x))
        return x @ self.wte.weight.t()


class LSTMRegressor(nn.Module):
    def __init__(self, inp, hidden):
        super().__init__()
        self.rnn = nn.LSTM(inp, hidden, batch_first=True)
        self.head = nn.Linear(hidden, inp)

    def forward(self, x):
        return self.head(self.rnn(x)[0])


# ------------------------------------------------------------------
# Workloads: (model, loss function, optimizer, x, y, flatten logits)
# ------------------------------------------------------------------

def labels(shape, classes):
    return torch.randint(0, classes, shape, dtype=torch.int64)


def make_mlp():
    m = mlp([784, 256, 256, 10])
    return m, nn.CrossEntropyLoss(), torch.optim.Adam(m.parameters(), lr=1e-3), \
        torch.randn(128, 784), labels((128,), 10), False


def make_lenet():
    m = lenet5()
    return m, nn.CrossEntropyLoss(), torch.optim.Adam(m.parameters(), lr=1e-3), \
        torch.randn(64, 1, 28, 28), labels((64,), 10), False


def make_gpt():
    vocab, context, batch = 86, 64, 32
    m = GPT(vocab, context, 4, 4, 128)
    return m, nn.CrossEntropyLoss(), \
        torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.01), \
        labels((batch, context), vocab), labels((batch * context,), vocab), True


def make_lstm():
    m = LSTMRegressor(64, 128)
    return m, nn.MSELoss(), torch.optim.Adam(m.parameters(), lr=1e-3), \
        torch.randn(32, 32, 64), torch.randn(32, 32, 64), False


def make_tiny():
    m = mlp([10, 10, 10])
    return m, nn.CrossEntropyLoss(), torch.optim.SGD(m.parameters(), lr=0.01), \
        torch.randn(1, 10), labels((1,), 10), False


# name: (maker, steps, warmup) -- the same defaults as bench/train.c
WORKLOADS = {
    'mlp': (make_mlp, 300, 20),
    'lenet': (make_lenet, 200, 10),
    'gpt': (make_gpt, 20, 3),
    'lstm': (make_lstm, 60, 5),
    'tiny': (make_tiny, 5000, 200),
}


def run(name, args):
    maker, steps, warmup = WORKLOADS[name]
    if args.steps > 0:
        steps = args.steps
    elif args.quick:
        steps = max(steps // 5, 3)
    if args.warmup >= 0:
        warmup = args.warmup
    elif args.quick:
        warmup = max(warmup // 2, 1)
    model, loss_fn, opt, x, y, flatten = maker()

    def step():
        opt.zero_grad(set_to_none=True)
        out = model(x)
        if flatten:
            out = out.reshape(-1, out.shape[-1])
        loss = loss_fn(out, y)
        loss.backward()
        opt.step()
        return loss.item()

    loss0 = loss = 0.0
    for i in range(warmup):
        value = step()
        if i == 0:
            loss0 = value
    ms = []
    for _ in range(steps):
        t0 = time.perf_counter()
        loss = step()
        ms.append(1e3 * (time.perf_counter() - t0))
    impl = 'torch-' + args.mode
    print(f"workload={name} impl={impl} threads={torch.get_num_threads()} steps={steps} "
          f"mean_ms={statistics.fmean(ms):.4f} median_ms={statistics.median(ms):.4f} "
          f"min_ms={min(ms):.4f} loss0={loss0:.5f} loss={loss:.5f}", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--workload', default='all')
    p.add_argument('--steps', type=int, default=0)
    p.add_argument('--warmup', type=int, default=-1)
    p.add_argument('--mode', choices=['user', 'tuned'], default='user')
    p.add_argument('--quick', action='store_true')
    p.add_argument('--seed', type=int, default=1234)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    if args.mode == 'tuned':
        torch.set_num_threads(2)
    names = list(WORKLOADS) if args.workload == 'all' else [args.workload]
    for name in names:
        if name not in WORKLOADS:
            print(f"train_twin: no workload named '{name}'", file=sys.stderr)
            return 2
        run(name, args)
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""The course's MLP training loop in PyTorch, for `npm run bench -- train`.

Same model (56 -> [100] x depth -> 1, ReLU, Glorot-uniform weights, zero biases), same
loss (MAE), optimiser (Adam), data (the file scripts/bench-train.ts writes: the course's
56-day training set, already scaled) and loop shape (full batch, or seeded mini-batches;
the loss is read back once at the end) as lib/train.ts. Prints one JSON object.

usage: python3 bench_train_torch.py DATA.json --epochs N [--repeats R] [--threads T] [--cases JSON]
"""
import argparse
import json
import time

import torch


def mlp(inputs, width, depth):
    layers, size = [], inputs
    for _ in range(depth):
        layers += [torch.nn.Linear(size, width), torch.nn.ReLU()]
        size = width
    layers.append(torch.nn.Linear(size, 1))
    net = torch.nn.Sequential(*layers)
    for m in net:
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.xavier_uniform_(m.weight)  # = Keras/tfjs glorotUniform
            torch.nn.init.zeros_(m.bias)
    return net


def run(X, y, depth, batch, epochs, repeats, lr=0.01):
    torch.manual_seed(1)
    net = mlp(X.shape[1], 100, depth)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    n = X.shape[0]
    g = torch.Generator().manual_seed(0)

    def epoch():
        if batch >= n:
            opt.zero_grad()
            loss = (net(X) - y).abs().mean()
            loss.backward()
            opt.step()
            return loss
        order = torch.randperm(n, generator=g)
        Xs, ys = X[order], y[order]
        for s in range(0, n, batch):
            opt.zero_grad()
            loss = (net(Xs[s:s + batch]) - ys[s:s + batch]).abs().mean()
            loss.backward()
            opt.step()
        return loss

    for _ in range(3):  # warm-up, as the TypeScript bench does
        epoch()
    secs = float("inf")
    for _ in range(repeats):  # best of `repeats`, as the TypeScript bench does
        t0 = time.perf_counter()
        for _ in range(epochs):
            loss = epoch()
        final = loss.item()  # the one read-back
        secs = min(secs, time.perf_counter() - t0)
    return {"depth": depth, "batch": batch if batch < n else "full", "epochs": epochs,
            "seconds": secs, "epochs_per_s": epochs / secs, "final_loss_scaled": final}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cases", default="[[1, 0], [2, 0], [4, 0], [1, 128], [4, 128]]", help="JSON [[depth, batch]], batch 0 = full")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    with open(a.data) as f:
        d = json.load(f)
    X = torch.tensor(d["X"], dtype=torch.float32)  # [n, 56]
    y = torch.tensor(d["y"], dtype=torch.float32).reshape(-1, 1)  # [n, 1]
    n = X.shape[0]
    results = []
    for depth, batch in json.loads(a.cases):
        b = batch if batch else n
        e = a.epochs if b >= n else max(3, a.epochs // 10)
        results.append(run(X, y, depth, b, e, a.repeats))
    print(json.dumps({"torch_version": torch.__version__, "threads": torch.get_num_threads(), "results": results}))


if __name__ == "__main__":
    main()

"""v2 long-term memory at scale: batched writes/s, top-10 latency for a batch of 32 queries, recall@10 of the index
against exact cosine, and RAM per entry, at 10k, 100k and 1M entries (K=4, d=576 contents, key_dim=128 keys).

    flock /tmp/dcm-heavy.lock .venv/bin/python benchmarks/bench_memory.py [--sizes 10000,100000,1000000] [--nprobes 4,8,16,32]

Keys come in two kinds, since an approximate index's recall depends on their structure: `random` (uniform unit vectors,
no neighbourhood structure: the worst case for IVF) and `clustered` (unit vectors around n/50 centres, each at cosine
≈ 0.9 to its cluster's others: the keys of an encoder trained, as `train_encoder` is, to pull views of a state together). Queries are stored keys plus noise. Contents are random; their values do not
change the cost. Each size builds a fresh memory of that capacity and fills it from empty in batches of --batch.
"""
import argparse, gc, time, json
import numpy as np, torch
from dcm_lab.memory import LTM, EncoderConfig

def rss_gb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"): return int(line.split()[1]) / 2 ** 20
    return float("nan")

def unit(x): return x / np.linalg.norm(x, axis=1, keepdims=True)

def make_keys(kind, n, e, rng):
    if kind == "random": return unit(rng.standard_normal((n, e), dtype=np.float32))
    centres = unit(rng.standard_normal((max(1, n // 50), e), dtype=np.float32))
    keys = np.empty((n, e), np.float32)
    for lo in range(0, n, 100_000):                                          # in chunks: no n × e float64 temporaries
        hi = min(n, lo + 100_000)
        keys[lo:hi] = unit(centres[rng.integers(0, len(centres), hi - lo)] + 0.03 * rng.standard_normal((hi - lo, e), dtype=np.float32))
    return keys

def ltm_bytes(ltm):
    "Bytes the memory holds: its slot store (contents, keys, clocks), the IVF copy of the keys and ids, the id → slot map."
    import sys
    b = ltm._contents.nbytes + ltm._keys.nbytes + sum(getattr(ltm, a).nbytes for a in ("_id", "_written", "_last_used", "_hits"))
    if ltm._ivf is not None: b += ltm._ivf.ntotal * (4 * ltm.key_dim + 8 + 16)             # codes, ids, direct-map hash entry
    return b + sys.getsizeof(ltm._slot) + 2 * 32 * len(ltm)                                  # the map's table + its int objects

def timed(fn, reps):
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); out = fn(); ts.append(time.perf_counter() - t)
    return float(np.median(ts)), out

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000"); ap.add_argument("--kinds", default="clustered,random")
    ap.add_argument("--K", type=int, default=4); ap.add_argument("--d", type=int, default=576)
    ap.add_argument("--batch", type=int, default=4096); ap.add_argument("--queries", type=int, default=32)
    ap.add_argument("--nprobes", default="2,4,8,16"); ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--dtype", default="float16"); ap.add_argument("--nlist", type=int, default=0); ap.add_argument("--json", default="")
    a = ap.parse_args()
    e, rng, rows = EncoderConfig().key_dim, np.random.default_rng(0), []
    pool = torch.randn(8, a.batch, a.K, a.d) * 0.05                             # contents cycled through (values do not change the cost)
    torch.set_num_threads(torch.get_num_threads())
    print(f"torch threads {torch.get_num_threads()}, contents {a.dtype}, batch {a.batch}, key_dim {e}", flush=True)
    for kind in a.kinds.split(","):
        for n in [int(s) for s in a.sizes.split(",")]:
            gc.collect()
            keys = make_keys(kind, n + 65_536, e, rng)                         # n to fill, then 64k more written into the full memory
            r1 = rss_gb()                                                           # process RSS (meaningful for the first size only:
            ltm = LTM(a.K, a.d, e, capacity=n, dtype=getattr(torch, a.dtype), **(dict(nlist=a.nlist) if a.nlist else {}))
            t = time.perf_counter()
            for j, lo in enumerate(range(0, n, a.batch)):
                hi = min(n, lo + a.batch)
                ltm.write_many(pool[j % len(pool), :hi - lo], keys[lo:hi])
            fill = time.perf_counter() - t
            ram = rss_gb() - r1                                                     # later ones reuse freed pages)
            t = time.perf_counter()
            for j, lo in enumerate(range(n, n + 65_536, a.batch)):                # at capacity: every write evicts one entry
                ltm.write_many(pool[j % len(pool)], keys[lo:lo + a.batch])
            full = time.perf_counter() - t
            held = keys[n + 65_536 - n:][:n]                                        # the keys the memory now holds (the last n written)
            q = torch.from_numpy(unit(held[rng.integers(0, n, a.queries)] + 0.05 * rng.standard_normal((a.queries, e), dtype=np.float32)))
            held_t = torch.from_numpy(held)
            exact = (q @ held_t.T).topk(10).indices + ltm.next_id - n               # exact top-10 ids (the memory holds ids next_id-n..)
            ltm.query(q, 10)                                                         # warm-up
            import faiss
            exact_ms = 1000 * timed(lambda: faiss.knn(q.numpy(), held, 10, metric=faiss.METRIC_INNER_PRODUCT), 3)[0]   # what exact search would cost
            base = dict(keys=kind, entries=n, index=f"IVF{ltm._ivf.nlist}" if ltm._ivf is not None else "exact", fill_writes_per_s=round(n / fill),
                        full_writes_per_s=round(65_536 / full), bytes_per_entry=round(ltm_bytes(ltm) / n),
                        ram_gb=round(ltm_bytes(ltm) / 2 ** 30, 2), rss_growth_gb=round(ram, 2))
            nprobes = [int(s) for s in a.nprobes.split(",")] if ltm._ivf is not None else [0]
            for npb in nprobes:
                if npb: ltm.nprobe = npb
                lat, (_, got) = timed(lambda: ltm.query(q, 10), a.reps)
                recall = np.mean([len(set(g) & set(x)) / 10 for g, x in zip(got.tolist(), exact.tolist())])
                rows.append(dict(base, nprobe=npb or None, query_ms=round(1000 * lat, 2), recall_at_10=round(float(recall), 3), exact_ms=round(exact_ms, 1)))
                print(json.dumps(rows[-1]), flush=True)
            del ltm, keys, held, held_t; gc.collect()
    try:
        import pandas as pd; print(pd.DataFrame(rows).to_string(index=False))
    except ImportError: pass
    if a.json: open(a.json, "w").write(json.dumps(rows, indent=1))

if __name__ == "__main__": main()

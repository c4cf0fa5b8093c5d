"""Does the Generator's answer loss alone, with no Phase 1a target, carry held-out closed-book questions,
and does it carry more of them, unseen answers included, when it trains on more facts? Issue #26: "an
objective through the Generator needs no Phase 1a target per item, so it can train on every fact the screen
keeps".

The study's closed-book arm: the same pool, screen and split (`closed_book_pool`, `screen_select` at the
study profile's cap, `split_study`: the same held-out items). Then more candidates of each relation are
screened past the cap, and those the full context answers join training only. A one-step map from the
Generator's states (layer --layer, inside the answer frame: the study's `hidden` encoder) to K content slots
is trained through the frozen Generator's answer loss alone (regress_weight 0, no c*), on the study's
training items and/or the larger set (--sizes), with the same steps, its content read alone under the A mode
(`stm`, the design) and/or inside the answer frame where the question goes (`frame`; --readings). Every row
is read on the same held-out items with the study's gold-free reading: the full context (on this arm, the
question as text: the screen kept the facts the Generator answers from it), the answer prior of each
training set, each map and its null condition; paired differences per item with bootstrap intervals and the
unseen-answer column (`arm_table`). A one-step map from zeros is deterministic, so each is read once.

    .venv/bin/python scripts/answer_only_scale.py [--max-screen 400] [--steps 1500] [--out DIR]
        [--layer 15] [--readings stm,frame] [--sizes study,larger]
    .venv/bin/python scripts/answer_only_scale.py --smoke    # tiny sizes on the lab's facts: the path only

Writes DIR/answer_only_scale-<time>.json (config, sizes, table, paired differences, wall times) and prints
the table. Screen verdicts, conditions, maps and rows are cached: a rerun reads them and takes seconds.
"""
import argparse, dataclasses, json, time
from pathlib import Path
import torch
from dcm_lab.core import atomic_write_json, cache_dir, stable_seed
from dcm_lab.generator import load_generator
from dcm_lab.evaluation import EvalConfig, answer_frame, paired_differences
from dcm_lab.metrics import normalize_answer
from dcm_lab.encoders import make_encoder
from dcm_lab.diffusion import (DiffusionData, Normalizer, conditions, diffuser_recipe,
                               load_diffuser, train_diffuser, with_texts)
from dcm_lab.study import (STUDY_RELATIONS, around_inputs, arm_table, bigbench_json, closed_book_pool,
                           evaluate_arm, screen_select, split_study, train_subset, _digest, _with_frame)


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cap", type=int, default=40, help="the study's items kept per relation (its split)")
    ap.add_argument("--study-max-screen", type=int, default=200, help="the study's candidates per relation")
    ap.add_argument("--max-screen", type=int, default=400, help="candidates per relation for the extra facts")
    ap.add_argument("--min-rate", type=float, default=0.15, help="the study's give-up rate of a relation")
    ap.add_argument("--held", type=int, default=150, help="held-out items (the study's)")
    ap.add_argument("--K", type=int, default=4)
    ap.add_argument("--layer", type=int, default=-1, help="the Generator's hidden state read (-1: the last)")
    ap.add_argument("--readings", default="stm", help="comma-separated: how the Generator reads each map's "
                    "content: stm ([A_mode ; content] alone) and/or frame (in the answer frame, where the "
                    "question goes)")
    ap.add_argument("--sizes", default="study,larger", help="comma-separated training sets: half (the "
                    "study's nested, stratified half: `train_subset`), study (its items) and/or larger (with "
                    "the extra facts)")
    ap.add_argument("--steps", type=int, default=1500, help="optimiser steps of each map")
    ap.add_argument("--generator-batch", type=int, default=8, help="rows of each batch the Generator reads")
    ap.add_argument("--width", type=int, default=256); ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--batch", type=int, default=64); ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--fit", type=int, default=50, help="training items each map is also read on")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="reports/answer-only-scale")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes on the lab's facts: the path")
    a = ap.parse_args()
    for k in ("cap", "study_max_screen", "max_screen", "held", "K", "steps", "width", "depth", "batch"):
        if getattr(a, k) < 1: raise SystemExit(f"--{k.replace('_', '-')} must be ≥ 1, got {getattr(a, k)}")
    a.readings = _names(a.readings, ("stm", "frame"), "readings")     # closed book: no passage to read beside
    a.sizes = _names(a.sizes, ("half", "study", "larger"), "sizes")
    if a.max_screen < a.study_max_screen:
        raise SystemExit(f"--max-screen {a.max_screen} < --study-max-screen {a.study_max_screen}: the extra "
                         "screen reads past the study's, so give it at least as many candidates")
    if a.smoke:       # SmolLM2 on three relations of the lab's facts, tiny sizes: the path, not a result
        a.cap, a.study_max_screen, a.max_screen, a.held, a.steps, a.fit = 8, 12, 24, 6, 4, 4
        a.width, a.depth, a.batch, a.out = 32, 1, 8, str(Path(a.out)/"smoke")
    return a


def _names(text: str, known: tuple, what: str) -> list:
    "A comma-separated option → its names, each one of `known` (else the run stops before anything loads)."
    names = [x.strip() for x in text.split(",") if x.strip()]
    if not names or (bad := [x for x in names if x not in known]):
        raise SystemExit(f"--{what} takes comma-separated names of {known}, got {text!r}")
    return names


def items(gen, a) -> dict:
    """The study's screened split, then extra screened facts past its cap (training only) → sets and counts.
    Screen verdicts are the study's cache (data/cache/study): a study run reads them, and this reads its."""
    pool, _ = closed_book_pool(None if a.smoke else bigbench_json("wikidata"),
                               STUDY_RELATIONS[:3] if a.smoke else STUDY_RELATIONS, a.seed)
    kept, _, _ = screen_select(gen, pool, a.cap, a.study_max_screen, chunk=128, min_rate=a.min_rate)
    train, held, unseen = split_study(kept, a.held, a.seed)
    more, report, _ = screen_select(gen, pool, 10**9, a.max_screen, chunk=128, min_rate=a.min_rate)
    kept_ids, held_q = {p.id for p in kept}, {p.question for p in held}
    big = train + [p for p in more if p.id not in kept_ids and p.question not in held_q]
    seen = {normalize_answer(p.answer) for p in big}                  # unseen as `split_study` reads it
    return dict(train=train, big=big, held=held, unseen=unseen, screened=int(report.screened.sum()),
                unseen_big=[normalize_answer(p.answer) not in seen for p in held])


def train_map(gen, settings: dict, pairs: list, a, root: Path, label: str, reading: str):
    """A one-step map Generator states → K content slots, trained through the Generator's answer loss alone
    (no c*: zeros stand where c* would; the normaliser is the embedding table's), its content read as
    `reading` says → (net, norm, folder)."""
    E = gen.E.detach().float().cpu()
    norm = Normalizer(E.mean(0), E.std().item())                       # content starts in the table's range
    enc = make_encoder("hidden", gen, **settings)
    cond, mask, ident = conditions(gen, [p.question for p in pairs], 128, enc, root/"conditions")
    dcfg, tcfg = diffuser_recipe(K=a.K, d=gen.d, steps=a.steps, seed=a.seed, width=a.width, depth=a.depth,
                                 batch_size=a.batch, lr=a.lr, encoder="hidden",
                                 encoder_settings=settings, max_cond_len=enc.positions(128),
                                 cond_dim=enc.dim, regressor=True, regress_weight=0.0, answer_weight=1.0,
                                 generator_batch=a.generator_batch, reading=reading)
    data = DiffusionData(cond, mask, torch.zeros(len(pairs), a.K, gen.d), torch.ones(len(pairs)),
                         [p.id for p in pairs], encoder=ident)
    data = with_texts(gen, data, [p.answer for p in pairs])
    if reading != "stm":                                   # the answer frame around each row's STM
        around = around_inputs(gen, pairs, reading)
        data = _with_frame(gen, data, [around[p.id][1:] for p in pairs])
    key = _digest([p.id for p in pairs], dataclasses.asdict(dcfg), dataclasses.asdict(tcfg))
    ck = root/f"map-{label}-{key}"
    train_diffuser(data, dcfg, tcfg, norm, ckpt_dir=ck, progress=True, gen=gen)
    net, norm = load_diffuser(ck, device=gen.device, gen=gen)
    return net, norm, ck


def rows(gen, s: dict, maps: dict, a, root: Path) -> tuple[list, list]:
    "Every row on the held-out items, and the maps on `--fit` training items both saw → (results, fit)."
    cond = {p.id: p.question for p in s["big"] + s["held"]}
    ecfg = EvalConfig(K=a.K)
    runs = [("full_context", "full_context", {}),
            ("answer_prior", "answer_prior", dict(train=s["big"])),
            ("answer_prior_study_items", "answer_prior", dict(train=s["train"]))]
    for label, (net, norm, _) in maps.items():
        runs += [(label, "diffuser", dict(diffuser=net, norm=norm, cond_text=cond)),
                 (f"{label}_null", "diffuser_null", dict(diffuser=net, norm=norm, cond_text=cond))]
    # rows cached by what they share; a map's rows also by its checkpoint (folder named by data and configs),
    #   so a new map scores its own rows alone
    key = _digest(gen.name, [p.id for p in s["held"]], a.K, "rows by map")
    uses = {r[0]: Path(maps[r[0].removesuffix("_null")][2]).name for r in runs if "diffuser" in r[2]}
    res = evaluate_arm(gen, s["held"], ecfg, 1, runs, root, key, uses=uses)
    fit_pairs = sorted(s["train"], key=lambda p: stable_seed(a.seed, "fit", p.id))[:a.fit]
    fit = evaluate_arm(gen, fit_pairs, ecfg, 1, [r for r in runs if r[1] == "diffuser"], root, key + "-fit",
                       uses=uses)
    return res, fit


def in_training(res: list, s: dict) -> dict:
    """Per row: the share of its non-empty held-out answers that the `match` reading would credit to the
    answer of some training item (a training answer as whole words in the extracted answer): of the study's
    items, of the larger set, and of the larger set on the items whose gold it lacks. Near 1 for a map: it
    names answers it was trained on, as a classifier would."""
    sets = {k: {normalize_answer(p.answer) for p in s[k]} for k in ("train", "big")}
    def grams(x: str) -> set:                      # every run of whole words of the normalised answer
        w = normalize_answer(x).split()
        return {" ".join(w[i:j]) for i in range(len(w)) for j in range(i + 1, len(w) + 1)}
    share = lambda got, k: round(sum(bool(g & sets[k]) for g in got) / max(len(got), 1), 3)
    out = {}
    for r in res:
        got = [(grams(x), u) for x, u in zip(r["answers"], s["unseen_big"]) if normalize_answer(x)]
        out[r["method"]] = [share([g for g, _ in got], "train"), share([g for g, _ in got], "big"),
                            share([g for g, u in got if u], "big")]
    return out


def main():
    a, t0 = parse(), time.time()
    gen = load_generator("smollm2")
    root, out = cache_dir()/"answer_only_scale"/("smoke" if a.smoke else ""), Path(a.out)
    settings = dict(layers=a.layer, frame=answer_frame(gen))          # as the study's `hidden` variants
    s = items(gen, a)
    print(f"{len(s['train'])} study training items, {len(s['big'])} with the extra facts "
          f"({s['screened']} screened), {len(s['held'])} held out ({sum(s['unseen'])} unseen answers in the "
          f"study's training, {sum(s['unseen_big'])} in the larger set); {time.time() - t0:.0f}s")
    secs, maps = dict(items=time.time() - t0), {}
    sets = dict(half=train_subset(s["train"], 0.5, a.seed), study=s["train"], larger=s["big"])
    for reading in a.readings:
        for size in a.sizes:
            pairs, t = sets[size], time.time()
            label = f"map{'' if reading == 'stm' else '_' + reading}_n{len(pairs)}"
            maps[label] = train_map(gen, settings, pairs, a, root, label, reading)
            secs[label] = time.time() - t
    t = time.time()
    res, fit = rows(gen, s, maps, a, root)
    secs["eval"] = time.time() - t
    table = arm_table(res, s["held"], s["unseen"], {r["method"]: r["match"] for r in fit})
    big = [l for l in maps if l.endswith(f"_n{len(s['big'])}")]
    diffs = {ref: paired_differences(res, ref)[["method", "diff", "diff_ci"]].to_dict("records")
             for ref in ("answer_prior", "answer_prior_study_items", *maps)}
    unseen_big = dict(n=sum(s["unseen_big"]), match={r["method"]: sum(
        m for m, u in zip(r["items"]["match"], s["unseen_big"]) if u) for r in res})
    closed = in_training(res, s)
    rec = dict(config=vars(a), generator=gen.identity, sizes={l: len(p) for l, p in
               (("study_train", s["train"]), ("big_train", s["big"]), ("held", s["held"]))},
               screened=s["screened"], table=json.loads(table.to_json(orient="records")), paired=diffs,
               unseen_in_big_training=unseen_big, answers_in_training=closed,
               seconds=dict(secs, total=time.time() - t0), larger_maps=big)
    f = out/f"answer_only_scale-{time.strftime('%Y%m%d-%H%M%S')}.json"    # a rerun never overwrites a record
    atomic_write_json(f, rec)
    print(f"record: {f} (stages read from the caches under {root} and data/cache/study take seconds)")
    print(table[["method", "match", "match_ci", "diff_answer_prior", "diff_answer_prior_ci", "unseen_match",
                 "fit_match"]].to_string())
    for ref, ds in diffs.items():
        print(f"per item − {ref}: " + "; ".join(f"{d['method']} {d['diff']:+.2f} [{d['diff_ci'][0]:+.2f}, "
                                                  f"{d['diff_ci'][1]:+.2f}]" for d in ds))
    print(f"held-out answers unseen in the larger training set ({unseen_big['n']}), answered:",
          unseen_big["match"])
    print("share of held-out answers that name a training answer (study's items; larger set; larger set, "
          "on the items whose gold it lacks):", closed)
    print("seconds:", {k: round(v) for k, v in rec["seconds"].items()})


if __name__ == "__main__":
    main()

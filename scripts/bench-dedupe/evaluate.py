#!/usr/bin/env python3
"""Pairwise precision / recall / F1 of a clustering against the truth.

usage: evaluate.py TRUTH.csv ID_COL TRUTH_COL CLUSTERS.csv [--cross SOURCE_COL | --by KIND_COL]
CLUSTERS.csv has columns record_id,cluster_id. A pair is predicted when both rows share a
cluster_id, true when both share TRUTH_COL. With --cross, only pairs whose SOURCE_COL values
differ count (record linkage of two files, febrl4). With --by, the figures are also given per
value of KIND_COL (customer_type), over the pairs of two rows of that kind. Prints one JSON line.
"""
import csv
import json
import sys
from collections import Counter


def pairs(n):
    return n * (n - 1) // 2


def main():
    truth_path, id_col, truth_col, clusters_path = sys.argv[1:5]
    cross = sys.argv[6] if len(sys.argv) > 6 and sys.argv[5] == "--cross" else None
    by = sys.argv[6] if len(sys.argv) > 6 and sys.argv[5] == "--by" else None
    truth, source, kind, variant = {}, {}, {}, {}
    with open(truth_path, encoding="utf-8-sig") as f:
        for r in csv.DictReader(f):
            truth[r[id_col]] = r[truth_col]
            if cross:
                source[r[id_col]] = r[cross]
            if by:
                kind[r[id_col]] = r[by]
                variant[r[id_col]] = r.get("variant", "")
    pred = {}
    with open(clusters_path, encoding="utf-8-sig") as f:
        for r in csv.DictReader(f):
            pred[r["record_id"]] = r["cluster_id"]
    missing = len(set(truth) - set(pred))
    if cross:
        # Count cross-source pairs only: per group, |A| * |B| for the two sources.
        def cross_pairs(groups):
            total = 0
            for members in groups.values():
                c = Counter(members)
                vals = list(c.values())
                total += (sum(vals) ** 2 - sum(v * v for v in vals)) // 2
            return total
        by = lambda key: {k: [] for k in set(key.values())}
        tp_g, pr_g, tr_g = {}, {}, {}
        for rid in truth:
            p = pred.get(rid, "_" + rid)
            tp_g.setdefault((p, truth[rid]), []).append(source[rid])
            pr_g.setdefault(p, []).append(source[rid])
            tr_g.setdefault(truth[rid], []).append(source[rid])
        tp, predicted, true = cross_pairs(tp_g), cross_pairs(pr_g), cross_pairs(tr_g)
    else:
        tp, predicted, true = counts(truth, pred)
    out = {"records": len(truth), **figures(tp, predicted, true), "rows_missing": missing}
    if by:
        out["by"] = {}
        for k in sorted(set(kind.values())):
            sub = {r: t for r, t in truth.items() if kind[r] == k}
            out["by"][k] = {"records": len(sub), **figures(*counts(sub, pred))}
            # Rows marked `variant=moved` (gen_chinese.py: another city, address and phone,
            # no identifier) may rightly stay apart: the figures without them too.
            stay = {r: t for r, t in sub.items() if variant.get(r) != "moved"}
            if len(stay) < len(sub):
                out["by"][k + " without moves"] = {"records": len(stay), **figures(*counts(stay, pred))}
    print(json.dumps(out, ensure_ascii=False))


def counts(truth, pred):
    """(true positives, predicted pairs, true pairs) over the rows of `truth`."""
    both = Counter((pred.get(r, "_" + r), t) for r, t in truth.items())
    tp = sum(pairs(n) for n in both.values())
    predicted = sum(pairs(n) for n in Counter(pred.get(r, "_" + r) for r in truth).values())
    true = sum(pairs(n) for n in Counter(truth.values()).values())
    return tp, predicted, true


def figures(tp, predicted, true):
    precision = tp / predicted if predicted else 1.0
    recall = tp / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"true_pairs": true, "predicted_pairs": predicted, "true_positives": tp,
            "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Same-session Python baseline for `blastview bench agreement` (see docs/benchmarks.md).

Times the reference libraries on the very ratings the Swift benchmark used (written by
`blastview bench agreement --write-codes FILE`): sklearn cohen_kappa_score (plain and
linear), statsmodels cohens_kappa on the table, statsmodels fleiss_kappa, krippendorff alpha
(nominal and ordinal), and a numpy percentile bootstrap of kappa (item resampling via
rng.integers + bincount of cells, the fastest plain-numpy form). Prints JSON.

    /work/venv/bin/python Benchmarks/agreement_baseline.py CODES.csv [--bootstrap 2000]
"""
import argparse
import json
import time
import warnings
from importlib.metadata import version

import numpy as np
import krippendorff
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa, fleiss_kappa


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("codes")
    ap.add_argument("--bootstrap", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    data = np.loadtxt(args.codes, delimiter=",", skiprows=1, dtype=np.int64)
    a, b = data[:, 0], data[:, 1]
    k = int(data.max()) + 1
    labels = list(range(k))
    n = len(a)
    r = args.repeats
    out = {"items": n, "categories": k, "versions": {p: version(p) for p in
           ["numpy", "scikit-learn", "statsmodels", "krippendorff"]}}
    t = {}
    t["read"] = median_time(lambda: int(a.sum() + b.sum()), r)
    t["sklearn_kappa"] = median_time(lambda: cohen_kappa_score(a, b, labels=labels), r)
    t["sklearn_kappa_linear"] = median_time(lambda: cohen_kappa_score(a, b, labels=labels, weights="linear"), r)

    def table():
        m = np.zeros((k, k))
        np.add.at(m, (a, b), 1)
        return m
    tab = table()
    t["numpy_confusion"] = median_time(table, r)
    t["statsmodels_cohens_kappa_table"] = median_time(lambda: cohens_kappa(tab), r)
    t["statsmodels_fleiss"] = median_time(lambda: fleiss_kappa(aggregate_raters(data, n_cat=k)[0]), r)
    rel = data.T.astype(float)
    t["krippendorff_nominal_ordinal"] = median_time(lambda: (
        krippendorff.alpha(reliability_data=rel, level_of_measurement="nominal", value_domain=labels),
        krippendorff.alpha(reliability_data=rel, level_of_measurement="ordinal", value_domain=labels)), max(1, r // 2))
    cells = a * k + b

    def boot():
        rng = np.random.default_rng(7)
        w = np.eye(k)
        vals = np.empty(args.bootstrap)
        for rep in range(args.bootstrap):
            c = np.bincount(cells[rng.integers(0, n, n)], minlength=k * k).reshape(k, k) / n
            po = np.trace(c)
            pe = c.sum(1) @ c.sum(0)
            vals[rep] = (po - pe) / (1 - pe)
        return np.percentile(vals, [2.5, 97.5])
    t["numpy_bootstrap"] = median_time(boot, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["kappa"] = float(cohen_kappa_score(a, b, labels=labels))
    out["median_seconds"] = t
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

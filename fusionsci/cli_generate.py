"""``python -m fusionsci generate DATASET --n-samples N --resolution S --seed K --out FILE.h5``:
training data for neural operators from the library's solvers (:mod:`fusionsci.data.generate`),
written in the PDEBench single-array HDF5 layout, resumable (re-run the same command after an
interruption and it continues where it stopped)."""
from __future__ import annotations

import ast


def _setting(text: str):
    import argparse
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--set expects KEY=VALUE, got {text!r}")
    k, v = text.split("=", 1)
    try:
        v = ast.literal_eval(v)
    except (ValueError, SyntaxError):
        pass
    return k.strip(), v


def add_generate_parser(sub, positive_int, seed_type) -> None:
    from .data.generate import DATASETS
    lines = []
    for name, cls in DATASETS.items():
        defaults = ", ".join(f"{k}={v}" for k, v in cls.defaults.items())
        lines.append(f"{name}: {cls.summary} (default resolution {cls.default_resolution}, batch "
                     f"{cls.default_batch}; parameters {defaults})")
    p = sub.add_parser("generate", allow_abbrev=False, help=f"generate a data set ({', '.join(DATASETS)})",
                       description=__doc__.replace("\n", " ") + " Data sets: " + "; ".join(lines) + ".")
    p.add_argument("dataset", metavar="DATASET", choices=tuple(DATASETS), help=f"one of {', '.join(DATASETS)}")
    p.add_argument("--n-samples", type=positive_int, required=True, metavar="N", help="number of samples")
    p.add_argument("--resolution", type=positive_int, default=None, metavar="S",
                   help="points per axis (default: per data set)")
    p.add_argument("--seed", type=seed_type, default=0, help="data set seed (default 0)")
    p.add_argument("--out", required=True, metavar="FILE.h5", help="output HDF5 file (resumed if it exists)")
    p.add_argument("--batch", type=positive_int, default=None, metavar="B",
                   help="samples per batched solve and per write (default: per data set)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="storage dtype")
    p.add_argument("--compression", choices=("lzf", "gzip"), default=None, help="HDF5 compression")
    p.add_argument("--set", dest="settings", type=_setting, action="append", default=[], metavar="KEY=VALUE",
                   help="override a data-set parameter, e.g. --set nu=0.05 (repeatable)")
    p.add_argument("--overwrite", action="store_true", help="start afresh instead of resuming an existing file")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_generate)


def cmd_generate(args) -> int:
    import time
    import sys
    from .data.generate import generate
    t0 = time.perf_counter()
    params = dict(args.settings)
    path = generate(args.dataset, args.n_samples, args.out, resolution=args.resolution, seed=args.seed,
                    batch=args.batch, dtype=args.dtype, compression=args.compression, overwrite=args.overwrite,
                    progress=not args.quiet, **params)
    if not args.quiet:
        print(f"[generate {args.dataset}] wrote {path} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    print(path)
    return 0

"""A Fourier neural operator learns the Burgers solution operator u0 -> u(T) from data made by
fusionsci's own spectral solver, is evaluated zero-shot at a finer resolution, and is timed
against the solver.

    python examples/neural_operator.py            # 512 samples at s = 512, train at s = 128, 100 epochs
    python examples/neural_operator.py --quick    # 128 samples at s = 128, train at s = 64, 16 epochs
    python examples/neural_operator.py --plot out.png

The data set is written once into fusionsci's cache (``$FUSIONSCI_CACHE`` or ~/.cache/fusionsci)
and reused (``--data FILE`` puts it elsewhere).
"""
import argparse
import pathlib
import time

import numpy as np

import fusionsci as fs
from fusionsci.data import cache_dir, generate
from fusionsci.equations import Burgers
from fusionsci.io import StreamLoader
from fusionsci.io.stream import split_ranges
from fusionsci.operators import FNO1d
from fusionsci.operators.training import OperatorTrainer, relative_l2

# the 'burgers' data set at nu = 0.02 (its default, the FNO paper's 0.1, leaves only ~2 % of u0 at T = 1:
# mostly linear decay), T = 1, ETDRK4 step dt
NU, T_END, DT = 0.02, 1.0, 2e-3


def solver_run(u0, dt=DT, dtype="float64", repeat=2):
    """``u(T)`` from ``u0 [n, s]`` by the spectral solver the data came from, and the wall time of
    the last of ``repeat`` identical calls (the first one compiles)."""
    solver = fs.Solver(Burgers(nu=NU), fs.Grid(u0.shape[-1], (0.0, 1.0)), dtype=dtype)
    u0 = np.asarray(u0, dtype=dtype)[:, None]
    for _ in range(repeat):
        t0 = time.perf_counter()
        sol = solver.rollout(u0, T_END, 2, dt=dt, stability="ignore")
        wall = time.perf_counter() - t0
    return sol.u[:, -1, 0], wall


def restrict(u, s):
    """The lowest Fourier modes (``|k| < s/2``) of ``u [..., n]`` on ``s`` points (no aliasing,
    unlike subsampling ``u[..., ::n // s]``, which folds the higher modes onto the lower ones)."""
    return np.fft.irfft(np.fft.rfft(u, axis=-1)[..., :s // 2], n=s, axis=-1) * (s / u.shape[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small data set and short training (seconds)")
    ap.add_argument("--epochs", type=int, default=None, help="training epochs (default 100, --quick 16)")
    ap.add_argument("--batch-size", type=int, default=None, help="training batch size (default 16, --quick 8)")
    ap.add_argument("--lr", type=float, default=3e-3, help="initial learning rate (cosine schedule; default 3e-3)")
    ap.add_argument("--data", default=None, help="HDF5 file of the data set (default: in fusionsci's cache)")
    ap.add_argument("--plot", default=None, help="write a PNG: learning curve and test predictions")
    args = ap.parse_args(argv)
    # n samples at resolution s; train on n_train of them at s // stride
    n, s, stride, n_train, width, modes, epochs, batch = ((128, 128, 2, 96, 32, 16, 16, 8) if args.quick
                                                          else (512, 512, 4, 448, 64, 16, 100, 16))
    epochs, batch = args.epochs or epochs, args.batch_size or batch
    path = pathlib.Path(args.data or cache_dir() / "data" / f"burgers_fno_example_nu{NU}_n{n}_s{s}.h5")
    path.parent.mkdir(parents=True, exist_ok=True)       # generate() does not create folders
    t0 = time.perf_counter()
    generate("burgers", n, path, resolution=s, seed=0, nu=NU, dt=DT, batch=n, progress=False)
    print(f"data: {n} Burgers samples at s = {s} in {path} ({time.perf_counter() - t0:.1f} s)")

    tr, te = split_ranges(n, n_train)
    kw = dict(dtype="float32", inputs=("tensor", 0), targets=("tensor", -1))
    train = StreamLoader(path, batch, samples=tr, shuffle=True, seed=0, stride=stride, **kw)
    test = StreamLoader(path, 64, samples=te, shuffle=False, stride=stride, **kw)
    test_fine = StreamLoader(path, 64, samples=te, shuffle=False, stride=1, **kw)
    model = FNO1d(modes=modes, width=width, n_layers=4, grid="periodic", dtype="float32", seed=0)
    trainer = OperatorTrainer(model, loss="rel_l2", lr=args.lr, schedule="cosine", total_epochs=epochs,
                              verbose=False, log_every=max(1, epochs // 20))
    trainer.fit(train, epochs, test=test)
    s_train = train.x_shape[-1]
    print(f"FNO1d(modes={modes}, width={width}): {epochs} epochs on {n_train} samples at s = {s_train} "
          f"in {trainer.train_seconds:.1f} s")

    coarse, fine = trainer.evaluate(test), trainer.evaluate(test_fine)
    x_fine, y_fine = test_fine.arrays()
    trainer.predict(x_fine)                          # compile at this shape before timing
    t0 = time.perf_counter()
    p_fine = trainer.predict(x_fine)
    fno_s = time.perf_counter() - t0
    u_solver, solver_s = solver_run(x_fine[:, 0])
    u_coarse, _ = solver_run(restrict(x_fine[:, 0].astype(np.float64), s_train), repeat=1)
    err_coarse_solver = float(relative_l2(u_coarse, y_fine[:, 0, ::stride]).mean())

    print(f"\nrelative L2 error on {len(te)} test samples\n{'':<46} {'s':>5} {'rel L2':>9} {'time':>9}")
    rows = [("FNO, training resolution", s_train, coarse["rel_l2"], None),
            ("FNO, zero-shot at the file's resolution", s, fine["rel_l2"], fno_s),
            ("spectral solver, coarse grid (restricted u0)", s_train, err_coarse_solver, None),
            ("spectral solver (the data's own)", s, float(relative_l2(u_solver, y_fine[:, 0]).mean()), solver_s)]
    for name, res, err, wall in rows:
        print(f"{name:<46} {res:>5} {err:>9.2e} {'' if wall is None else f'{wall:.3f} s':>9}")
    results = {"rel_l2_train_res": coarse["rel_l2"], "rel_l2_fine_res": fine["rel_l2"],
               "rel_l2_coarse_solver": err_coarse_solver, "fno_predict_s": fno_s, "solver_s": solver_s,
               "train_resolution": s_train, "fine_resolution": s, "epochs": epochs,
               "train_seconds": trainer.train_seconds, "history": trainer.history}
    if args.plot:
        from fusionsci import viz
        fig, axes = viz.figure(1, 2, figsize=(11, 4))
        h = trainer.history
        axes[0].semilogy(h["epoch"], h["train_loss"], label="train loss (rel. L2, last batch)")
        axes[0].semilogy(h["epoch"], h["test_rel_l2"], "o-", ms=3, label=f"test rel. L2 at s = {s_train}")
        axes[0].set_xlabel("epoch")
        axes[0].grid(alpha=0.3, which="both")
        axes[0].legend(fontsize="small")
        axes[0].set_title("learning curve")
        x = np.arange(s) / s
        for j in range(3):
            axes[1].plot(x, x_fine[j, 0], color=f"C{j}", lw=0.8, alpha=0.5)
            axes[1].plot(x, y_fine[j, 0], color=f"C{j}", lw=2.0)
            axes[1].plot(x, p_fine[j, 0], "k--", lw=1.0, label="FNO" if j == 0 else None)
        axes[1].set_xlabel("x")
        axes[1].set_title(f"test samples at s = {s}: u0 (thin), u(T) (thick)")
        axes[1].legend(fontsize="small")
        viz.save(fig, args.plot)
        print("wrote", args.plot)
    for loader in (train, test, test_fine):
        loader.close()
    return results


if __name__ == "__main__":
    main()

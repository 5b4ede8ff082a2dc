"""Learning-curve extrapolation: predict a trial's final score from the first steps of its curve.

A simplified, deterministic take on Domhan, Springenberg & Hutter (2015), *Speeding up
automatic hyperparameter optimization of deep neural networks by extrapolation of learning
curves*: instead of MCMC over an ensemble of parametric curves, every family is fitted by least
squares and the families are averaged with weights from how well each one fits the curve and
predicts the curve's own last points.

The curve is ``values[i]`` (a validation score) at ``steps[i]`` (a resource: boosting
iterations, epochs). Minimized scores are negated, so "better" is "higher"; ``u`` is the step
divided by the last observed step. Every family is ``y = a - b g(u; theta)`` with ``b >= 0``
and ``g`` decreasing to 0 (a curve that improves monotonically and saturates at ``a``); the
two *drift* families add ``- d log(u)`` with ``d >= 0``, a slow decline after the initial
improvement (over-fitting: a validation loss that rises again). :data:`FAMILIES`:

* ``pow``: ``g = u ** -c`` (power law ``a - b t^-c``);
* ``exp``: ``g = exp(-c u)`` (exponential saturation);
* ``logpower``: ``g = 1 / (1 + (k u) ** d)`` (the log-power / MMF curve, a sigmoid in log t);
* ``weibull``: ``g = exp(-(k u) ** d)``;
* ``powdrift``, ``expdrift``: ``pow`` and ``exp`` plus the drift term.

Fitting uses numpy only and no randomness: for fixed ``theta`` the best ``a, b (, d)`` solve a
small non-negative least-squares problem in closed form, so each family is searched on a grid
of ``theta`` (vectorized over all grid points), and the 3 best separate grid minima are zoomed
into five times (to about 1/250 of a grid step). ``polish=True`` then refines the best point
with ``scipy.optimize.least_squares`` within bounds (several times slower; compared in
``benchmarks/curve_error.py``). Each family is also fitted to the first 60 % of the points
and scored on the rest (its hold-out error). Weights: ``w ~ (mse_in * mse_out) ** (-n / 16)``
(a tempered Gaussian likelihood whose variance is the geometric mean of the in-sample and
hold-out mean squared errors); a family with no residual degree of freedom or no hold-out
point gets the worst scores of the others (or 0.25 squared ranges when none can be scored).
Each family's prediction is clipped to ``1 + log U`` observed ranges (``U``: target step /
last step) from its fitted last value. The variance of the prediction, in units of the
observed range, is the spread of the families' predictions, plus their residual variance,
plus ``U`` times the hold-out error, plus ``(0.5 * predicted gain) ** 2``, plus
``(0.1 log U) ** 2``, plus ``(0.5 * (linear gain - predicted gain)) ** 2`` where the linear
gain is what the curve would gain if it kept its current slope to the target (the most a
saturating curve can gain): a curve whose bend is not visible yet is very uncertain. These
constants were set on real gradient-boosting curves (other than those of
``benchmarks/curve_error.py``) so that the true final score beats ``mean + 1.645 std`` in
about 2-5 % of cases, from 3 observed points to half the curve.

Example:
    >>> import numpy as np
    >>> from automl_bridge.search.curves import extrapolate
    >>> steps = np.arange(1, 21)
    >>> values = 0.9 - 0.5 * steps ** -0.7   # a power law seen up to step 20
    >>> p = extrapolate(steps, values, 200, direction="maximize")
    >>> abs(p.mean - (0.9 - 0.5 * 200 ** -0.7)) < 0.01
    True
    >>> sorted(p.per_family)
    ['exp', 'expdrift', 'logpower', 'pow', 'powdrift', 'weibull']
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from automl_bridge.exceptions import SpecError

_Basis = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Family:
    """A parametric curve family ``y = a - b * g(u; theta)`` (``b >= 0``).

    Attributes:
        name: short name (a key of :data:`FAMILIES`).
        basis: ``basis(u, theta)``; ``u`` has shape ``(n,)``, ``theta`` shape ``(m, p)``
            (the natural logarithms of the nonlinear parameters); returns ``(m, n)``.
        log_bounds: ``(low, high)`` of each nonlinear parameter's logarithm.
        grid: grid points per nonlinear parameter for the initial search.
    """

    name: str
    basis: _Basis
    log_bounds: tuple[tuple[float, float], ...]
    grid: int
    drift: bool = False

    @property
    def n_params(self) -> int:
        """Free parameters: ``a``, ``b``, the nonlinear ones and the drift ``d``."""
        return 2 + len(self.log_bounds) + int(self.drift)


def _pow(u: np.ndarray, theta: np.ndarray) -> np.ndarray:
    c = np.exp(theta[:, 0:1])
    return np.exp(-c * np.log(u)[None, :])


def _exp(u: np.ndarray, theta: np.ndarray) -> np.ndarray:
    c = np.exp(theta[:, 0:1])
    return np.exp(-c * u[None, :])


def _logpower(u: np.ndarray, theta: np.ndarray) -> np.ndarray:
    log_k, d = theta[:, 0:1], np.exp(theta[:, 1:2])
    x = np.clip(d * (log_k + np.log(u)[None, :]), -700.0, 700.0)
    return 1.0 / (1.0 + np.exp(x))


def _weibull(u: np.ndarray, theta: np.ndarray) -> np.ndarray:
    log_k, d = theta[:, 0:1], np.exp(theta[:, 1:2])
    x = np.clip(d * (log_k + np.log(u)[None, :]), -700.0, 700.0)
    return np.exp(-np.exp(x))


#: The curve families, by name (see the module docstring); read-only.
FAMILIES: Mapping[str, Family] = MappingProxyType({
    "pow": Family("pow", _pow, ((math.log(0.02), math.log(4.0)),), 48),
    "exp": Family("exp", _exp, ((math.log(0.3), math.log(300.0)),), 48),
    "logpower": Family("logpower", _logpower,
                       ((math.log(0.05), math.log(200.0)), (math.log(0.2), math.log(6.0))), 20),
    "weibull": Family("weibull", _weibull,
                      ((math.log(0.05), math.log(200.0)), (math.log(0.15), math.log(4.0))), 20),
    "powdrift": Family("powdrift", _pow, ((math.log(0.02), math.log(4.0)),), 48, drift=True),
    "expdrift": Family("expdrift", _exp, ((math.log(0.3), math.log(300.0)),), 48, drift=True),
})


_STARTS = 3  # distinct grid minima zoomed into
_ZOOM_POINTS = 7  # per nonlinear parameter and zoom level
_ZOOM_LEVELS = 5
_HOLDOUT_FIT = 0.6  # share of the points the hold-out fit sees
_SHARPNESS = 0.25  # tempering of the weights' likelihood
_MSE_FLOOR = 1e-6  # in squared observed ranges: exact fits do not get infinite weight
_HOLDOUT_VAR = 1.0  # variance terms of the prediction (see the module docstring)
_GAIN_SD = 0.5
_LOG_U_SD = 0.1
_LINEAR_SD = 0.5
_UNKNOWN_MSE = 0.25  # noise and hold-out error assumed when no family can be scored
_SLOPE_H = 1e-3  # finite-difference step of the slope at the last observed step


@dataclass(frozen=True)
class Prediction:
    """The extrapolated score at the target step.

    Attributes:
        mean: predicted value at the target step (the weighted combination of the families).
        std: its standard deviation: disagreement between families, residual noise around
            the fit, and uncertainty growing with the predicted remaining gain, the
            extrapolation distance and the current slope (see the module docstring).
            ``inf`` (with ``mean`` the last value and no families) when the observed values
            are all equal or no requested family has as few parameters as there are points:
            the curve says nothing about its future.
        per_family: each fitted family's prediction.
        weights: each family's weight in ``mean`` (they sum to 1).
        last: the last observed value.
    """

    mean: float
    std: float
    per_family: dict[str, float] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    last: float = float("nan")


@dataclass(frozen=True)
class _Fit:
    theta: np.ndarray
    a: float
    b: float
    d: float
    rss: float


def _solve(family: Family, u: np.ndarray, theta: np.ndarray, z: np.ndarray,
           w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Best ``a, b (>= 0), d (>= 0)`` and weighted RSS for every row of ``theta``."""
    with np.errstate(all="ignore"):
        g = family.basis(u, theta)
        if family.drift:
            return _solve_abd(g, -np.log(u), z, w)
        a, b, rss = _solve_ab(g, z, w)
    return a, b, np.zeros_like(a), rss


def _solve_ab(g: np.ndarray, z: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                     np.ndarray]:
    """Weighted least squares of ``z ~ a - b g`` with ``b >= 0`` for every row of ``g``."""
    sw = float(w.sum())
    gm = (g @ w) / sw
    zm = float(z @ w) / sw
    gc = g - gm[:, None]
    var = (gc * gc) @ w
    cov = gc @ (w * (z - zm))
    ok = var > 1e-300
    b = np.zeros_like(var)
    b[ok] = -cov[ok] / var[ok]
    b = np.where(np.isfinite(b) & (b > 0.0), b, 0.0)
    a = zm + b * gm
    resid = a[:, None] - b[:, None] * g - z[None, :]
    rss = (resid * resid) @ w
    rss = np.where(np.isfinite(rss), rss, np.inf)
    return a, b, rss


def _solve_abd(g: np.ndarray, h: np.ndarray, z: np.ndarray,
               w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Least squares of ``z ~ a - b g + d h`` (``h = -log u``) with ``b, d >= 0``."""
    sw = float(w.sum())
    gm = (g @ w) / sw
    hm = float(h @ w) / sw
    zm = float(z @ w) / sw
    gc = g - gm[:, None]
    hc = h - hm
    zc = z - zm
    sgg = (gc * gc) @ w
    sgh = gc @ (w * hc)
    shh = float((hc * hc) @ w)
    sgz = gc @ (w * zc)
    shz = float((hc * zc) @ w)
    # candidates (b, d): both free, d = 0, b = 0; the feasible one with the lowest RSS wins
    det = sgg * shh - sgh * sgh
    ok = np.abs(det) > 1e-12 * np.maximum(sgg * shh, 1e-300)
    safe = np.where(ok, det, 1.0)
    b_free = np.where(ok, -(shh * sgz - sgh * shz) / safe, -1.0)
    d_free = np.where(ok, (sgg * shz - sgh * sgz) / safe, -1.0)
    b_only = np.where(sgg > 1e-300, -sgz / np.where(sgg > 1e-300, sgg, 1.0), 0.0)
    d_only = max(shz / shh, 0.0) if shh > 1e-300 else 0.0
    cands = [(b_free, d_free), (np.maximum(b_only, 0.0), np.zeros_like(b_only)),
             (np.zeros_like(b_only), np.full_like(b_only, d_only))]
    best_rss = np.full(g.shape[0], np.inf)
    best_b = np.zeros(g.shape[0])
    best_d = np.zeros(g.shape[0])
    for b, d in cands:
        feasible = np.isfinite(b) & np.isfinite(d) & (b >= 0.0) & (d >= 0.0)
        # centred quadratic form of the RSS: only used to choose, recomputed exactly below
        q = b * b * sgg + d * d * shh - 2 * b * d * sgh + 2 * b * sgz - 2 * d * shz
        better = feasible & (q < best_rss)
        best_rss = np.where(better, q, best_rss)
        best_b = np.where(better, b, best_b)
        best_d = np.where(better, d, best_d)
    a = zm + best_b * gm - best_d * hm
    resid = a[:, None] - best_b[:, None] * g + best_d[:, None] * h[None, :] - z[None, :]
    rss = (resid * resid) @ w
    rss = np.where(np.isfinite(rss), rss, np.inf)
    return a, best_b, best_d, rss


def _grid(family: Family) -> np.ndarray:
    axes = [np.linspace(lo, hi, family.grid) for lo, hi in family.log_bounds]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


def _fit_family(family: Family, u: np.ndarray, z: np.ndarray, w: np.ndarray, *,
                polish: bool = False) -> _Fit:
    """Best fit of ``family``: a grid over ``theta``, zoomed into around its best points.

    With ``polish``, the best point is finally refined by ``scipy.optimize.least_squares``
    within the family's bounds (slower, rarely better than the zoomed grid).
    """
    lo = np.array([bd[0] for bd in family.log_bounds])
    hi = np.array([bd[1] for bd in family.log_bounds])
    theta = _grid(family)
    step = (hi - lo) / max(family.grid - 1, 1)
    a, b, d, rss = _solve(family, u, theta, z, w)
    order = np.argsort(rss, kind="stable")
    # several starts: the best grid points that are not neighbours of a better one
    starts = [theta[order[0]]]
    for idx in order[1:64]:
        cand = theta[idx]
        if all(np.any(np.abs(cand - s) > 2.5 * step) for s in starts):
            starts.append(cand)
            if len(starts) >= _STARTS:
                break
    i0 = order[0]
    best = _Fit(theta[i0], float(a[i0]), float(b[i0]), float(d[i0]), float(rss[i0]))
    offsets = np.linspace(-1.0, 1.0, _ZOOM_POINTS)
    mesh = np.meshgrid(*([offsets] * len(lo)), indexing="ij")
    local = np.stack([m.ravel() for m in mesh], axis=1)
    centres, width = np.array(starts), step
    for _ in range(_ZOOM_LEVELS):
        cand = np.clip(centres[:, None, :] + local[None, :, :] * width, lo, hi)
        cand = cand.reshape(-1, len(lo))
        a_c, b_c, d_c, rss_c = _solve(family, u, cand, z, w)
        per_start = rss_c.reshape(len(centres), -1)
        picks = np.argmin(per_start, axis=1)
        centres = cand.reshape(len(centres), -1, len(lo))[np.arange(len(centres)), picks]
        i = int(np.argmin(rss_c))
        if rss_c[i] < best.rss:
            best = _Fit(cand[i].copy(), float(a_c[i]), float(b_c[i]), float(d_c[i]),
                        float(rss_c[i]))
        width = width * 2.0 / (_ZOOM_POINTS - 1)
    if polish and np.isfinite(best.rss):
        best = _polish(family, u, z, w, best, lo, hi, step)
    return best


def _polish(family: Family, u: np.ndarray, z: np.ndarray, w: np.ndarray, best: _Fit,
            lo: np.ndarray, hi: np.ndarray, step: np.ndarray) -> _Fit:
    """Refine ``best`` with bounded least squares (variable projection over ``theta``)."""
    from scipy.optimize import least_squares

    sqrt_w = np.sqrt(w)

    def residuals(th: np.ndarray) -> np.ndarray:
        a_, b_, d_, _ = _solve(family, u, th[None, :], z, w)
        r = sqrt_w * (_curve(family, u, th, float(a_[0]), float(b_[0]), float(d_[0])) - z)
        return np.where(np.isfinite(r), r, 1e6)

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            res = least_squares(residuals, np.clip(best.theta, lo, hi), bounds=(lo, hi),
                                x_scale=np.maximum(step, 1e-3), max_nfev=50)
        except (ValueError, np.linalg.LinAlgError):
            return best
    a_r, b_r, d_r, rss_r = _solve(family, u, res.x[None, :], z, w)
    if np.isfinite(rss_r[0]) and rss_r[0] < best.rss:
        return _Fit(res.x.copy(), float(a_r[0]), float(b_r[0]), float(d_r[0]), float(rss_r[0]))
    return best


def _curve(family: Family, u: np.ndarray, theta: np.ndarray, a: float, b: float,
           d: float) -> np.ndarray:
    with np.errstate(all="ignore"):
        g = family.basis(u, theta[None, :])[0]
        return np.asarray(a - b * g - d * np.log(u) if family.drift else a - b * g)


def _predict(family: Family, fit: _Fit, u: float | np.ndarray) -> np.ndarray:
    uu = np.atleast_1d(np.asarray(u, dtype=float))
    return _curve(family, uu, fit.theta, fit.a, fit.b, fit.d)


def _thin(n: int, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` of ``n`` points, evenly spread, first and last kept."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, max_points)).astype(int))


def _check_inputs(steps: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray,
                  target_step: float, direction: str) -> tuple[np.ndarray, np.ndarray]:
    if direction not in ("maximize", "minimize"):
        raise SpecError(f"The argument 'direction' of extrapolate must be 'maximize' or "
                        f"'minimize'. Got {direction!r}.")
    t = np.asarray(steps, dtype=float).ravel()
    y = np.asarray(values, dtype=float).ravel()
    if t.shape != y.shape:
        raise SpecError(f"The arguments 'steps' and 'values' of extrapolate must have the same "
                        f"length. Got {t.size} steps and {y.size} values.")
    keep = np.isfinite(t) & np.isfinite(y)
    t, y = t[keep], y[keep]
    order = np.argsort(t, kind="stable")
    t, y = t[order], y[order]
    if t.size and t[0] < 0:
        raise SpecError(f"The steps given to extrapolate must be >= 0 (they are resources). "
                        f"Got {t[0]}.")
    if t.size > 1:
        dup = np.concatenate([[True], np.diff(t) > 0])  # keep the first of repeated steps
        t, y = t[dup], y[dup]
    if t.size < 3:
        raise SpecError(f"extrapolate needs at least 3 points with distinct finite steps and "
                        f"values. Got {t.size}; report more steps before extrapolating.")
    if not math.isfinite(target_step) or target_step <= 0:
        raise SpecError(f"The argument 'target_step' of extrapolate must be a finite number "
                        f"> 0. Got {target_step!r}.")
    return t, y


def extrapolate(steps: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray,
                target_step: float, *, direction: str = "maximize",
                families: Sequence[str] | None = None,
                bounds: tuple[float | None, float | None] | None = None,
                max_points: int = 200, polish: bool = False) -> Prediction:
    """Predict the value of a learning curve at ``target_step``.

    Args:
        steps: resources at which the values were observed (>= 0; a curve starting at step 0
            is shifted by one step, as power laws need ``t > 0``). Unsorted input is sorted;
            non-finite points are dropped.
        values: the observed scores.
        target_step: the resource to predict the score at (usually the largest one).
        direction: ``"maximize"`` or ``"minimize"``: which way the score improves.
        families: names of :data:`FAMILIES` to use (default: all).
        bounds: ``(low, high)`` the score cannot leave (e.g. ``(0, 1)`` for accuracy, or
            ``(0, None)`` for a loss); predictions are clipped to it.
        max_points: longer curves are thinned to this many evenly spread points.
        polish: refine every family's best fit with ``scipy.optimize.least_squares``
            (several times slower; see the module docstring).

    Returns:
        The :class:`Prediction`: combined mean, standard deviation, each family's prediction
        and weight.

    Raises:
        SpecError: fewer than 3 usable points, a bad ``direction``, ``target_step`` or family.
    """
    t, y = _check_inputs(steps, values, target_step, direction)
    names = list(FAMILIES) if families is None else list(families)
    unknown = [n for n in names if n not in FAMILIES]
    if unknown or not names:
        raise SpecError(f"The argument 'families' of extrapolate must name some of "
                        f"{sorted(FAMILIES)}. Got {list(names)!r}.")
    raw = _fit_all(t, y, float(target_step), direction, names, max_points, polish)
    return _combine(raw, bounds)


@dataclass
class _Raw:
    """Per-family fits in the normalized space ``z = sign * (y - last) / scale``."""

    sign: float
    last: float
    scale: float
    n: int
    u_target: float
    pred: dict[str, float] = field(default_factory=dict)
    noise: dict[str, float] = field(default_factory=dict)
    holdout: dict[str, float] = field(default_factory=dict)
    fitted_last: dict[str, float] = field(default_factory=dict)
    slope: dict[str, float] = field(default_factory=dict)
    scored: dict[str, bool] = field(default_factory=dict)


def _fit_all(t: np.ndarray, y: np.ndarray, target_step: float, direction: str,
             names: Sequence[str], max_points: int, polish: bool) -> _Raw:
    idx = _thin(t.size, max(int(max_points), 3))
    t, y = t[idx], y[idx]
    shift = 1.0 if t[0] <= 0 else 0.0
    t_last = t[-1] + shift
    u = (t + shift) / t_last
    sign = 1.0 if direction == "maximize" else -1.0
    last = float(y[-1])
    raw = _Raw(sign, last, float(np.ptp(y)), int(t.size), (target_step + shift) / t_last)
    if not raw.scale > 1e-12 * max(1.0, abs(last)):
        raw.scale = 0.0
        return raw
    z = sign * (y - last) / raw.scale
    w = np.ones_like(z)
    n = z.size
    n_fit = max(3, math.ceil(_HOLDOUT_FIT * n))
    for name in names:
        fam = FAMILIES[name]
        if fam.n_params > n:
            continue
        fit = _fit_family(fam, u, z, w, polish=polish)
        raw.pred[name] = float(_predict(fam, fit, raw.u_target)[0])
        ends = _predict(fam, fit, np.array([1.0 - _SLOPE_H, 1.0]))
        raw.fitted_last[name] = float(ends[1])
        raw.slope[name] = float(ends[1] - ends[0]) / _SLOPE_H
        raw.noise[name] = fit.rss / max(n - fam.n_params, 1)
        # a family without residual degrees of freedom or hold-out points is not scored
        raw.scored[name] = n > fam.n_params and n_fit >= fam.n_params and n > n_fit
        if raw.scored[name]:
            head = _fit_family(fam, u[:n_fit], z[:n_fit], w[:n_fit])
            err = _predict(fam, head, u[n_fit:]) - z[n_fit:]
            raw.holdout[name] = float(np.mean(err * err))
    return raw


def _combine(raw: _Raw, bounds: tuple[float | None, float | None] | None) -> Prediction:
    if raw.scale == 0.0 or not raw.pred:  # a flat curve, or no family fits so few points
        value = _clip(raw.last, bounds)
        return Prediction(value, math.inf, {}, {}, raw.last)
    names = list(raw.pred)
    # a family may not move further than (1 + log U) observed ranges past its fitted last value
    reach = 1.0 + math.log(max(raw.u_target, 1.0))
    pred = {k: float(np.clip(raw.pred[k], raw.fitted_last[k] - reach, raw.fitted_last[k] + reach))
            for k in names}
    # a Gaussian likelihood of the n points whose variance is the geometric mean of the
    # in-sample and hold-out errors, tempered by _SHARPNESS (the points are not independent)
    sharp = _SHARPNESS * raw.n
    scored = [k for k in names if raw.scored[k]]
    worst_noise = max((raw.noise[k] for k in scored), default=_UNKNOWN_MSE)
    worst_holdout = max((raw.holdout[k] for k in scored), default=_UNKNOWN_MSE)
    noise = {k: raw.noise[k] if raw.scored[k] else worst_noise for k in names}
    holdout = {k: raw.holdout[k] if raw.scored[k] else worst_holdout for k in names}
    logw = {k: -0.25 * sharp * (math.log(max(holdout[k], _MSE_FLOOR))
                                + math.log(max(noise[k], _MSE_FLOOR))) for k in names}
    top = max(logw.values())
    expw = {k: math.exp(v - top) for k, v in logw.items()}
    total = sum(expw.values())
    weights = {k: v / total for k, v in expw.items()}
    mean_z = sum(weights[k] * pred[k] for k in names)
    between = sum(weights[k] * (pred[k] - mean_z) ** 2 for k in names)
    resid = sum(weights[k] * noise[k] for k in names)
    held = sum(weights[k] * holdout[k] for k in names)
    gain = mean_z - sum(weights[k] * raw.fitted_last[k] for k in names)
    # continuing at the current slope is the most a concave (saturating) curve can gain; the
    # part of that the fit does not predict is uncertain, mostly while the curvature is unseen
    linear = sum(weights[k] * raw.slope[k] for k in names) * max(raw.u_target - 1.0, 0.0)
    log_u = math.log(max(raw.u_target, 1.0))
    var_z = (between + resid + _HOLDOUT_VAR * held * max(raw.u_target, 1.0)
             + (_GAIN_SD * gain) ** 2 + (_LOG_U_SD * log_u) ** 2
             + (_LINEAR_SD * max(linear - gain, 0.0)) ** 2)
    to_y = {k: _clip(raw.last + raw.sign * raw.scale * v, bounds) for k, v in pred.items()}
    mean = _clip(raw.last + raw.sign * raw.scale * mean_z, bounds)
    return Prediction(mean, raw.scale * math.sqrt(max(var_z, 0.0)), to_y, weights, raw.last)


def _clip(value: float, bounds: tuple[float | None, float | None] | None) -> float:
    if bounds is None:
        return float(value)
    lo, hi = bounds
    if lo is not None:
        value = max(value, lo)
    if hi is not None:
        value = min(value, hi)
    return float(value)

"""Python bridge to the repalign R package (choice models, CV, alignment models).

The functions below call the R functions of the same name through rpy2 on pandas
DataFrames and return pandas DataFrames, so that a Python user gets the same numbers
as ``Rscript analysis/fit_models.R``. R is started on first use, with the R package
looked up in ``$REPALIGN_RLIB`` (default: the project's ``.rlib``, where
``make install-rpkg`` installs it) ahead of R's own library paths.

Every error of the bridge is an :class:`RError`: errors raised in R (carrying R's
message, e.g. a formula that does not parse) and data that cannot be passed to R; a
missing R, rpy2 or R package is a :class:`RUnavailableError` (a subclass) that says
how to install it. Subprocesses that run R (the ``[r]`` stage, the dynamics GLMM) take
their environment from :func:`repalign.rlib.r_env`, the one place that locates the R
library.

Tables come back as pandas DataFrames; a fitted model comes back as an :class:`RFit`
handle that stays in R and can be passed back to R (``tidy()``, ``predict()``,
figures):

>>> from repalign import r
>>> cv = r.cv_choice_model(trials, method="kfold", k=5, by=["model", "layer"])
>>> scores = r.alignment_scores(cv, by=["model", "layer"])       # pseudo_r2, ci_low, ...
>>> fit = r.fit_alignment_model(r.alignment_data(scores, models, metrics))
>>> fit.tidy(); fit.predict(); fit.save_figure("size", data=r.alignment_data(scores, models, metrics))
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from repalign.children import embedding_r
from repalign.errors import RepalignError
from repalign.rlib import rlib_path

__all__ = [
    "RError",
    "RNote",
    "RUnavailableError",
    "RFit",
    "r_call",
    "save_figure",
    "check_r",
    "fit_choice_model",
    "cv_choice_model",
    "alignment_scores",
    "alignment_data",
    "fit_alignment_model",
    "model_level_correlations",
    "score_choice_models",
    "benchmark_table",
    "fit_benchmark_model",
    "dynamics_report",
]

_state: dict[str, Any] = {}


class RNote(UserWarning):
    """A note of the R stage on a value it adjusted (e.g. ``k`` folds capped at the
    number of participants: leave-one-participant-out)."""


class RError(RepalignError):
    """An error raised by R code; the message is R's."""


class RUnavailableError(RError):
    """R, rpy2 or the repalign R package cannot be found."""


def _robjects():
    """Start R (once) with the project library on the path; return rpy2.robjects."""
    if "ro" in _state:
        return _state["ro"]
    check_r()
    lib = rlib_path()
    # R reads R_LIBS when it starts: prepend the project library before rpy2 starts R.
    if lib is not None and lib.is_dir():
        old = os.environ.get("R_LIBS", "")
        if str(lib) not in old.split(os.pathsep):
            os.environ["R_LIBS"] = os.pathsep.join([str(lib)] + ([old] if old else []))
    try:
        with embedding_r():  # what R's start-up changes in os.environ is undone for child processes
            import rpy2.robjects as ro
            from rpy2.rinterface_lib import callbacks
    except ImportError as e:
        raise RUnavailableError(
            f"the R bridge needs rpy2 and a working R (>= 4.2): {e}. "
            "Install R, then `pip install 'rpy2>=3.5'` (or `make install`)"
        ) from e
    except Exception as e:  # rpy2 raises various errors when R itself is missing or broken
        raise RUnavailableError(f"cannot start R through rpy2: {e}. Is R installed and R_HOME correct?") from e
    # Keep R's console chatter (progress, messages) off the Python console.
    callbacks.consolewrite_print = lambda s: None
    callbacks.consolewrite_warnerror = lambda s: None
    if lib is not None and lib.is_dir():
        ro.r[".libPaths"](ro.StrVector([str(lib)] + list(ro.r[".libPaths"]())))
    _require_package("repalign", ro)
    _state["ro"] = ro
    return ro


def check_r() -> None:
    """Fail cleanly before rpy2 starts R: a missing R aborts the process instead."""
    r_home = os.environ.get("R_HOME")
    if r_home:
        if not (Path(r_home) / "bin" / "R").exists():
            raise RUnavailableError(
                f"R_HOME={r_home} holds no R installation (no bin/R); unset R_HOME or point it at R (>= 4.2)"
            )
    elif shutil.which("R") is None:
        raise RUnavailableError(
            "R is not installed (no `R` on PATH); install R >= 4.2 "
            "(`make install-r` on Debian/Ubuntu) to use repalign.r"
        )


def _require_package(name: str, ro=None) -> None:
    ro = ro or _robjects()
    ok = ro.r["requireNamespace"](name, quietly=True)[0]
    if not ok:
        raise RUnavailableError(
            f"R package {name!r} is not installed in {rlib_path() or 'REPALIGN_RLIB (unset)'} or R's library paths "
            f"({', '.join(ro.r['.libPaths']())}); run `make install-rpkg`"
        )


def _r_message(ro, err: Exception) -> str:
    msg = str(ro.r("geterrmessage()")[0]).strip() or str(err)
    msg = msg.removeprefix("Error: ").removeprefix("Error in ").strip()
    return " ".join(msg.split())


@contextmanager
def _r_errors(what: str):
    """Turn every failure of an rpy2 call into an RError naming ``what``: errors raised
    in R (with R's message) and conversion failures of the data passed to R."""
    from rpy2.rinterface_lib.embedded import RRuntimeError

    ro = _robjects()
    try:
        yield ro
    except RError:
        raise
    except RRuntimeError as e:
        raise RError(f"R error in {what}: {_r_message(ro, e)}") from None
    except (ValueError, TypeError, NotImplementedError, LookupError) as e:  # rpy2 conversion
        raise RError(f"{what}: cannot pass the data to R or back: {type(e).__name__}: {e}") from None


def _call(fname: str, *args, **kwargs) -> Any:
    """Call ``repalign::fname`` (or ``pkg::fname``) with pandas DataFrames converted
    to R data frames and :class:`RFit` handles passed as their R objects; an R data
    frame comes back as a pandas DataFrame, a vector as numpy, anything else (e.g. a
    fitted model) as the rpy2 object, unconverted, so that it can be passed back to
    R. Every failure is an RError (R's message for errors raised in R)."""
    from rpy2.robjects import pandas2ri
    from rpy2.robjects.conversion import localconverter

    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    name = fname if "::" in fname else f"repalign::{fname}"
    with _r_errors(name) as ro:
        fn = ro.r(name)
        with localconverter(ro.default_converter + pandas2ri.converter):
            r_args = [_to_r(a) for a in args]
            r_kwargs = {k: _to_r(v) for k, v in kwargs.items()}
        # called without the pandas converter: the result stays an R object until we
        # know what it is (rpy2 turns an R list into an OrdDict it cannot pass back)
        res = fn(*r_args, **r_kwargs)
        if isinstance(
            res,
            (
                ro.vectors.DataFrame,
                ro.vectors.FloatVector,
                ro.vectors.IntVector,
                ro.vectors.BoolVector,
                ro.vectors.StrVector,
            ),
        ):
            with localconverter(ro.default_converter + pandas2ri.converter):
                res = ro.conversion.get_conversion().rpy2py(res)
    if isinstance(res, pd.DataFrame):
        res = res.reset_index(drop=True)
    return res


def _to_r(x: Any) -> Any:
    """One argument for R: an RFit handle as its R object; pandas and Python
    scalars through rpy2's active converter; R objects as they are."""
    import rpy2.rinterface as ri
    from rpy2.robjects.conversion import get_conversion

    if isinstance(x, RFit):
        return x.robj
    if isinstance(x, ri.Sexp):
        return x
    return get_conversion().py2rpy(x)


class RFit:
    """A fitted R model held in the R session, handed to Python.

    Returned by :func:`fit_choice_model` and :func:`fit_alignment_model`. It can be
    passed back to any ``repalign.r`` function or to :func:`r_call` (it goes to R as
    the R object itself), and offers what a Python user needs of it:

    * :meth:`tidy` — the coefficient table (pandas);
    * :meth:`predict` — population-level predictions (numpy, one per row);
    * :attr:`diagnostics` — converged, singular, messages (and notes);
    * :meth:`save_figure` — a figure of the fit (``plot_coefficients``; for a
      model-level alignment fit also ``plot_alignment_vs_size`` with its lines).

    ``robj`` is the rpy2 object (an R ``repalign_alignment_fit`` list, or the
    ``glmerMod``/``brmsfit`` of a choice model); ``kind`` is ``"alignment"`` or
    ``"choice"``.
    """

    def __init__(self, robj: Any, kind: str):
        self.robj = robj
        self.kind = kind

    def __repr__(self) -> str:
        d = self.diagnostics
        what = (
            f"{self._field('level')}-level alignment model ({self._field('engine')})"
            if self.kind == "alignment"
            else "choice model"
        )
        return f"<repalign.r.RFit: {what}; converged={d.get('converged')}, singular={d.get('singular')}>"

    def _field(self, name: str) -> Any:
        ro = _robjects()
        return ro.r("function(x, n) x[[n]]")(self.robj, name)[0]

    def tidy(self) -> pd.DataFrame:
        """The tidy coefficient table (``tidy_alignment_model`` or ``tidy_choice_model``)."""
        return _call("tidy_alignment_model" if self.kind == "alignment" else "tidy_choice_model", self)

    def predict(self, newdata: pd.DataFrame | None = None):
        """Population-level predictions (random effects at 0), one per row of
        ``newdata`` (default: the rows the model was fitted on). Alignment fits:
        ``predict.repalign_alignment_fit`` (expected pseudo-R², or P(choice = 1) at
        the trial level). Choice fits: P(choice = 1) with ``newdata``'s ``value``
        standardised with the fit's centre and scale (``attr(fit, "standardisation")``)."""
        import numpy as np

        ro = _robjects()
        if self.kind == "alignment":
            out = _call("stats::predict", self, newdata=None if newdata is None else _df(newdata, "newdata"))
        else:
            fn = ro.r("""function(fit, newdata) {
              if (is.null(newdata)) return(as.numeric(stats::fitted(fit)))
              s <- attr(fit, "standardisation")
              newdata$value <- (newdata$value - s[["center"]]) / s[["scale"]]
              as.numeric(stats::predict(fit, newdata = newdata, re.form = NA, type = "response"))
            }""")
            with _r_errors("predict (choice model)"):
                from rpy2.robjects import pandas2ri
                from rpy2.robjects.conversion import localconverter

                with localconverter(ro.default_converter + pandas2ri.converter):
                    nd = ro.NULL if newdata is None else _to_r(_df(newdata, "newdata"))
                out = fn(self.robj, nd)
        return np.asarray(out, dtype=float)

    @property
    def diagnostics(self) -> dict[str, Any]:
        """``converged``, ``singular`` and ``messages`` (alignment fits also
        ``notes``) of the fit."""
        ro = _robjects()
        get = ro.r("""function(x) {
          d <- if (inherits(x, "repalign_alignment_fit")) x$diagnostics else attr(x, "diagnostics")
          list(converged = isTRUE(d$converged), singular = isTRUE(d$singular),
               messages = paste(d$messages, collapse = "; "), notes = paste(d$notes, collapse = "; "))
        }""")
        d = get(self.robj)
        return {k: d.rx2(k)[0] for k in ("converged", "singular", "messages", "notes")}

    def save_figure(
        self, stem: str | os.PathLike, *, data: pd.DataFrame | None = None, width: float = 7, height: float = 5
    ) -> list[Path]:
        """Write a figure of this fit as ``stem.pdf`` and ``stem.png``: with
        ``data`` (the :func:`alignment_data` of scores) and a model-level alignment
        fit, ``plot_alignment_vs_size(data, fit)`` (points and the fit's lines);
        else ``plot_coefficients`` of its tidy table. Returns the two paths."""
        if data is not None:
            if self.kind != "alignment":
                raise RError("save_figure(data=...): plots alignment against training size; needs an alignment fit")
            return save_figure("plot_alignment_vs_size", stem, _df(data, "data"), fit=self, width=width, height=height)
        return save_figure("plot_coefficients", stem, self.tidy(), width=width, height=height)


def r_call(fname: str, *args, **kwargs) -> Any:
    """Call any function of the R package (``"plot_learning_curves"``) or of another
    package (``"stats::AIC"``) with pandas tables and :class:`RFit` handles; data
    frames come back as pandas, other R objects as rpy2 objects."""
    _robjects()
    return _call(fname, *args, **kwargs)


def save_figure(plot: str, stem: str | os.PathLike, *args, width: float = 7, height: float = 5, **kwargs) -> list[Path]:
    """Draw ``repalign::<plot>(*args, **kwargs)`` (e.g. ``"plot_coefficients"``,
    ``"plot_alignment_vs_size"`` with ``fit=`` an :class:`RFit`) and write it with
    ``repalign::save_figure`` to ``stem.pdf`` and ``stem.png``; returns the paths."""
    _robjects()
    p = _call(plot, *args, **kwargs)
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    _call("save_figure", p, str(stem), width=float(width), height=float(height))
    return [stem.with_suffix(".pdf"), stem.with_suffix(".png")]


def _df(data: pd.DataFrame, what: str) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(data).__name__}")
    out = data.copy()
    out.attrs = {}
    # Strings as plain objects, categories as strings: rpy2 converts these to character.
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(out[c].dtype):
            out[c] = out[c].astype(object)
    return out.reset_index(drop=True)


def _formula(f: str | None):
    if f is None:
        return None
    if not isinstance(f, str):
        raise RError(
            f"formula must be a string such as 'choice ~ 0 + value + (0 + value | participant)', got {type(f).__name__}"
        )
    with _r_errors(f"formula {f!r}"):
        from rpy2.robjects import Formula

        return Formula(f)


def _strs(x: Sequence[str]):
    import rpy2.robjects as ro

    return ro.StrVector(list(x))


def fit_choice_model(trials: pd.DataFrame, formula: str | None = None) -> RFit:
    """Fit the choice model (``repalign::fit_choice_model``) on one (model, layer, task)
    trial table; return an :class:`RFit` handle: ``.tidy()`` is its fixed-effects
    table (term, estimate, std.error, statistic, p.value, conf.low, conf.high,
    converged, singular, messages), ``.predict(newdata)`` P(choice = 1)."""
    _robjects()
    return RFit(_call("fit_choice_model", _df(trials, "trials"), formula=_formula(formula)), "choice")


def cv_choice_model(
    trials: pd.DataFrame,
    *,
    method: str = "kfold",
    k: int = 5,
    seed: int = 1,
    by: Sequence[str] = ("model", "layer", "task"),
    loo: str = "fast",
    workers: int = 1,
    formula: str | None = None,
) -> pd.DataFrame:
    """Out-of-sample choice probabilities (``repalign::cv_choice_model``): one row per
    trial with ``prob`` = P(choice = 1) from a model that never saw the trial."""
    _robjects()
    return _call(
        "cv_choice_model",
        _df(trials, "trials"),
        formula=_formula(formula),
        method=method,
        k=int(k),
        seed=int(seed),
        by=_strs(by),
        loo=loo,
        workers=int(workers),
    )


def alignment_scores(
    cv: pd.DataFrame,
    *,
    by: Sequence[str] = ("model", "layer", "task"),
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 1,
) -> pd.DataFrame:
    """NLL and pseudo-R² = 1 − NLL/NLL(chance) with participant-bootstrap CIs
    (``repalign::alignment_scores``)."""
    _robjects()
    return _call(
        "alignment_scores", _df(cv, "cv"), by=_strs(by), n_boot=int(n_boot), level=float(level), seed=int(seed)
    )


def score_choice_models(
    trials: pd.DataFrame,
    *,
    method: str = "kfold",
    k: int = 5,
    seed: int = 1,
    by: Sequence[str] = ("model", "layer", "task"),
    n_boot: int = 1000,
    workers: int = 1,
) -> pd.DataFrame:
    """Cross-validate and score in one call: ``alignment_scores(cv_choice_model(...))``."""
    cv = cv_choice_model(trials, method=method, k=k, seed=seed, by=by, workers=workers)
    return alignment_scores(cv, by=by, n_boot=n_boot, seed=seed)


def alignment_data(
    data: pd.DataFrame,
    models: pd.DataFrame,
    metrics: pd.DataFrame | None = None,
    *,
    id_metric: str = "dimensionality_twonn",
    id_dataset: str | None = None,
) -> pd.DataFrame:
    """Join scores or trials with model metadata and intrinsic dimensionality
    (``repalign::alignment_data``)."""
    _robjects()
    return _call(
        "alignment_data",
        _df(data, "data"),
        _df(models, "models"),
        metrics=None if metrics is None else _df(metrics, "metrics"),
        id_metric=id_metric,
        id_dataset=id_dataset,
    )


def fit_alignment_model(
    data: pd.DataFrame,
    *,
    level: str = "model",
    engine: str = "lme4",
    formula: str | None = None,
    chains: int = 4,
    iter: int = 2000,
    seed: int = 1,
    cache_dir: str | os.PathLike | None = None,
    min_models_per_effect: float = 5,
) -> RFit:
    """Fit a hierarchical alignment model (``repalign::fit_alignment_model``); return
    an :class:`RFit` handle. ``.tidy()`` is its coefficient table (level, engine,
    term, estimate, std.error, conf.low, conf.high, p.value, n_models, n_fixed,
    inference, converged, singular, messages, note); ``.predict(newdata)`` its
    population-level predictions; ``.save_figure(stem, data=ad)`` the figure of
    alignment against training size with the fit's lines. With fewer than
    ``min_models_per_effect`` models per fixed effect the fit is saturated:
    estimates only (``inference == "none"``), the reason in ``note``."""
    _robjects()
    return RFit(
        _call(
            "fit_alignment_model",
            _df(data, "data"),
            level=level,
            engine=engine,
            formula=_formula(formula),
            chains=int(chains),
            iter=int(iter),
            seed=int(seed),
            cache_dir=None if cache_dir is None else str(cache_dir),
            min_models_per_effect=float(min_models_per_effect),
        ),
        "alignment",
    )


def model_level_correlations(
    data: pd.DataFrame,
    *,
    predictors: dict[str, str] | None = None,
    by: str | None = "objective",
    objectives: Sequence[str] | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 1,
    min_models: int = 5,
) -> pd.DataFrame:
    """Spearman rho (scipy's p-value) with percentile-bootstrap CIs over models between
    alignment (pseudo-R² averaged over tasks) and each model property, pooled and per
    ``by`` level (``repalign::model_level_correlations``; Demircan et al. 2024,
    candemircan/naturalcogsci ``bin/fig5.ipynb``, ``bin/fig4_12.ipynb``). ``data``:
    :func:`alignment_data` of alignment scores. Returns group, predictor, n_models,
    rho, p.value, conf.low, conf.high, n_boot, note."""
    import rpy2.robjects as ro

    _robjects()
    preds = None
    if predictors is not None:
        preds = ro.StrVector(list(predictors.values()))
        preds.names = ro.StrVector(list(predictors.keys()))
    return _call(
        "model_level_correlations",
        _df(data, "data"),
        predictors=preds,
        by=ro.NULL if by is None else by,
        objectives=None if objectives is None else _strs(objectives),
        n_boot=int(n_boot),
        level=float(level),
        seed=int(seed),
        min_models=int(min_models),
    )


def benchmark_table(metrics: pd.DataFrame | None = None, scores: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every alignment measure of a run as one tidy table on a common scale
    (``repalign::benchmark_table``): one row per (model, layer, benchmark, measure) with
    the raw value, CI, standard error, chance and ceiling, and ``scaled`` =
    (value − chance) / (ceiling − chance) where both exist, else standardised over
    the benchmark's models. ``metrics``: metrics tables bound together; ``scores``:
    learner alignment scores (:func:`alignment_scores`). Schema in docs/tables.md."""
    _robjects()
    return _call(
        "benchmark_table",
        metrics=None if metrics is None else _df(metrics, "metrics"),
        scores=None if scores is None else _df(scores, "scores"),
    )


def fit_benchmark_model(
    table: pd.DataFrame,
    models: pd.DataFrame,
    metrics: pd.DataFrame | None = None,
    *,
    engine: str = "lme4",
    formula: str | None = None,
    id_metric: str = "dimensionality_twonn",
    id_dataset: str | None = None,
    chains: int = 4,
    iter: int = 2000,
    seed: int = 1,
    min_models_per_effect: float = 5,
) -> dict[str, pd.DataFrame]:
    """One hierarchical model across every benchmark (``repalign::fit_benchmark_model``):
    ``scaled ~ log10(train_size + 1) * objective + scale(intrinsic_dim) + (1 | model) +
    (1 + log10(train_size + 1) | benchmark)``; brms models each row's standard error
    (``se()``). Returns ``{"coefficients": tidy fixed effects (inference "none" when
    saturated), "slopes": per-benchmark training-size slopes, partial pooling beside no
    pooling, "data": the table joined with model metadata}``."""
    _robjects()
    data = _call(
        "benchmark_data",
        _df(table, "table"),
        _df(models, "models"),
        metrics=None if metrics is None else _df(metrics, "metrics"),
        id_metric=id_metric,
        id_dataset=id_dataset,
    )
    with _r_errors("repalign::fit_benchmark_model") as ro:
        from rpy2.robjects import pandas2ri
        from rpy2.robjects.conversion import localconverter

        with localconverter(ro.default_converter + pandas2ri.converter):
            rdata = ro.conversion.get_conversion().py2rpy(_df(data, "data"))
        kwargs = dict(
            engine=engine,
            chains=int(chains),
            iter=int(iter),
            seed=int(seed),
            min_models_per_effect=float(min_models_per_effect),
        )
        if formula is not None:
            kwargs["formula"] = _formula(formula)
        fit = ro.r("repalign::fit_benchmark_model")(rdata, **kwargs)
        coefs = _call("tidy_alignment_model", fit)
        slopes = _call("benchmark_slopes", fit)
    return {"coefficients": coefs, "slopes": slopes, "data": data}


def dynamics_report(
    trials: pd.DataFrame, outdir: str | os.PathLike, *, nagq: int = 0, lag: pd.DataFrame | None = None
) -> Path:
    """The learning-dynamics GLMM report (``repalign::dynamics_report``; Huber et al.):
    fits ``fit_dynamics_glmm`` on the trials (a dynamics table) and writes
    ``glmm.csv`` (tidy fixed effects), ``slopes.csv``, ``curves.pdf`` and, with the
    generalisation-lag table ``lag``, ``lag.pdf`` into ``outdir``. Returns ``glmm.csv``."""
    _robjects()
    _call(
        "dynamics_report",
        _df(trials, "trials"),
        str(outdir),
        nAGQ=int(nagq),
        lag=None if lag is None else _df(lag, "lag"),
    )
    return Path(outdir) / "glmm.csv"

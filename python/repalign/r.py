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
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from repalign.children import embedding_r
from repalign.errors import RepalignError
from repalign.rlib import PROJECT_ROOT as _PROJECT_ROOT
from repalign.rlib import r_code_key, r_env, rlib_path, run_child  # noqa: F401 (re-exported)

__all__ = [
    "RError", "RNote", "RUnavailableError", "RFit", "r_call", "save_figure", "rlib_path", "r_env", "fit_choice_model",
    "cv_choice_model", "alignment_scores",
    "alignment_data", "fit_alignment_model", "model_level_correlations", "score_choice_models", "plan_r",
    "run_fit_models", "benchmark_table", "fit_benchmark_model",
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
    _check_r()
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


def _check_r() -> None:
    """Fail cleanly before rpy2 starts R: a missing R aborts the process instead."""
    r_home = os.environ.get("R_HOME")
    if r_home:
        if not (Path(r_home) / "bin" / "R").exists():
            raise RUnavailableError(f"R_HOME={r_home} holds no R installation (no bin/R); "
                                    "unset R_HOME or point it at R (>= 4.2)")
    elif shutil.which("R") is None:
        raise RUnavailableError("R is not installed (no `R` on PATH); install R >= 4.2 "
                                "(`make install-r` on Debian/Ubuntu) to use repalign.r")


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
        if isinstance(res, (ro.vectors.DataFrame, ro.vectors.FloatVector, ro.vectors.IntVector,
                            ro.vectors.BoolVector, ro.vectors.StrVector)):
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
        what = f"{self._field('level')}-level alignment model ({self._field('engine')})" if self.kind == "alignment" \
            else "choice model"
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

    def save_figure(self, stem: str | os.PathLike, *, data: pd.DataFrame | None = None, width: float = 7,
                    height: float = 5) -> list[Path]:
        """Write a figure of this fit as ``stem.pdf`` and ``stem.png``: with
        ``data`` (the :func:`alignment_data` of scores) and a model-level alignment
        fit, ``plot_alignment_vs_size(data, fit)`` (points and the fit's lines);
        else ``plot_coefficients`` of its tidy table. Returns the two paths."""
        if data is not None:
            if self.kind != "alignment":
                raise RError("save_figure(data=...): plots alignment against training size; needs an alignment fit")
            return save_figure("plot_alignment_vs_size", stem, _df(data, "data"), fit=self, width=width,
                               height=height)
        return save_figure("plot_coefficients", stem, self.tidy(), width=width, height=height)


def r_call(fname: str, *args, **kwargs) -> Any:
    """Call any function of the R package (``"plot_learning_curves"``) or of another
    package (``"stats::AIC"``) with pandas tables and :class:`RFit` handles; data
    frames come back as pandas, other R objects as rpy2 objects."""
    _robjects()
    return _call(fname, *args, **kwargs)


def save_figure(plot: str, stem: str | os.PathLike, *args, width: float = 7, height: float = 5,
                **kwargs) -> list[Path]:
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
        raise RError(f"formula must be a string such as 'choice ~ 0 + value + (0 + value | participant)', "
                     f"got {type(f).__name__}")
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


def cv_choice_model(trials: pd.DataFrame, *, method: str = "kfold", k: int = 5, seed: int = 1,
                    by: Sequence[str] = ("model", "layer", "task"), loo: str = "fast", workers: int = 1,
                    formula: str | None = None) -> pd.DataFrame:
    """Out-of-sample choice probabilities (``repalign::cv_choice_model``): one row per
    trial with ``prob`` = P(choice = 1) from a model that never saw the trial."""
    _robjects()
    return _call("cv_choice_model", _df(trials, "trials"), formula=_formula(formula), method=method, k=int(k),
                 seed=int(seed), by=_strs(by), loo=loo, workers=int(workers))


def alignment_scores(cv: pd.DataFrame, *, by: Sequence[str] = ("model", "layer", "task"), n_boot: int = 1000,
                     level: float = 0.95, seed: int = 1) -> pd.DataFrame:
    """NLL and pseudo-R² = 1 − NLL/NLL(chance) with participant-bootstrap CIs
    (``repalign::alignment_scores``)."""
    _robjects()
    return _call("alignment_scores", _df(cv, "cv"), by=_strs(by), n_boot=int(n_boot), level=float(level),
                 seed=int(seed))


def score_choice_models(trials: pd.DataFrame, *, method: str = "kfold", k: int = 5, seed: int = 1,
                        by: Sequence[str] = ("model", "layer", "task"), n_boot: int = 1000,
                        workers: int = 1) -> pd.DataFrame:
    """Cross-validate and score in one call: ``alignment_scores(cv_choice_model(...))``."""
    cv = cv_choice_model(trials, method=method, k=k, seed=seed, by=by, workers=workers)
    return alignment_scores(cv, by=by, n_boot=n_boot, seed=seed)


def alignment_data(data: pd.DataFrame, models: pd.DataFrame, metrics: pd.DataFrame | None = None, *,
                   id_metric: str = "dimensionality_twonn", id_dataset: str | None = None) -> pd.DataFrame:
    """Join scores or trials with model metadata and intrinsic dimensionality
    (``repalign::alignment_data``)."""
    _robjects()
    return _call("alignment_data", _df(data, "data"), _df(models, "models"),
                 metrics=None if metrics is None else _df(metrics, "metrics"), id_metric=id_metric,
                 id_dataset=id_dataset)


def fit_alignment_model(data: pd.DataFrame, *, level: str = "model", engine: str = "lme4",
                        formula: str | None = None, chains: int = 4, iter: int = 2000, seed: int = 1,
                        cache_dir: str | os.PathLike | None = None,
                        min_models_per_effect: float = 5) -> RFit:
    """Fit a hierarchical alignment model (``repalign::fit_alignment_model``); return
    an :class:`RFit` handle. ``.tidy()`` is its coefficient table (level, engine,
    term, estimate, std.error, conf.low, conf.high, p.value, n_models, n_fixed,
    inference, converged, singular, messages, note); ``.predict(newdata)`` its
    population-level predictions; ``.save_figure(stem, data=ad)`` the figure of
    alignment against training size with the fit's lines. With fewer than
    ``min_models_per_effect`` models per fixed effect the fit is saturated:
    estimates only (``inference == "none"``), the reason in ``note``."""
    _robjects()
    return RFit(_call("fit_alignment_model", _df(data, "data"), level=level, engine=engine, formula=_formula(formula),
                      chains=int(chains), iter=int(iter), seed=int(seed),
                      cache_dir=None if cache_dir is None else str(cache_dir),
                      min_models_per_effect=float(min_models_per_effect)), "alignment")


def model_level_correlations(data: pd.DataFrame, *, predictors: dict[str, str] | None = None,
                             by: str | None = "objective", objectives: Sequence[str] | None = None,
                             n_boot: int = 1000, level: float = 0.95, seed: int = 1,
                             min_models: int = 5) -> pd.DataFrame:
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
    return _call("model_level_correlations", _df(data, "data"), predictors=preds,
                 by=ro.NULL if by is None else by, objectives=None if objectives is None else _strs(objectives),
                 n_boot=int(n_boot), level=float(level), seed=int(seed), min_models=int(min_models))



def benchmark_table(metrics: pd.DataFrame | None = None, scores: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every alignment measure of a run as one tidy table on a common scale
    (``repalign::benchmark_table``): one row per (model, layer, benchmark, measure) with
    the raw value, CI, standard error, chance and ceiling, and ``scaled`` =
    (value − chance) / (ceiling − chance) where both exist, else standardised over
    the benchmark's models. ``metrics``: metrics tables bound together; ``scores``:
    learner alignment scores (:func:`alignment_scores`). Schema in docs/tables.md."""
    _robjects()
    return _call("benchmark_table", metrics=None if metrics is None else _df(metrics, "metrics"),
                 scores=None if scores is None else _df(scores, "scores"))


def fit_benchmark_model(table: pd.DataFrame, models: pd.DataFrame, metrics: pd.DataFrame | None = None, *,
                        engine: str = "lme4", formula: str | None = None, id_metric: str = "dimensionality_twonn",
                        id_dataset: str | None = None, chains: int = 4, iter: int = 2000, seed: int = 1,
                        min_models_per_effect: float = 5) -> dict[str, pd.DataFrame]:
    """One hierarchical model across every benchmark (``repalign::fit_benchmark_model``):
    ``scaled ~ log10(train_size + 1) * objective + scale(intrinsic_dim) + (1 | model) +
    (1 + log10(train_size + 1) | benchmark)``; brms models each row's standard error
    (``se()``). Returns ``{"coefficients": tidy fixed effects (inference "none" when
    saturated), "slopes": per-benchmark training-size slopes, partial pooling beside no
    pooling, "data": the table joined with model metadata}``."""
    _robjects()
    data = _call("benchmark_data", _df(table, "table"), _df(models, "models"),
                 metrics=None if metrics is None else _df(metrics, "metrics"), id_metric=id_metric,
                 id_dataset=id_dataset)
    with _r_errors("repalign::fit_benchmark_model") as ro:
        from rpy2.robjects import pandas2ri
        from rpy2.robjects.conversion import localconverter

        with localconverter(ro.default_converter + pandas2ri.converter):
            rdata = ro.conversion.get_conversion().py2rpy(_df(data, "data"))
        kwargs = dict(engine=engine, chains=int(chains), iter=int(iter), seed=int(seed),
                      min_models_per_effect=float(min_models_per_effect))
        if formula is not None:
            kwargs["formula"] = _formula(formula)
        fit = ro.r("repalign::fit_benchmark_model")(rdata, **kwargs)
        coefs = _call("tidy_alignment_model", fit)
        slopes = _call("benchmark_slopes", fit)
    return {"coefficients": coefs, "slopes": slopes, "data": data}


# ---- pipeline stage: the [r] config section -----------------------------------------------

# keys and defaults of the [r] section: repalign.r_config.RSection


def plan_r(config, upstream: Sequence[Any] = ()) -> list:
    """One task running ``Rscript analysis/fit_models.R`` on the run's tables.

    ``[r]`` keys (all optional): ``input`` (directory of tables; default: the Parquet
    outputs of ``upstream`` tasks, else the run's output directory), ``models``
    (metadata CSV), ``engine`` (lme4|brms), ``levels`` (["model", "trial"]), ``cv`` (kfold|loo), ``k``, ``by`` (list of
    columns), ``n_boot``, ``seed`` (default: the run's), ``id_metric``, ``id_dataset``,
    ``chains``, ``iter``, ``workers``. The task is keyed by these options, the keys of
    the upstream tasks (content keys), the sha256 of the model metadata file and of
    the tables under ``input``, and the R code (``r_code_key``: installed package
    version, sha256 of its sources and of the script); it writes
    ``<output>/r/<key>/`` atomically, sealed by a manifest (``summary.txt`` is the
    task's output).
    """
    import hashlib
    import json

    from repalign.config import parse_section
    from repalign.errors import ValidationError
    from repalign.r_config import RSection
    from repalign.task import Task

    from repalign.models.spec import models_csv as _models_csv

    sec = config.section("r", {})
    opts = parse_section(RSection, {} if sec is None else sec, "[r]").options(config.seed)
    for name in ("input", "models"):
        if name in opts:
            opts[name] = str(config.resolve(opts[name]))
    inputs = sorted(str(p) for t in upstream for p in t.outputs if str(p).endswith(".parquet"))
    if "input" not in opts and not inputs:
        opts["input"] = str(config.output)
    # the metadata file fit_models.R would pick, named explicitly so that key and script agree;
    # the curated table is the one the Python side reads ($REPALIGN_MODELS_CSV, else the package's)
    if "models" not in opts:
        curated = _models_csv()
        if os.environ.get("REPALIGN_MODELS_CSV") and not curated.is_file():
            raise ValidationError(f"REPALIGN_MODELS_CSV: no model metadata file at {curated}")
        for cand in ([Path(opts["input"]) / "models.csv"] if "input" in opts and not inputs else []) + [curated]:
            if cand.is_file():
                opts["models"] = str(cand)
                break
    content = _r_input_content(opts, exclude=Path(config.output) / "r")
    # the metadata file's path is left out: its content is in the key
    ident = json.dumps({"options": {k: v for k, v in opts.items() if k != "models"}, "upstream": sorted(t.key for t in upstream), "content": content,
                        "code": r_code_key()}, sort_keys=True)
    key = hashlib.sha256(ident.encode()).hexdigest()[:16]
    out = Path(config.output) / "r" / key
    return [Task(key=f"r:{key}", stage="r", outputs=(out / "summary.txt",), fn=run_fit_models,
                 kwargs={"output": str(out), "options": opts, "inputs": inputs},
                 deps=tuple(t.key for t in upstream), label=f"R models ({opts['engine']})")]


def _r_input_content(opts: dict, exclude: Path) -> dict:
    """sha256 of what the R stage reads besides upstream tables (which are keyed by
    their tasks): the model metadata file and every Parquet table under ``input``
    (the R stage's own outputs, under ``exclude``, left out)."""
    from repalign.errors import ValidationError
    from repalign.store import PARTS_MARKER, file_sha256, files_sha256, is_temporary

    content = {}
    if opts.get("models"):
        path = Path(opts["models"])
        if not path.is_file():
            raise ValidationError(f"[r] models: no model metadata file at {path}")
        content["models"] = file_sha256(path)
    if opts.get("input"):
        root = Path(opts["input"])
        if not root.is_dir():
            raise ValidationError(f"[r] input: {root} is not a directory")
        tables = [p for p in root.rglob("*.parquet")
                  if exclude not in p.parents and not is_temporary(p) and not (p.parent / PARTS_MARKER).is_file()]
        content["input"] = files_sha256(tables, root)
    return content


NOTHING_TO_FIT_STATUS = 3  # fit_models.R's exit status when the tables hold nothing to fit


def nothing_to_fit_note(stderr: str) -> str:
    """The one line that reports an ``[r]`` stage with nothing to do, from the
    ``nothing to fit: …`` line of ``fit_models.R`` (the temporary input directory
    left out of it)."""
    line = next((ln for ln in reversed(stderr.splitlines()) if ln.startswith("nothing to fit")), "")
    found = line.rsplit("(found ", 1)[1].rstrip(")") if "(found " in line else "no such tables"
    return (f"[r] nothing to fit, stage skipped: the run's tables hold no trials with human choices, no dynamics "
            f"and no decisions tables (found {found}); [[learners]] with human choices, [dynamics] or a "
            f"classification metric give it something to fit")


def fit_models_flags(options: dict) -> list[str]:
    """The ``fit_models.R`` flags of the ``[r]`` options (every ``RSection`` key but
    ``input``, which the stage stages itself): ``--<key with - for _> <value>``, lists
    comma-joined (``levels = []`` → ``none``: no hierarchical alignment models)."""
    from repalign.r_config import RSection, r_flag

    args: list[str] = []
    for key in RSection.model_fields:
        value = options.get(key)
        if key == "input" or value is None or (key == "by" and not value):
            continue
        if isinstance(value, list):
            value = ",".join(value) or "none"
        args += [r_flag(key), str(value)]
    return args


def run_fit_models(output: str, options: dict, inputs: Sequence[str] = ()) -> Path:
    """Run ``analysis/fit_models.R`` into ``output`` atomically (a partial directory
    renamed into place); the script's summary goes to ``summary.txt``. When the
    tables hold nothing to fit (exit status 3: e.g. metrics only, no human
    choices) the stage is done with nothing to do: ``summary.txt`` and
    ``warnings.txt`` hold one line saying so (the report shows it), also printed."""
    import shutil as _sh

    from repalign.store import publish_dir, temp_name

    if _PROJECT_ROOT is None:
        raise RUnavailableError("the [r] stage runs analysis/fit_models.R of a source checkout; this repalign is an "
                                "installed wheel: run the study from a checkout (git clone … && make install)")
    script = _PROJECT_ROOT / "analysis" / "fit_models.R"
    if not script.is_file():
        raise RUnavailableError(f"R analysis script not found: {script}")
    _check_r()
    out = Path(output)
    tmp = temp_name(out)  # this writer's own directory: r/.repalign-tmp/<key>.<pid>-<random>
    tmp.mkdir(parents=True)
    try:
        if inputs:
            staging = tmp / "_input"
            staging.mkdir()
            for i, p in enumerate(inputs):
                (staging / f"{i:03d}-{Path(p).name}").symlink_to(Path(p).resolve())
            input_dir = staging
        else:
            input_dir = Path(options["input"])
        args = ["Rscript", str(script), "--input", str(input_dir), "--output", str(tmp), *fit_models_flags(options)]
        proc = run_child(args, env=r_env(), cwd=_PROJECT_ROOT)
        if proc.returncode == NOTHING_TO_FIT_STATUS:
            # a stage with nothing to do (e.g. metrics only, no human choices): one line, not a failure
            note = nothing_to_fit_note(proc.stderr)
            if inputs:
                _sh.rmtree(tmp / "_input")
            (tmp / "summary.txt").write_text(note + "\n")
            (tmp / "warnings.txt").write_text(note + "\n")
            publish_dir(tmp, out)
            print(note, file=sys.stderr)
            return out
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-8:])
            raise RError(f"Rscript analysis/fit_models.R failed (exit {proc.returncode}):\n{tail}")
        if inputs:
            _sh.rmtree(tmp / "_input")
        # R's notes (e.g. k capped at the number of participants) go to the summary and
        # to the caller as warnings, which the run shows once
        notes = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip().startswith("note: ")]
        for note in dict.fromkeys(notes):
            warnings.warn(f"[r] {note}", RNote, stacklevel=2)
        (tmp / "summary.txt").write_text(proc.stdout + "".join(f"{n}\n" for n in dict.fromkeys(notes)))
        publish_dir(tmp, out)
    finally:
        _sh.rmtree(tmp, ignore_errors=True)
    return out


# ---- the cross-benchmark model as a result family (console lines, report section) ------------
def _benchmark_lines(summary: Path) -> list[str]:
    """The R stage's ``benchmark_model <term> <estimate> [<lo>, <hi>] benchmarks <B> models <M>``
    lines (from its summary.txt)."""
    return [ln for ln in Path(summary).read_text(errors="replace").splitlines() if ln.startswith("benchmark_model ")]


def _benchmark_section(metrics: pd.DataFrame, roots: Sequence[Path]) -> str:
    """The report's "what predicts alignment across benchmarks" section: the fixed effects and the
    per-benchmark slopes (partial pooling beside no pooling) of the R stage, when it fitted the model."""
    import html

    from repalign.families import files_under, table_html

    coefs = files_under(roots, "benchmark_coefficients.csv")
    if not coefs:
        return ""
    tab = pd.read_csv(coefs[-1])
    keep = [c for c in ("term", "estimate", "conf.low", "conf.high", "inference", "n_models", "note") if c in tab]
    parts = ['<section id="benchmark-model"><h2>What predicts alignment across benchmarks</h2>',
             "<p>One hierarchical model over every benchmark of the run (docs/r.md §3b): alignment on a common "
             "scale ~ log10(training images + 1) × objective + intrinsic dimensionality + (1 | model) + "
             "(1 + log10(training images + 1) | benchmark).</p>", table_html(tab[keep])]
    for png in files_under(roots, "benchmark_slopes.png")[-1:]:
        import base64

        data = base64.b64encode(png.read_bytes()).decode()
        parts.append(f'<figure><img alt="per-benchmark slopes" src="data:image/png;base64,{data}">'
                     "<figcaption>Each benchmark's training-size slope: partial pooling (blue, the hierarchical "
                     "model) beside the benchmark's own fit (grey, no pooling); 95% intervals.</figcaption></figure>")
    slopes = files_under(roots, "benchmark_slopes.csv")
    if slopes:
        parts.append("<details><summary>Per-benchmark slopes</summary>"
                     + table_html(pd.read_csv(slopes[-1])) + "</details>")
    parts.append("</section>")
    return "\n".join(p if p.startswith("<") else html.escape(p) for p in parts)


def _register_benchmark_family() -> None:
    from repalign.families import ResultFamily, register

    register(ResultFamily(name="benchmark_model", title="What predicts alignment across benchmarks",
                          task_prefix="r:", read=Path, summary_lines=_benchmark_lines,
                          report_section=_benchmark_section))


_register_benchmark_family()

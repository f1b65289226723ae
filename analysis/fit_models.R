#!/usr/bin/env Rscript
# Fit the repalign R models on the tables of a run and write tables and figures:
# a command-line wrapper of repalign::fit_run() (see ?fit_run and docs/r.md).
#
#   R_LIBS=.rlib Rscript analysis/fit_models.R --input DIR --output DIR [--engine lme4|brms]
#
# Reads the run's tables (trials, metrics, dynamics, decisions) and model metadata and
# writes the choice models, alignment scores, model-level statistics, alignment models,
# learning-dynamics GLMM and accuracy GLMMs (see ?fit_run for the files).
# Without the R package 'arrow', Parquet is read through reticulate with the first
# Python that has repalign and pyarrow: RETICULATE_PYTHON, then this repository's
# .venv, then .venv of the working directory or its parents, then $VIRTUAL_ENV,
# then python3 on PATH (?repalign::project_python). Exit status 1 on an error
# (one line naming the thing), 3 when the tables hold nothing to fit (no trials
# with human choices, no dynamics and no decisions tables; one line), 0
# otherwise; fits that did not converge, models left out and saturated fits are
# printed and written to OUTPUT/warnings.txt.
suppressPackageStartupMessages({
  library(optparse)
  library(repalign)
})

opts <- parse_args(OptionParser(option_list = list(
  make_option("--input", help = "directory with the run's Parquet tables"),
  make_option("--output", help = "directory for CSV tables and figures"),
  make_option("--engine", default = "lme4", help = "lme4 or brms [default %default]"),
  make_option("--models", default = NULL, help = "model metadata CSV [default INPUT/models.csv, else data/models.csv]"),
  make_option("--id-metric", dest = "id_metric", default = "dimensionality_twonn",
              help = "metric holding intrinsic dimensionality [default %default]"),
  make_option("--id-dataset", dest = "id_dataset", default = NULL, help = "dataset of that metric, if several"),
  make_option("--levels", default = "model,trial",
              help = paste("alignment models to fit: model, trial, both or none [default %default];",
                           "trial-level brms fits take long")),
  make_option("--cv", default = "kfold", help = "kfold or loo [default %default]"),
  make_option("--k", type = "integer", default = 5L, help = "participant folds [default %default]"),
  make_option("--by", default = NULL,
              help = paste("comma-separated grouping of choice models [default model,layer,task;",
                           "model,layer when every task has one participant]")),
  make_option("--workers", type = "integer", default = 1L, help = "worker processes for LOO [default %default]"),
  make_option("--n-boot", dest = "n_boot", type = "integer", default = 1000L,
              help = "bootstrap resamples [default %default]"),
  make_option("--seed", type = "integer", default = 0L,
              help = "seed of folds and bootstrap [default %default, the pipeline's default [run] seed]"),
  make_option("--chains", type = "integer", default = 4L, help = "brms chains [default %default]"),
  make_option("--iter", type = "integer", default = 2000L, help = "brms iterations per chain [default %default]"),
  make_option("--cache-dir", dest = "cache_dir", default = NULL, help = "brms fit cache [default OUTPUT/brms-cache]"),
  make_option("--min-models-per-effect", dest = "min_models_per_effect", type = "double", default = 5,
              help = "fewer models per fixed effect: estimates only, no intervals [default %default]"),
  make_option("--variant", default = "default",
              help = "default or published (the R models have one form; published is noted) [default %default]")
)))

fail <- function(msg) {
  cat("error: ", msg, "\n", sep = "", file = stderr())
  quit(save = "no", status = 1)
}
if (is.null(opts$input) || is.null(opts$output)) fail("--input and --output are required")
if (!opts$engine %in% c("lme4", "brms")) fail(sprintf("--engine must be lme4 or brms, got '%s'", opts$engine))
if (!opts$cv %in% c("kfold", "loo")) fail(sprintf("--cv must be kfold or loo, got '%s'", opts$cv))
if (!opts$variant %in% c("default", "published")) {
  fail(sprintf("--variant must be default or published, got '%s'", opts$variant))
}

# This script's repository: where project_python() looks for .venv and fit_run() for data/models.csv.
script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[1])
if (!is.na(script)) options(repalign.project = normalizePath(file.path(dirname(script), ".."), mustWork = FALSE))

tryCatch(
  fit_run(opts$input, opts$output, models = opts$models, engine = opts$engine, levels = opts$levels, cv = opts$cv,
          k = opts$k, by = if (!is.null(opts$by)) strsplit(opts$by, ",")[[1]], workers = opts$workers,
          n_boot = opts$n_boot, seed = opts$seed, id_metric = opts$id_metric, id_dataset = opts$id_dataset,
          chains = opts$chains, iter = opts$iter, cache_dir = opts$cache_dir,
          min_models_per_effect = opts$min_models_per_effect, variant = opts$variant),
  # tables were found but none can be fitted (e.g. metrics only): not an error of the
  # input, a run with nothing for this script to do; status 3 lets callers tell the two apart
  repalign_nothing_to_fit = function(e) {
    cat("nothing to fit: ", conditionMessage(e), "\n", sep = "", file = stderr())
    quit(save = "no", status = 3)
  },
  error = function(e) fail(conditionMessage(e))
)

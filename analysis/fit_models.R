#!/usr/bin/env Rscript
# Fit the repalign R models on the tables of a run and write tables and figures.
#
#   Rscript analysis/fit_models.R --input DIR --output DIR [--engine lme4|brms]
#
# Reads every repalign Parquet table under --input (by kind: trials, metrics,
# dynamics) and the model metadata (--models; default DIR/models.csv, else
# data/models.csv), then
#   1. cross-validates the choice model per (model, layer, task) -> cv_choices.csv
#   2. alignment scores (NLL, pseudo-R2, participant-bootstrap CIs) -> alignment_scores.csv
#   3. hierarchical alignment models (model and trial level) -> alignment_coefficients.csv
#   4. learning-dynamics GLMM when dynamics tables exist -> dynamics_coefficients.csv
#   5. classification decisions (texture-shape): accuracy GLMM per dataset ->
#      accuracy_model.csv, accuracy_estimates.csv; figure of accuracy and kappa to humans
#   6. figures (PDF + PNG) under OUTPUT/figures
# and prints a short summary. Non-convergence is printed and written, never hidden.
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
              help = "alignment models to fit: model, trial, both or none [default %default]; trial-level brms fits take long"),
  make_option("--cv", default = "kfold", help = "kfold or loo [default %default]"),
  make_option("--k", type = "integer", default = 5L, help = "participant folds [default %default]"),
  make_option("--by", default = NULL,
              help = "comma-separated grouping of choice models [default model,layer,task; model,layer when every task has one participant]"),
  make_option("--workers", type = "integer", default = 1L, help = "worker processes for LOO [default %default]"),
  make_option("--n-boot", dest = "n_boot", type = "integer", default = 1000L, help = "bootstrap resamples [default %default]"),
  make_option("--seed", type = "integer", default = 1L, help = "seed of folds and bootstrap [default %default]"),
  make_option("--chains", type = "integer", default = 4L, help = "brms chains [default %default]"),
  make_option("--iter", type = "integer", default = 2000L, help = "brms iterations per chain [default %default]"),
  make_option("--cache-dir", dest = "cache_dir", default = NULL, help = "brms fit cache [default OUTPUT/brms-cache]")
)))
if (is.null(opts$input) || is.null(opts$output)) stop("--input and --output are required", call. = FALSE)
if (!opts$engine %in% c("lme4", "brms")) stop("--engine must be lme4 or brms", call. = FALSE)
out <- opts$output
dir.create(file.path(out, "figures"), recursive = TRUE, showWarnings = FALSE)
fig <- function(p, name, ...) save_figure(p, file.path(out, "figures", name), ...)
say <- function(...) cat(sprintf(...), "\n", sep = "")
`%||%` <- function(a, b) if (is.null(a)) b else a

tables <- find_tables(opts$input)
say("input %s: %s", opts$input,
    if (length(tables)) paste(sprintf("%d %s table(s)", lengths(tables), names(tables)), collapse = ", ") else "no tables")
problems <- character()

# ---- choice models and alignment scores ----------------------------------------------------
scores <- NULL
trials <- NULL
if (length(tables$trials)) {
  trials <- dplyr::bind_rows(lapply(tables$trials, read_table,
                                    required = c("task", "participant", "trial", "model", "layer", "value")))
  if (!"choice" %in% names(trials)) trials$choice <- NA_integer_
  human <- trials[!is.na(trials$choice), ]
  if (nrow(human)) {
    by <- if (!is.null(opts$by)) strsplit(opts$by, ",")[[1]] else {
      per_task <- tapply(human$participant, human$task, function(p) length(unique(p)))
      if (all(per_task == 1)) {
        say("every task has one participant: pooling tasks (choice models per model and layer)")
        c("model", "layer")
      } else c("model", "layer", "task")
    }
    cv <- cv_choice_model(human, method = opts$cv, k = opts$k, seed = opts$seed, by = by, workers = opts$workers)
    cvd <- attr(cv, "diagnostics")
    if (any(!cvd$converged)) problems <- c(problems, sprintf("choice model %s: %s", cvd$group[!cvd$converged],
                                                             cvd$messages[!cvd$converged]))
    write_csv_table(cv, file.path(out, "cv_choices.csv"))
    write_csv_table(cvd, file.path(out, "choice_model_diagnostics.csv"))
    scores <- alignment_scores(cv, by = by, n_boot = opts$n_boot, seed = opts$seed)
    if (!"task" %in% names(scores)) scores$task <- "pooled"
    write_csv_table(scores, file.path(out, "alignment_scores.csv"))
    say("\nalignment scores (%s cross-validation, %d model/layer/task groups):", opts$cv, nrow(scores))
    show <- scores[order(-scores$pseudo_r2), ]
    for (r in seq_len(min(nrow(show), 20))) {
      say("  %-30s %-12s %-12s pseudo-R2 %.4f [%.4f, %.4f]  NLL %.1f over %d trials",
          show$model[r], show$layer[r], show$task[r], show$pseudo_r2[r], show$ci_low[r], show$ci_high[r],
          show$nll[r], show$n_trials[r])
    }
    if (all(c("reward_left", "reward_right") %in% names(human)) || "true_category" %in% names(human)) {
      fig(plot_learning_curves(human), "learning_curves", width = 9, height = 6)
    }
  } else {
    say("trials have no human choices: no choice models")
  }
}

# ---- hierarchical alignment models ---------------------------------------------------------
models_path <- opts$models %||% Find(file.exists, c(file.path(opts$input, "models.csv"), "data/models.csv"))
coefs <- NULL
if (!is.null(scores) && identical(opts$levels, "none")) {
  say("\nalignment models skipped: --levels none")
} else if (!is.null(scores) && !is.null(models_path) && length(unique(scores$model)) >= 3) {
  models <- utils::read.csv(models_path, stringsAsFactors = FALSE)
  metrics <- if (length(tables$metrics)) dplyr::bind_rows(lapply(tables$metrics, read_table)) else NULL
  has_id <- !is.null(metrics) && any(metrics$metric == opts$id_metric)
  if (!has_id) say("no '%s' metric: alignment models without intrinsic dimensionality", opts$id_metric)
  f_model <- default_alignment_formula("model")
  f_trial <- default_alignment_formula("trial")
  if (!has_id) {
    f_model <- update(f_model, . ~ . - scale(intrinsic_dim))
    f_trial <- update(f_trial, . ~ . - scale(intrinsic_dim) - value:scale(intrinsic_dim))
  }
  ad <- alignment_data(scores, models, if (has_id) metrics, opts$id_metric, opts$id_dataset)
  write_csv_table(ad, file.path(out, "alignment_data.csv"))
  cache <- opts$cache_dir %||% file.path(out, "brms-cache")
  levels <- strsplit(opts$levels, ",")[[1]]
  if (!length(levels) || !all(levels %in% c("model", "trial"))) stop("--levels: model, trial or model,trial", call. = FALSE)
  fits <- list()
  if ("model" %in% levels) {
    fits$model <- fit_alignment_model(ad, "model", opts$engine, formula = f_model, chains = opts$chains,
                                      iter = opts$iter, seed = opts$seed, cache_dir = cache)
  }
  if ("trial" %in% levels) {
    fits$trial <- fit_alignment_model(alignment_data(human[human$model %in% ad$model, ], models,
                                                     if (has_id) metrics, opts$id_metric, opts$id_dataset),
                                      "trial", opts$engine, formula = f_trial, chains = opts$chains,
                                      iter = opts$iter, seed = opts$seed, cache_dir = cache)
  }
  coefs <- dplyr::bind_rows(lapply(fits, tidy_alignment_model))
  write_csv_table(coefs, file.path(out, "alignment_coefficients.csv"))
  for (f in fits) if (!isTRUE(f$diagnostics$converged)) {
    problems <- c(problems, sprintf("%s-level alignment model: %s", f$level, f$diagnostics$messages))
  }
  say("\nalignment models (%s):", opts$engine)
  for (r in seq_len(nrow(coefs))) {
    say("  %-6s %-36s %8.4f [%8.4f, %8.4f]", coefs$level[r], coefs$term[r], coefs$estimate[r],
        coefs$conf.low[r], coefs$conf.high[r])
  }
  fig(plot_alignment_vs_size(ad, fits$model), "alignment_vs_train_size")
  if (has_id) fig(plot_alignment_vs_id(ad), "alignment_vs_intrinsic_dim", width = 9)
  fig(plot_coefficients(coefs), "alignment_coefficients", width = 9)
} else if (!is.null(scores)) {
  say("\nalignment models skipped: need model metadata (%s) and at least 3 models (have %d)",
      if (is.null(models_path)) "not found" else models_path, length(unique(scores$model)))
}

# ---- learning dynamics ----------------------------------------------------------------------
if (length(tables$dynamics)) {
  dyn <- read_dynamics(tables$dynamics)
  fit <- fit_dynamics_glmm(dyn)
  dc <- tidy_dynamics_glmm(fit)
  write_csv_table(dc, file.path(out, "dynamics_coefficients.csv"))
  say("\nlearning dynamics: GLMM on %d trials of %d agent(s) -> dynamics_coefficients.csv",
      nrow(dyn), length(unique(dyn$agent)))
}

# ---- classification decisions ---------------------------------------------------------------
if (length(tables$decisions)) {
  dec <- check_decisions(dplyr::bind_rows(lapply(tables$decisions, read_table)))
  fits <- lapply(split(dec, dec$dataset), fit_accuracy_model)
  acc_tab <- dplyr::bind_rows(lapply(fits, tidy_accuracy_model))
  acc_est <- dplyr::bind_rows(lapply(fits, accuracy_model_estimates))
  write_csv_table(acc_tab, file.path(out, "accuracy_model.csv"))
  write_csv_table(acc_est, file.path(out, "accuracy_estimates.csv"))
  bad <- unique(acc_tab[!acc_tab$converged, c("dataset", "messages")])
  if (nrow(bad)) problems <- c(problems, sprintf("accuracy GLMM %s: %s", bad$dataset, bad$messages))
  say("\naccuracy GLMM (correct ~ agent + (1 | image) + (1 | person)), accuracy on a typical image:")
  for (r in seq_len(nrow(acc_est))) {
    say("  %-20s %-28s %.3f [%.3f, %.3f]", acc_est$dataset[r], acc_est$agent[r], acc_est$accuracy[r],
        acc_est$accuracy.low[r], acc_est$accuracy.high[r])
  }
  cls <- if (length(tables$metrics)) dplyr::bind_rows(lapply(tables$metrics, read_table)) else NULL
  if (!is.null(cls) && "agent_type" %in% names(cls)) {
    cls <- cls[!is.na(cls$agent_type) & cls$metric %in% c("accuracy", "kappa_to_humans"), ]
    if (nrow(cls)) fig(plot_classification(cls), "classification_accuracy_kappa", width = 10,
                       height = 2 + 0.25 * length(unique(cls$model)) * length(unique(cls$dataset)))
  }
}

say("\n%s", if (length(problems)) paste(c("PROBLEMS:", problems), collapse = "\n  ") else "all fits converged")
say("outputs in %s", normalizePath(out))

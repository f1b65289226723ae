# One entry point for a run's R models: what `Rscript analysis/fit_models.R` and the
# pipeline's [r] stage do.

#' Fit the R models of a run and write their tables, figures and summary
#'
#' Reads every repalign Parquet table under `input` by its kind (`trials`,
#' `metrics`, `dynamics`) and the model metadata, then
#' 1. cross-validates the choice model per group (`by`) -> `cv_choices.csv`,
#'    `choice_model_diagnostics.csv`;
#' 2. alignment scores (NLL, pseudo-R², participant-bootstrap CIs) ->
#'    `alignment_scores.csv`;
#' 3. for the models with metadata (the others are left out, and named):
#'    `alignment_data.csv`, model-level Spearman correlations
#'    ([model_level_correlations()]) -> `model_correlations.csv`, and the
#'    hierarchical alignment models ([fit_alignment_model()]) ->
#'    `alignment_coefficients.csv` (saturated fits without intervals, see
#'    `min_models_per_effect`);
#' 4. the learning-dynamics GLMM when dynamics tables exist ->
#'    `dynamics_coefficients.csv` (the `[dynamics]` stage's `glmm.csv` when
#'    `input` holds exactly one: that GLMM is not fitted again);
#' 5. classification decisions (texture-shape): the accuracy GLMM per dataset
#'    ([fit_accuracy_model()]) -> `accuracy_model.csv`, `accuracy_estimates.csv`,
#'    and a figure of accuracy and kappa to humans;
#' 6. figures (PDF + PNG) under `output/figures`;
#' 7. with two or more benchmarks (see [benchmark_table()]): the cross-benchmark
#'    model ([fit_benchmark_model()]) -> `benchmark_table.csv`,
#'    `benchmark_coefficients.csv`, `benchmark_slopes.csv`, one printed line per
#'    fixed effect (`benchmark_model <term> <estimate> [<lo>, <hi>] benchmarks <B> models <M>`);
#' and prints a summary. Fits that did not converge, models left out and
#' saturated fits are printed and written to `warnings.txt` (the pipeline's
#' report lists that file), never hidden.
#'
#' An `input` without repalign tables is an error naming the directory; one
#' with nothing to fit (no trials with human choices, no dynamics and no
#' decisions tables, fewer than two benchmarks) is an error of class
#' `repalign_nothing_to_fit`, which `fit_models.R` reports with exit status 3
#' and the pipeline's `[r]` stage as a stage with nothing to do.
#'
#' @param input Directory searched recursively for the run's Parquet tables.
#' @param output Directory for CSV tables, figures and `warnings.txt`.
#' @param models Model metadata CSV; default `input/models.csv`, else
#'   `data/models.csv` of `project`, else of the working directory.
#' @param engine `"lme4"` or `"brms"`.
#' @param levels Alignment models to fit: any of `"model"`, `"trial"`;
#'   `character()` or `"none"` for none.
#' @param cv,k,by,workers Choice-model cross-validation ([cv_choice_model()]);
#'   `by = NULL`: model, layer, task, or model, layer when every task has one
#'   participant (tasks pooled).
#' @param n_boot,seed Bootstrap resamples and seed (folds, scores and
#'   correlations); default 0, the pipeline's default `[run] seed`, so a run's
#'   tables give the run's numbers.
#' @param id_metric,id_dataset Intrinsic-dimensionality metric in the metrics
#'   tables (see [alignment_data()]).
#' @param chains,iter,cache_dir brms settings (`cache_dir` default
#'   `output/brms-cache`).
#' @param min_models_per_effect Saturation guard of the alignment models and
#'   fewest models per correlation (see [fit_alignment_model()]).
#' @param variant `"default"` or `"published"` (the `[r]` section's `variant`).
#'   The R models have one form: where a published analysis exists they follow
#'   it already (e.g. [model_level_correlations()]); `"published"` is accepted
#'   and a note says so.
#' @param project Repository root used to find `data/models.csv`
#'   (default `getOption("repalign.project")`).
#' @param verbose Print the summary.
#' @return Invisibly, a list: `scores`, `alignment_data`, `correlations`,
#'   `coefficients`, `dynamics`, `accuracy` (tibbles or `NULL`), `notes` and `problems`
#'   (character).
#' @export
fit_run <- function(input, output, models = NULL, engine = c("lme4", "brms"), levels = c("model", "trial"),
                    cv = c("kfold", "loo"), k = 5L, by = NULL, workers = 1L, n_boot = 1000L, seed = 0L,
                    id_metric = "dimensionality_twonn", id_dataset = NULL, chains = 4L, iter = 2000L,
                    cache_dir = NULL, min_models_per_effect = 5, variant = c("default", "published"),
                    project = getOption("repalign.project"), verbose = TRUE) {
  engine <- match.arg(engine)
  variant <- match.arg(variant)
  cv <- match.arg(cv)
  levels <- run_levels(levels)
  models_path <- run_models_path(models, input, project)
  say <- function(...) if (verbose) cat(sprintf(...), "\n", sep = "")
  tables <- find_tables(input)
  if (!length(tables)) stop(sprintf("no repalign Parquet tables under %s", input), call. = FALSE)
  say("input %s: %s", input, paste(sprintf("%d %s table(s)", lengths(tables), names(tables)), collapse = ", "))
  fig <- function(p, name, ...) save_figure(p, file.path(output, "figures", name), ...)
  res <- run_result(variant)

  # ---- choice models and alignment scores --------------------------------------------------
  human <- human_trials(tables, say)
  all_metrics <- bind_tables(tables$metrics)
  check_run_input(input, tables, human, all_metrics)
  dir.create(file.path(output, "figures"), recursive = TRUE, showWarnings = FALSE)
  if (!is.null(human)) {
    res <- fit_choice_stage(res, human, output, cv = cv, k = k, by = by, workers = workers, n_boot = n_boot,
                            seed = seed, say = say, fig = fig)
    res <- fit_model_level(res, human = human, metrics = all_metrics, models_path = models_path, output = output,
                           engine = engine, levels = levels, id_metric = id_metric, id_dataset = id_dataset,
                           n_boot = n_boot, seed = seed, chains = chains, iter = iter, cache_dir = cache_dir,
                           min_models_per_effect = min_models_per_effect, say = say, fig = fig)
  }

  # ---- learning dynamics -------------------------------------------------------------------
  if (length(tables$dynamics)) res <- fit_dynamics_stage(res, tables$dynamics, input, output, say)

  # ---- classification decisions ------------------------------------------------------------
  if (length(tables$decisions)) res <- fit_decisions_stage(res, tables, output, say, fig)

  # ---- one hierarchical model across every benchmark ----------------------------------------
  res <- fit_benchmark_stage(res, all_metrics, res$scores, output, models_path, engine, id_metric, id_dataset,
                             chains, iter, seed, min_models_per_effect, say, fig)
  report_run(res, output, say)
  invisible(res)
}

# fit_run()'s `models`, checked, or the first models.csv found in `input`, `project`'s data/ or ./data/
# (NULL when there is none).
run_models_path <- function(models, input, project) {
  if (!is.null(models) && !file.exists(models)) stop(sprintf("model metadata %s does not exist", models), call. = FALSE)
  models %||% Find(file.exists, c(file.path(input, "models.csv"),
                                  if (!is.null(project)) file.path(project, "data", "models.csv"),
                                  "data/models.csv"))
}

# fit_run()'s result before any fit: empty tables, and the note of the `variant`.
run_result <- function(variant) {
  res <- list(scores = NULL, alignment_data = NULL, correlations = NULL, coefficients = NULL, dynamics = NULL,
              accuracy = NULL, notes = character(), problems = character())
  if (variant == "published") {
    res$notes <- c(res$notes, paste("variant 'published': the R models have no separate published form (the",
                                    "model-level correlations follow the published code already);",
                                    "fitted as by default"))
  }
  res
}

# Every table of one kind (paths) read and bound together; NULL for none.
bind_tables <- function(paths) {
  if (length(paths)) dplyr::bind_rows(lapply(paths, read_table)) else NULL
}

# Stop before any output when the run has nothing to fit or its human trials repeat a trial.
check_run_input <- function(input, tables, human, metrics) {
  n_benchmarks <- length(unique(benchmark_table(metrics)$benchmark))
  if (is.null(human) && !length(tables$dynamics) && !length(tables$decisions) && n_benchmarks < 2) {
    stop_nothing_to_fit(input, tables)
  }
  if (!is.null(human)) check_unique_trials(human, sprintf("trials under %s", input))
  invisible(TRUE)
}

# fit_run()'s `levels`: a vector or comma-separated string of "model", "trial"; "none" or "" for none.
run_levels <- function(levels) {
  levels <- setdiff(unlist(strsplit(as.character(levels), ",")), c("none", ""))
  if (!all(levels %in% c("model", "trial"))) {
    stop(sprintf("levels: 'model', 'trial' or none; got %s", paste(levels, collapse = ", ")), call. = FALSE)
  }
  levels
}

# The trials tables' rows with a human choice (NULL when there are none).
human_trials <- function(tables, say) {
  if (!length(tables$trials)) return(NULL)
  trials <- dplyr::bind_rows(lapply(tables$trials, read_table,
                                    required = c("task", "participant", "trial", "model", "layer", "value")))
  if (!"choice" %in% names(trials)) trials$choice <- NA_integer_
  human <- trials[!is.na(trials$choice), ]
  if (!nrow(human)) {
    say("trials have no human choices: no choice models")
    return(NULL)
  }
  human
}

# A condition of its own class: callers (fit_models.R, the pipeline's [r] stage)
# report it as a stage with nothing to do, not as a failure.
stop_nothing_to_fit <- function(input, tables) {
  stop(structure(class = c("repalign_nothing_to_fit", "error", "condition"), list(
    message = sprintf(paste("nothing to fit under %s: no trials with human choices, no dynamics and no decisions",
                            "tables (found %s)"),
                      input, paste(sprintf("%d %s", lengths(tables), names(tables)), collapse = ", ")),
    call = NULL)))
}

# Steps 1-2 of fit_run(): cross-validated choice models per group and the alignment scores
# -> `cv_choices.csv`, `choice_model_diagnostics.csv`, `alignment_scores.csv` (`res$scores`);
# the learning-curve figure when the trials carry rewards or categories.
fit_choice_stage <- function(res, human, output, cv, k, by, workers, n_boot, seed, say, fig) {
  if (is.null(by)) {
    per_task <- tapply(human$participant, human$task, function(p) length(unique(p)))
    by <- if (all(per_task == 1)) {
      say("every task has one participant: pooling tasks (choice models per model and layer)")
      c("model", "layer")
    } else {
      c("model", "layer", "task")
    }
  }
  cvt <- cv_choice_model(human, method = cv, k = k, seed = seed, by = by, workers = workers)
  cvd <- attr(cvt, "diagnostics")
  if (any(!cvd$converged)) res$problems <- c(res$problems, sprintf("choice model %s: %s", cvd$group[!cvd$converged],
                                                                   cvd$messages[!cvd$converged]))
  write_csv_table(cvt, file.path(output, "cv_choices.csv"))
  write_csv_table(cvd, file.path(output, "choice_model_diagnostics.csv"))
  scores <- alignment_scores(cvt, by = by, n_boot = n_boot, seed = seed)
  if (!"task" %in% names(scores)) scores$task <- pooled_task(scores, by)
  write_csv_table(scores, file.path(output, "alignment_scores.csv"))
  res$scores <- scores
  say("\nalignment scores (%s cross-validation, %d model/layer/task groups):", cv, nrow(scores))
  show <- scores[order(-scores$pseudo_r2), ]
  for (r in seq_len(min(nrow(show), 20))) {
    say("  %-30s %-12s %-12s pseudo-R2 %.4f [%.4f, %.4f]  NLL %.1f over %d trials",
        show$model[r], show$layer[r], show$task[r], show$pseudo_r2[r], show$ci_low[r], show$ci_high[r],
        show$nll[r], show$n_trials[r])
  }
  if (all(c("reward_left", "reward_right") %in% names(human)) || "true_category" %in% names(human)) {
    fig(plot_learning_curves(human), "learning_curves", width = 9, height = 6)
  }
  res
}

# Step 4 of fit_run(): the learning-dynamics GLMM -> `dynamics_coefficients.csv` (`res$dynamics`).
fit_dynamics_stage <- function(res, dynamics_tables, input, output, say) {
  # the [dynamics] stage's GLMM (dynamics_report()'s glmm.csv), when it ran on these tables: not fitted again
  fitted <- list.files(input, pattern = "glmm\\.csv$", recursive = TRUE, full.names = TRUE)
  if (length(fitted) == 1) {
    dc <- tibble::as_tibble(utils::read.csv(fitted, stringsAsFactors = FALSE))
    say("\nlearning dynamics: the [dynamics] stage's GLMM (%s), not fitted again -> dynamics_coefficients.csv",
        basename(fitted))
  } else {
    dyn <- read_dynamics(dynamics_tables)
    dc <- tidy_dynamics_glmm(fit_dynamics_glmm(dyn))
    say("\nlearning dynamics: GLMM on %d trials of %d agent(s) -> dynamics_coefficients.csv",
        nrow(dyn), length(unique(dyn$agent)))
  }
  write_csv_table(dc, file.path(output, "dynamics_coefficients.csv"))
  res$dynamics <- dc
  res
}

# Step 5 of fit_run(): the accuracy and shape-bias GLMMs of the decisions tables and the
# classification figure.
fit_decisions_stage <- function(res, tables, output, say, fig) {
  dec <- check_decisions(dplyr::bind_rows(lapply(tables$decisions, read_table)))
  # shape_bias decisions (with a cue column) get the shape-bias GLMM below, not the accuracy GLMM
  acc <- if ("cue" %in% names(dec)) dec[is.na(dec$cue), ] else dec
  if (nrow(acc)) {
    res <- fit_decision_glmms(res, acc, fit_accuracy_model, tidy_accuracy_model, accuracy_model_estimates,
                              "accuracy", "accuracy", output, say,
                              paste("accuracy GLMM (correct ~ agent + (1 | image) + (1 | person)),",
                                    "accuracy on a typical image:"))
  }
  if ("cue" %in% names(dec)) {  # shape_bias decisions: GLMM of shape decisions on the conflict trials
    res <- fit_decision_glmms(res, dec[!is.na(dec$cue), ], fit_shape_bias_model, tidy_shape_bias_model,
                              shape_bias_estimates, "shape_bias", "shape_bias", output, say,
                              paste("shape-bias GLMM (shape ~ agent + (1 | image) + (1 | person)),",
                                    "P(shape) on a typical image:"))
  }
  cls <- bind_tables(tables$metrics)
  if (!is.null(cls) && "agent_type" %in% names(cls)) {
    cls <- cls[!is.na(cls$agent_type) & cls$metric %in% c("accuracy", "kappa_to_humans"), ]
    if (nrow(cls)) fig(plot_classification(cls), "classification_accuracy_kappa", width = 10,
                       height = 2 + 0.25 * length(unique(cls$model)) * length(unique(cls$dataset)))
  }
  res
}

# The end of fit_run(): notes and problems -> `warnings.txt`, and the closing summary.
report_run <- function(res, output, say) {
  lines <- c(if (length(res$notes)) paste("NOTE:", res$notes),
             if (length(res$problems)) paste("PROBLEM:", res$problems))
  if (length(lines)) writeLines(lines, file.path(output, "warnings.txt"))
  if (length(res$notes)) say("\nNOTES:\n  %s", paste(res$notes, collapse = "\n  "))
  say("\n%s", if (length(res$problems)) paste(c("PROBLEMS:", res$problems), collapse = "\n  ")
              else "all fits converged")
  say("outputs in %s", normalizePath(output))
}

# `res` with one more note (sprintf's arguments).
add_note <- function(res, ...) {
  res$notes <- c(res$notes, sprintf(...))
  res
}

# Step 3 of fit_run(): metadata join, model-level correlations, alignment models. `res`
# comes back with its tables, notes and problems added; `metrics`: every metrics table of
# the run bound together (or NULL); the other arguments as fit_run()'s.
fit_model_level <- function(res, human, metrics, models_path, output, engine, levels, id_metric, id_dataset, n_boot,
                            seed, chains, iter, cache_dir, min_models_per_effect, say, fig) {
  if (is.null(models_path)) {
    return(add_note(res, "no model metadata (models.csv) found: no model-level statistics or alignment models"))
  }
  meta <- utils::read.csv(models_path, stringsAsFactors = FALSE)
  check_columns(meta, c("name", "family", "objective", "train_size"), sprintf("model metadata %s", models_path))
  has_id <- !is.null(metrics) && any(metrics$metric == id_metric)
  kept <- model_level_scores(res, meta, models_path, metrics, has_id, id_metric, id_dataset, say)
  res <- kept$res
  known <- kept$known
  n_known <- length(unique(known$model))
  if (n_known < 3) {
    return(add_note(res, "model-level statistics and alignment models need at least 3 models with metadata; have %d%s",
                    n_known, if (n_known) sprintf(" (%s)", paste(unique(known$model), collapse = ", ")) else ""))
  }
  ad <- alignment_data(known, meta, if (has_id) metrics, id_metric, id_dataset)
  write_csv_table(ad, file.path(output, "alignment_data.csv"))
  res$alignment_data <- ad
  res <- model_level_correlation_stage(res, ad, output, n_boot, seed, min_models_per_effect, say)

  # hierarchical alignment models
  if (!length(levels)) {
    say("\nalignment models skipped: levels none")
    return(res)
  }
  data <- list(model = ad)
  if ("trial" %in% levels) {
    keep <- paste(human$model, human$layer, sep = "\r") %in% paste(ad$model, ad$layer, sep = "\r")
    data$trial <- alignment_data(human[keep, ], meta, if (has_id) metrics, id_metric, id_dataset)
  }
  fit_alignment_levels(res, data, levels, has_id, output, engine, id_metric, seed, chains, iter, cache_dir,
                       min_models_per_effect, say, fig)
}

# The alignment scores of the models with metadata and (when the run has the intrinsic-
# dimensionality metric) with that metric; the models and layers left out become notes.
# Returns list(res, known).
model_level_scores <- function(res, meta, models_path, metrics, has_id, id_metric, id_dataset, say) {
  scores <- res$scores
  unknown <- sort(setdiff(unique(as.character(scores$model)), meta$name))
  if (length(unknown)) {
    res <- add_note(res, paste("model(s) without metadata in %s, left out of the model-level statistics and",
                               "alignment models: %s"),
                    models_path, paste(unknown, collapse = ", "))
  }
  known <- scores[scores$model %in% meta$name, , drop = FALSE]
  if (has_id && nrow(known)) {
    m <- metrics[metrics$metric == id_metric & (is.null(id_dataset) | metrics$dataset %in% id_dataset), ]
    no_id <- unique(paste(known$model, known$layer, sep = "/")[
      !paste(known$model, known$layer, sep = "\r") %in% paste(m$model, m$layer, sep = "\r")])
    if (length(no_id)) {
      res <- add_note(res, paste("(model, layer) without '%s', left out of the model-level statistics and",
                                 "alignment models: %s"),
                      id_metric, paste(no_id, collapse = ", "))
      known <- known[paste(known$model, known$layer, sep = "\r") %in% paste(m$model, m$layer, sep = "\r"), ,
                     drop = FALSE]
    }
  } else {
    say("no '%s' metric: model-level statistics and alignment models without intrinsic dimensionality", id_metric)
  }
  list(res = res, known = known)
}

# Model-level Spearman correlations (Demircan et al. 2024) -> `model_correlations.csv`
# (`res$correlations`), the models they leave out and their near-ties as notes, one printed line each.
model_level_correlation_stage <- function(res, ad, output, n_boot, seed, min_models_per_effect, say) {
  preds <- c(train_size = "train_size", params = "params", intrinsic_dim = "intrinsic_dim")
  preds <- preds[preds %in% names(ad)]
  corr <- model_level_correlations(ad, preds, by = "objective", n_boot = n_boot, seed = seed,
                                   min_models = max(3L, as.integer(ceiling(min_models_per_effect))))
  write_csv_table(corr, file.path(output, "model_correlations.csv"))
  res$correlations <- corr
  # a correlation over fewer models than the table holds (a property missing for some) names
  # them among the run's notes, hence in warnings.txt and the report, not only in its CSV row
  left_out <- regmatches(corr$note, regexpr("[0-9]+ model\\(s\\) without .* left out: .*$", corr$note))
  has_left <- grepl("[0-9]+ model\\(s\\) without .* left out: ", corr$note)
  for (r in which(has_left)) {
    res <- add_note(res, "model-level correlation with %s (%s, %d models): %s", corr$predictor[r], corr$group[r],
                    corr$n_models[r], left_out[match(r, which(has_left))])
  }
  # a rho whose value another seed's folds could change: say so where the run's warnings are read
  tied <- grepl("near-tie", corr$note, fixed = TRUE)
  for (r in which(tied)) {
    res <- add_note(res, "model-level correlation (%s, %s): %s", corr$group[r], corr$predictor[r],
                    sub("; [0-9]+ model\\(s\\) without .*$", "",  # (its left-out models have their own note)
                        regmatches(corr$note[r], regexpr("rho [-0-9.]+ rests on .*$", corr$note[r]))))
  }
  say("\nmodel-level Spearman correlations with alignment (pseudo-R2 averaged over tasks; %d bootstrap resamples):",
      n_boot)
  for (r in seq_len(nrow(corr))) say("%s", correlation_line(corr, r, has_left[r]))
  res
}

# One printed line of a model-level correlation: rho, its interval and p-value (or why not).
correlation_line <- function(corr, r, has_left) {
  finite_ci <- is.finite(corr$conf.low[r])
  finite_p <- is.finite(corr$p.value[r])
  stats <- if (finite_ci) {
    sprintf("[%6.3f, %6.3f] p %.3g", corr$conf.low[r], corr$conf.high[r], corr$p.value[r])
  } else if (finite_p) {
    sprintf("p %.3g", corr$p.value[r])
  } else {
    paste0("(", corr$note[r], ")")
  }
  sprintf("  %-24s %-14s n=%-3d rho %6.3f %s%s", corr$group[r], corr$predictor[r], corr$n_models[r], corr$rho[r],
          stats, if (has_left && (finite_ci || finite_p)) " (models left out: see notes)" else "")
}

# The hierarchical alignment models of `levels` on `data` (list: model, trial)
# -> `alignment_coefficients.csv` (`res$coefficients`), their problems and notes, and figures.
fit_alignment_levels <- function(res, data, levels, has_id, output, engine, id_metric, seed, chains, iter, cache_dir,
                                 min_models_per_effect, say, fig) {
  f_model <- default_alignment_formula("model")
  f_trial <- default_alignment_formula("trial")
  if (!has_id) {
    f_model <- drop_terms_with(f_model, "intrinsic_dim")
    f_trial <- drop_terms_with(f_trial, "intrinsic_dim")
  }
  cache <- cache_dir %||% file.path(output, "brms-cache")
  fits <- list()
  # A fit with no more rows than fixed effects cannot be done at all: say so, keep the rest.
  for (lev in intersect(c("model", "trial"), levels)) {
    f <- if (lev == "model") f_model else f_trial
    sat <- saturation_check(simplify_formula(f, data[[lev]])$formula, data[[lev]], min_models_per_effect)
    if (!sat$estimable) {
      res <- add_note(res, "%s-level alignment model %s", lev, sat$reason)
      next
    }
    fits[[lev]] <- fit_alignment_model(data[[lev]], lev, engine, formula = f, chains = chains, iter = iter,
                                       seed = seed, cache_dir = cache, min_models_per_effect = min_models_per_effect)
  }
  fits <- Filter(Negate(is.null), fits)
  if (!length(fits)) return(res)
  report_alignment_fits(res, fits, data$model, has_id, output, engine, id_metric, say, fig)
}

# The fitted alignment models (`fits`, by level; `ad`: the model-level data) -> `alignment_coefficients.csv`
# (`res$coefficients`), their convergence problems and notes, printed lines and figures.
report_alignment_fits <- function(res, fits, ad, has_id, output, engine, id_metric, say, fig) {
  coefs <- dplyr::bind_rows(lapply(fits, tidy_alignment_model))
  write_csv_table(coefs, file.path(output, "alignment_coefficients.csv"))
  res$coefficients <- coefs
  for (f in fits) {
    if (!isTRUE(f$diagnostics$converged)) {
      res$problems <- c(res$problems, sprintf("%s-level alignment model: %s", f$level, f$diagnostics$messages))
    }
    for (n in f$diagnostics$notes) res <- add_note(res, "%s-level alignment model: %s", f$level, n)
  }
  say("\nalignment models (%s):", engine)
  for (r in seq_len(nrow(coefs))) {
    say("  %-6s %-44s %8.4f %s", coefs$level[r], coefs$term[r], coefs$estimate[r],
        if (is.finite(coefs$conf.low[r])) sprintf("[%8.4f, %8.4f]", coefs$conf.low[r], coefs$conf.high[r])
        else "(no interval: see notes)")
  }
  fig(plot_alignment_vs_size(ad, fits$model), "alignment_vs_train_size")
  if (has_id) fig(plot_alignment_vs_id(ad, id_metric), "alignment_vs_intrinsic_dim", width = 9, height = 4)
  if (any(is.finite(coefs$conf.low))) fig(plot_coefficients(coefs), "alignment_coefficients", width = 9)
  res
}

# `formula` without every fixed term that involves `var`.
drop_terms_with <- function(formula, var) {
  fixed <- lme4::nobars(formula)
  tl <- attr(stats::terms(fixed), "term.labels")
  keep <- tl[!vapply(tl, function(t) var %in% all.vars(str2lang(t)), TRUE)]
  bars <- vapply(lme4::findbars(formula), function(b) sprintf("(%s)", deparse(b)), "")
  rhs <- paste(c(if (length(keep)) keep else "1", bars), collapse = " + ")
  stats::as.formula(paste(deparse(formula[[2]]), "~", rhs), env = environment(formula))
}

# Step 5 of fit_run(): one GLMM per dataset of a decisions table (`fit`), its tidy table and
# per-agent estimates (`tidy`, `estimates`) -> `<stem>_model.csv`, `<stem>_estimates.csv`;
# the estimate column `value` (with `.low`, `.high`) printed per agent; fits that did not
# converge become problems. `res[[stem]]` holds the estimates.
fit_decision_glmms <- function(res, dec, fit, tidy, estimates, stem, value, output, say, heading) {
  fits <- lapply(split(dec, dec$dataset), fit)
  tab <- dplyr::bind_rows(lapply(fits, tidy))
  est <- dplyr::bind_rows(lapply(fits, estimates))
  write_csv_table(tab, file.path(output, sprintf("%s_model.csv", stem)))
  write_csv_table(est, file.path(output, sprintf("%s_estimates.csv", stem)))
  res[[stem]] <- est
  bad <- unique(tab[!tab$converged, c("dataset", "messages")])
  label <- sub(" \\(.*", "", heading)
  if (nrow(bad)) res$problems <- c(res$problems, sprintf("%s %s: %s", label, bad$dataset, bad$messages))
  say("\n%s", heading)
  for (r in seq_len(nrow(est))) {
    say("  %-20s %-28s %.3f [%.3f, %.3f]", est$dataset[r], est$agent[r], est[[value]][r],
        est[[paste0(value, ".low")]][r], est[[paste0(value, ".high")]][r])
  }
  res
}

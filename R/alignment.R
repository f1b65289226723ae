# Hierarchical alignment models: why some networks predict people better.

#' Join alignment scores (or trials) with model metadata and intrinsic dimensionality
#'
#' @param data Alignment scores ([alignment_scores()]) or a trial table; needs
#'   `model` (and `layer` when `metrics` is given).
#' @param models Model metadata (`data/models.csv`): `name`, `family`,
#'   `objective`, `train_size` (number of training examples) and, optionally,
#'   `params` (parameter count).
#' @param metrics Metrics table (`metrics` schema) holding the intrinsic
#'   dimensionality of each (model, layer); `NULL` to skip.
#' @param id_metric Name of the intrinsic-dimensionality metric in `metrics`.
#' @param id_dataset Dataset whose intrinsic dimensionality to use when the
#'   metrics table has several for a (model, layer); `NULL`: there must be one.
#' @return `data` with columns `family`, `objective`, `train_size`, `params`
#'   (`NA` where the metadata has none) and (with `metrics`) `intrinsic_dim`
#'   added, and, when `data` has no `task` (scores pooled over tasks), `task` =
#'   its `task_kind` (pooled within each kind) or else `"pooled"`. A model
#'   without metadata, or a (model, layer) without intrinsic dimensionality, is
#'   an error naming it.
#' @export
alignment_data <- function(data, models, metrics = NULL, id_metric = "dimensionality_twonn", id_dataset = NULL) {
  check_columns(data, "model", "alignment data")
  check_columns(models, c("name", "family", "objective", "train_size"), "model metadata")
  models <- as.data.frame(models)
  if (anyDuplicated(models$name)) {
    stop(sprintf("model metadata: duplicated name(s) %s",
                 paste(unique(models$name[duplicated(models$name)]), collapse = ", ")), call. = FALSE)
  }
  missing <- setdiff(unique(as.character(data$model)), models$name)
  if (length(missing)) {
    stop(sprintf("model(s) without metadata: %s (add them to the model metadata, e.g. data/models.csv)",
                 paste(missing, collapse = ", ")), call. = FALSE)
  }
  idx <- match(as.character(data$model), models$name)
  out <- data
  # scores of choice models pooled over tasks (by = c("model", "layer")) have no task:
  # one level, so the alignment model's (1 | task) term is dropped, as in fit_run();
  # pooled within each task kind (by = c("model", "layer", "task_kind")): the kind
  if (!"task" %in% names(out)) out$task <- pooled_task(out, "task_kind")
  for (col in c("family", "objective")) out[[col]] <- as.character(models[[col]][idx])
  out$train_size <- suppressWarnings(as.numeric(models$train_size[idx]))
  out$params <- if ("params" %in% names(models)) suppressWarnings(as.numeric(models$params[idx])) else NA_real_
  if (!is.null(metrics)) {
    check_columns(data, c("model", "layer"), "alignment data")
    check_columns(metrics, c("model", "layer", "metric", "value"), "metrics")
    m <- as.data.frame(metrics)
    m <- m[m$metric == id_metric, , drop = FALSE]
    if (!is.null(id_dataset)) {
      check_columns(m, "dataset", "metrics")
      m <- m[m$dataset == id_dataset, , drop = FALSE]
    }
    key_m <- paste(m$model, m$layer, sep = "\r")
    if (anyDuplicated(key_m)) {
      dup <- m[duplicated(key_m), ][1, ]
      stop(sprintf("metrics: several '%s' values for model %s, layer %s (datasets: %s); choose one with id_dataset",
                   id_metric, dup$model, dup$layer,
                   paste(unique(m$dataset[key_m == key_m[duplicated(key_m)][1]]), collapse = ", ")),
           call. = FALSE)
    }
    key_d <- paste(data$model, data$layer, sep = "\r")
    j <- match(key_d, key_m)
    if (anyNA(j)) {
      miss <- unique(key_d[is.na(j)])
      stop(sprintf("metrics: no '%s' for (model, layer) %s", id_metric,
                   paste(sub("\r", "/", miss), collapse = ", ")), call. = FALSE)
    }
    out$intrinsic_dim <- m$value[j]
  }
  out
}

#' Default formulas of the alignment models
#'
#' The model-level formula lets the effect of intrinsic dimensionality differ
#' between objectives (`objective * scale(intrinsic_dim)`): Demircan et al.
#' (2024) report that intrinsic dimensionality relates to alignment with
#' opposite signs for different model types (candemircan/naturalcogsci,
#' `bin/fig5.ipynb`). The trial-level formula stays additive in the model
#' properties (pass `formula =` to add the interaction there).
#'
#' @param level `"model"`: one row per (model, layer, task) with its
#'   cross-validated pseudo-R²; `"trial"`: one row per human trial.
#' @return A formula.
#' @export
default_alignment_formula <- function(level = c("model", "trial")) {
  switch(match.arg(level),
         model = pseudo_r2 ~ log10(train_size + 1) + objective * scale(intrinsic_dim) + (1 | task) + (1 | family),
         trial = choice ~ value * (log10(train_size + 1) + objective + scale(intrinsic_dim)) +
           (value | participant) + (value | model))
}

#' Default weakly informative priors of the brms alignment models
#'
#' Model level (Gaussian; pseudo-R² is on a 0–1 scale and varies by a few
#' hundredths between tasks and families): `normal(0, 0.5)` on the
#' coefficients, `student_t(3, 0, 0.5)` on the intercept, `student_t(3, 0, 0.1)`
#' (heavy-tailed) on group s.d.s and on the residual s.d. Trial level (Bernoulli, logit): `normal(0, 2.5)` on
#' coefficients, `student_t(3, 0, 2.5)` on s.d.s, `lkj(2)` on correlations.
#'
#' @param level `"model"` or `"trial"`.
#' @return A `brmsprior` data frame.
#' @export
default_alignment_priors <- function(level = c("model", "trial")) {
  level <- match.arg(level)
  if (level == "model") {
    c(brms::set_prior("normal(0, 0.5)", class = "b"),
      brms::set_prior("student_t(3, 0, 0.5)", class = "Intercept"),
      brms::set_prior("student_t(3, 0, 0.1)", class = "sd"),
      brms::set_prior("student_t(3, 0, 0.1)", class = "sigma"))
  } else {
    c(brms::set_prior("normal(0, 2.5)", class = "b"),
      brms::set_prior("student_t(3, 0, 2.5)", class = "sd"),
      brms::set_prior("lkj(2)", class = "cor"))
  }
}

# Drop random-effect terms whose grouping factor has fewer than 2 levels and
# fixed factors with one level (lme4 and brms cannot fit them); say which.
simplify_formula <- function(formula, data) {
  bars <- fittable_bars(lme4::findbars(formula), data)
  fixed <- lme4::nobars(formula)
  tl <- attr(stats::terms(fixed), "term.labels")
  drop_fixed <- single_level_factors(fixed, data)
  if (length(drop_fixed)) {
    bad <- vapply(tl, function(t) any(all.vars(str2lang(t)) %in% drop_fixed), TRUE)
    tl <- tl[!bad]
  }
  rhs <- c(if (length(tl)) tl else "1", vapply(bars$keep, function(b) sprintf("(%s)", deparse(b)), ""))
  if (attr(stats::terms(fixed), "intercept") == 0) rhs <- c("0", rhs)
  f <- stats::as.formula(paste(deparse(formula[[2]]), "~", paste(rhs, collapse = " + ")),
                         env = environment(formula))
  list(formula = f, dropped = c(bars$dropped, if (length(drop_fixed)) sprintf("%s [1 level]", drop_fixed)))
}

# The random-effect terms `bars` whose grouping factor has 2 or more levels in `data` (`keep`), and a
# description of each of the others (`dropped`).
fittable_bars <- function(bars, data) {
  dropped <- character()
  keep <- list()
  for (b in bars) {
    grp <- all.vars(b[[3]])
    nlev <- length(unique(interaction(data[grp], drop = TRUE)))
    if (nlev < 2L) {
      dropped <- c(dropped, sprintf("(%s) [%s has %d level]", deparse(b), paste(grp, collapse = ":"), nlev))
    } else {
      keep <- c(keep, list(b))
    }
  }
  list(keep = keep, dropped = dropped)
}

# The variables of the fixed part `fixed` that are factors (or strings) with one level in `data`.
single_level_factors <- function(fixed, data) {
  vars <- intersect(all.vars(fixed[[3]]), names(data))
  one_level <- vapply(vars, function(v) {
    x <- data[[v]]
    (is.character(x) || is.factor(x)) && length(unique(x)) < 2L
  }, TRUE)
  vars[one_level]
}

#' Fit a hierarchical alignment model (lme4 or brms)
#'
#' (a) `level = "model"`: a linear mixed model of the cross-validated
#' pseudo-R² of each (model, layer, task) on the model's training-set size,
#' objective and intrinsic dimensionality, with random intercepts for task and
#' model family. (b) `level = "trial"`: a logistic mixed model of every human
#' choice on the learner's standardised value, interacting with the same model
#' properties, with random slopes per participant and per model.
#'
#' Terms that cannot be estimated (a grouping factor or a factor with one
#' level) are dropped and listed in the diagnostics. When no random-effect
#' term is left (one task and one family), `engine = "lme4"` fits the fixed
#' effects with [stats::lm()] (model level) or [stats::glm()] (trial level)
#' and says so in the diagnostics' `notes`. Duplicated rows (the same model,
#' layer, task and, at trial level, participant and trial) are an error
#' naming them. lme4 fits record
#' convergence and singularity; brms fits record max R-hat, divergent
#' transitions and minimum bulk ESS. Neither is hidden: a fit that did not
#' converge gives a warning and `converged = FALSE` in [tidy_alignment_model()].
#'
#' @param data For `"model"`: [alignment_data()] of alignment scores. For
#'   `"trial"`: [alignment_data()] of a trial table (`value` raw: it is
#'   standardised within each (model, layer, task) here).
#' @param level `"model"` or `"trial"`.
#' @param engine `"lme4"` or `"brms"`.
#' @param formula Model formula (default [default_alignment_formula()]).
#' @param prior brms priors (default [default_alignment_priors()]).
#' @param chains,iter,warmup,cores,seed brms sampling settings.
#' @param adapt_delta brms/Stan target acceptance rate (raised from Stan's 0.8 to 0.99:
#'   group s.d.s with few levels otherwise give divergent transitions).
#' @param cache_dir brms: directory where fits are cached (re-used when data,
#'   formula and priors are unchanged); `NULL` for no cache.
#' @param min_models_per_effect Saturation guard: with fewer distinct models
#'   than this many per fixed effect (rank of the fixed-effect design), the fit
#'   is saturated and [tidy_alignment_model()] reports its estimates without
#'   standard errors, intervals or p-values, with the reason in `note`. 0
#'   switches the guard off.
#' @return An object of class `repalign_alignment_fit`: `fit`, `engine`,
#'   `level`, `formula`, `data`, `diagnostics` (list: `dropped`, `notes`,
#'   `converged`, `singular`, `messages`, `saturation`).
#' @export
fit_alignment_model <- function(data, level = c("model", "trial"), engine = c("lme4", "brms"),
                                formula = NULL, prior = NULL, chains = 4L, iter = 2000L,
                                warmup = floor(iter / 2), cores = 1L, seed = 1L, cache_dir = NULL,
                                adapt_delta = 0.99, min_models_per_effect = 5) {
  level <- match.arg(level)
  engine <- match.arg(engine)
  if (is.null(formula)) formula <- default_alignment_formula(level)
  data <- alignment_model_data(data, level, formula)
  simp <- simplify_formula(formula, data)
  f <- simp$formula
  sat <- saturation_check(f, data, min_models_per_effect)
  if (!sat$estimable) stop(sprintf("%s-level alignment model: %s", level, sat$reason), call. = FALSE)
  diag <- list(dropped = simp$dropped, notes = character())
  no_groups <- is.null(lme4::findbars(f))
  if (engine == "lme4" && no_groups) {
    res <- fit_alignment_fixed(f, data, level)
  } else if (engine == "lme4") {
    res <- fit_alignment_lme4(f, data, level)
  } else {
    require_brms()
    if (is.null(prior)) prior <- default_alignment_priors(level)
    family <- if (level == "model") stats::gaussian() else brms::bernoulli()
    file <- if (!is.null(cache_dir)) file.path(cache_dir, sprintf("alignment-%s", level))
    res <- fit_brms(f, data, family, prior, chains = chains, iter = iter, warmup = warmup, cores = cores,
                    seed = seed, adapt_delta = adapt_delta, file = file)
  }
  fit <- res$fit
  diag <- utils::modifyList(diag, res$diagnostics)
  diag$saturation <- sat
  if (!diag$saturation$ok) diag$notes <- c(diag$notes, diag$saturation$reason)
  extra <- c(if (length(diag$dropped)) paste("dropped:", paste(diag$dropped, collapse = ", ")), diag$notes)
  if (length(extra)) diag$messages <- paste(c(diag$messages[nzchar(diag$messages)], extra), collapse = "; ")
  if (!diag$converged) warning(sprintf("%s-level alignment model (%s) did not converge: %s", level, engine,
                                       diag$messages), call. = FALSE)
  structure(list(fit = fit, engine = engine, level = level, formula = f, data = data, diagnostics = diag),
            class = "repalign_alignment_fit")
}

# fit_alignment_model()'s `data` checked for the `formula` of `level` (columns, binary choices,
# training-set sizes, unique trials); at trial level `value` standardised within each (model, layer, task).
alignment_model_data <- function(data, level, formula) {
  data <- as.data.frame(data)
  check_columns(data, setdiff(all.vars(formula), "scale"), sprintf("%s-level alignment data", level))
  if (level == "trial") {
    data$choice <- check_binary(data$choice, "column 'choice'")
    by <- intersect(c("model", "layer", "task"), names(data))
    for (r in group_rows(data, by)) data$value[r] <- as.numeric(standardise(data$value[r]))
  }
  if ("train_size" %in% all.vars(formula)) {
    # 0 is valid: untrained controls (random-init twins, pixels); log10(n + 1) maps them to 0
    bad <- !is.finite(data$train_size) | data$train_size < 0
    if (any(bad)) {
      stop(sprintf("train_size must be a non-negative number; missing or invalid for model(s) %s",
                   paste(unique(data$model[bad]), collapse = ", ")), call. = FALSE)
    }
  }
  check_unique_trials(data, sprintf("%s-level alignment data", level),
                      keys = if (level == "trial") c("model", "layer", "task", "participant", "trial")
                             else c("model", "layer", "task"),
                      need = if (level == "trial") "trial" else "model")
  data
}

# Every random-effect term was dropped (e.g. one family and one task): lme4 cannot fit
# that; the same fixed effects by ordinary least squares / logistic GLM.
# Returns list(fit, diagnostics: notes, converged, singular, messages).
fit_alignment_fixed <- function(f, data, level) {
  res <- collect_warnings(
    if (level == "model") stats::lm(f, data = data)
    else stats::glm(f, data = data, family = stats::binomial()))
  fit <- res$value
  list(fit = fit, diagnostics = list(
    notes = sprintf("no random-effect term left: fitted with %s instead of %s",
                    if (level == "model") "lm" else "glm (binomial)",
                    if (level == "model") "lmer" else "glmer"),
    converged = !any(grepl("converge", res$warnings, ignore.case = TRUE)) &&
      (level == "model" || isTRUE(fit$converged)),
    singular = NA,
    messages = paste(res$warnings, collapse = "; ")))
}

# lmer (model level) or glmer (trial level) of `f`. Returns list(fit, diagnostics: converged,
# singular, messages).
fit_alignment_lme4 <- function(f, data, level) {
  res <- collect_warnings(suppressMessages(
    if (level == "model") lme4::lmer(f, data = data, REML = TRUE)
    else lme4::glmer(f, data = data, family = stats::binomial(),
                     control = lme4::glmerControl(optimizer = "bobyqa"))))
  fit <- res$value
  d <- lme4_diagnostics(fit)
  msgs <- c(if (nzchar(d$messages)) d$messages, res$warnings)
  list(fit = fit, diagnostics = list(
    converged = d$converged && !any(grepl("converge", res$warnings, ignore.case = TRUE)),
    singular = d$singular,
    messages = paste(unique(msgs), collapse = "; ")))
}

# Models per fixed effect of an alignment model. Every fixed effect of these models
# is a property of a network (its size, objective, intrinsic dimensionality, or
# their interaction with the learner's value), so the networks, not the rows, are
# the units that inform it; with fewer than about five networks per coefficient
# the fit is saturated and its standard errors (and so intervals and p-values)
# mean little however many rows there are.
# `estimable` is FALSE when the rows do not outnumber the fixed effects: nothing
# is left for the residual and the fit itself fails.
saturation_check <- function(formula, data, min_models_per_effect = 5) {
  fixed <- stats::model.matrix(lme4::nobars(formula), data)
  p <- qr(fixed)$rank
  n <- length(unique(as.character(data$model)))
  estimable <- nrow(fixed) > p
  ok <- estimable && (is.null(min_models_per_effect) || min_models_per_effect <= 0 || n >= min_models_per_effect * p)
  reason <- if (!estimable) {
    sprintf(paste("not fitted: %d row(s) (%d model(s)) for %d fixed effect(s), nothing left to estimate the",
                  "residual; add models or fit fewer terms (formula =)"), nrow(fixed), n, p)
  } else if (!ok) {
    sprintf(paste("saturated: %d model(s) for %d fixed effect(s), fewer than %g models per fixed effect;",
                  "estimates only, no standard errors, intervals or p-values"),
            n, p, min_models_per_effect)
  } else {
    ""
  }
  list(ok = ok, estimable = estimable, n_models = n, n_fixed = p, n_rows = nrow(fixed),
       min_models_per_effect = min_models_per_effect, reason = reason)
}

#' Predictions of an alignment model
#'
#' Population-level predictions (random effects at 0) of a
#' [fit_alignment_model()] fit: the expected pseudo-R² (model level) or the
#' probability of choice = 1 (trial level; `value` standardised within each
#' (model, layer, task) of `newdata`, as in the fit).
#'
#' @param object A [fit_alignment_model()] result.
#' @param newdata Rows to predict, with the formula's columns; default the data
#'   the model was fitted on.
#' @param ... Unused.
#' @return A numeric vector, one value per row of `newdata`.
#' @export
predict.repalign_alignment_fit <- function(object, newdata = NULL, ...) {
  if (is.null(newdata)) {
    newdata <- object$data
  } else {
    newdata <- as.data.frame(newdata)
    check_columns(newdata, setdiff(all.vars(lme4::nobars(object$formula)), c("scale", "pseudo_r2", "choice")),
                  "newdata")
    if (object$level == "trial") {
      by <- intersect(c("model", "layer", "task"), names(newdata))
      for (r in group_rows(newdata, by)) newdata$value[r] <- as.numeric(standardise(newdata$value[r]))
    }
  }
  fit <- object$fit
  out <- if (object$engine == "brms") {
    stats::fitted(fit, newdata = newdata, re_formula = NA)[, "Estimate"]
  } else if (inherits(fit, c("lm", "glm"))) {
    stats::predict(fit, newdata = newdata, type = "response")
  } else {
    stats::predict(fit, newdata = newdata, re.form = NA, type = "response")
  }
  as.numeric(out)
}

#' @export
print.repalign_alignment_fit <- function(x, ...) {
  cat(sprintf("repalign %s-level alignment model (%s)\n", x$level, x$engine))
  print(tidy_alignment_model(x)[c("term", "estimate", "std.error", "conf.low", "conf.high")])
  cat("diagnostics:", x$diagnostics$messages, "\n")
  invisible(x)
}

#' Tidy coefficient table of an alignment model
#'
#' Fixed effects with intervals: Wald intervals for lme4 fits (and for the
#' `lm`/`glm` fallback), posterior intervals (`conf.level`) for brms fits (via
#' broom.mixed / broom). A saturated fit (fewer than `min_models_per_effect`
#' models per fixed effect, see [fit_alignment_model()]) keeps its estimates
#' but gets no standard errors, intervals or p-values; `inference` and `note`
#' say why.
#'
#' @param x A [fit_alignment_model()] result.
#' @param conf.level Interval level.
#' @return A tibble: level, engine, term, estimate, std.error, conf.low,
#'   conf.high, p.value (`NA` for lmer and brms fits), n_models, n_fixed,
#'   inference (`"wald"`, `"posterior"` or `"none"`), converged, singular,
#'   messages, note (the fallback and saturation notes; `""` when none).
#' @export
tidy_alignment_model <- function(x, conf.level = 0.95) { # nolint: object_name_linter. broom's argument name
  tab <- if (inherits(x$fit, c("lm", "glm"))) {
    suppressWarnings(broom::tidy(x$fit, conf.int = TRUE, conf.level = conf.level))
  } else {
    suppressWarnings(suppressMessages(
      broom.mixed::tidy(x$fit, effects = "fixed", conf.int = TRUE, conf.level = conf.level)))
  }
  if (x$engine == "brms") {
    tab$term <- brms_lme4_terms(tab$term, x$formula, x$data)
  }
  sat <- x$diagnostics$saturation %||% saturation_check(x$formula, x$data, 0)
  pv <- if ("p.value" %in% names(tab)) tab$p.value else rep(NA_real_, nrow(tab))
  out <- tibble::tibble(level = x$level, engine = x$engine, term = tab$term, estimate = tab$estimate,
                        std.error = tab$std.error, conf.low = tab$conf.low, conf.high = tab$conf.high,
                        p.value = pv, n_models = sat$n_models, n_fixed = sat$n_fixed,
                        inference = if (x$engine == "brms") "posterior" else "wald",
                        converged = x$diagnostics$converged, singular = x$diagnostics$singular,
                        messages = x$diagnostics$messages,
                        note = paste(x$diagnostics$notes %||% character(), collapse = "; "))
  if (!sat$ok) {
    out$std.error <- NA_real_
    out$conf.low <- NA_real_
    out$conf.high <- NA_real_
    out$p.value <- NA_real_
    out$inference <- "none"
  }
  out
}

# Shared brms machinery of the choice and alignment models.

# Fit `formula` with brms::brm() and summarise sampling health. `prior` is cut
# to the classes the formula has (a simplified formula may lack some); `file`
# (without extension) caches the fit, re-used unless data, formula or priors
# change. Returns list(fit, diagnostics = list(rhat_max, ess_bulk_min,
# divergent, converged, singular = NA, messages)).
fit_brms <- function(formula, data, family, prior, chains, iter, warmup, cores, seed, adapt_delta, file = NULL) {
  require_brms()
  valid <- brms::get_prior(formula, data = data, family = family)
  prior <- prior[paste(prior$class) %in% paste(valid$class), ]
  if (!is.null(file)) dir.create(dirname(file), recursive = TRUE, showWarnings = FALSE)
  res <- collect_warnings(suppressMessages(brms::brm(
    formula, data = data, family = family, prior = prior, chains = chains, iter = iter,
    warmup = warmup, cores = cores, seed = seed, refresh = 0, silent = 2,
    control = list(adapt_delta = adapt_delta),
    file = file, file_refit = "on_change")))
  fit <- res$value
  np <- brms::nuts_params(fit)
  rhat <- suppressWarnings(max(brms::rhat(fit), na.rm = TRUE))
  ess <- suppressWarnings(min(posterior::summarise_draws(fit, "ess_bulk")$ess_bulk, na.rm = TRUE))
  div <- sum(np$Value[np$Parameter == "divergent__"])
  diag <- list(rhat_max = rhat, ess_bulk_min = ess, divergent = div,
               converged = is.finite(rhat) && rhat < 1.01 && div == 0, singular = NA,
               messages = paste(unique(c(sprintf("max R-hat %.3f, %d divergent transition(s), min bulk ESS %.0f",
                                                 rhat, div, ess), res$warnings)), collapse = "; "))
  list(fit = fit, diagnostics = diag)
}

require_brms <- function() {
  if (!requireNamespace("brms", quietly = TRUE)) stop("engine = \"brms\" needs the R package 'brms'", call. = FALSE)
}

# brms strips brackets (and renames + and -) in fixed-effect names; give the
# terms of a broom.mixed table of a brms fit lme4's names back.
brms_lme4_terms <- function(terms, formula, data) {
  lme4_names <- colnames(stats::model.matrix(lme4::nobars(formula), data))
  stripped <- gsub("[\\s()\\[\\],\"'?]", "", lme4_names, perl = TRUE)
  stripped <- gsub("+", "P", gsub("-", "M", stripped, fixed = TRUE), fixed = TRUE)
  terms <- sub("^b_", "", terms)
  j <- match(terms, stripped)
  terms[!is.na(j)] <- lme4_names[j[!is.na(j)]]
  terms[terms == "Intercept"] <- "(Intercept)"
  terms
}

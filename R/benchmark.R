# One hierarchical model across every alignment benchmark: what predicts alignment,
# benchmark by benchmark and pooled.

#' Alignment measures and how each is put on the common scale
#'
#' One row per kind of measure in a run's `metrics` tables (and the learners'
#' cross-validated pseudo-R², [alignment_scores()]): the regular expression its
#' `metric` name matches, the benchmark family, chance (`NA`: none), and where its
#' ceiling comes from: `"noise_ceiling"` (the human `noise_ceiling_*` row of the
#' same triplet set), `"rsa_ceiling"` (the upper bound of the RSA noise ceiling),
#' `"humans"` (the pooled people's own value, e.g. κ between people) or `NA`.
#' Sources of the measures: odd-one-out and probing, Muttenthaler et al. (2023,
#' LukasMut/human_alignment); RSA, Kriegeskorte et al. (2008) with the noise
#' ceiling of Nili et al. (2014); error consistency, Geirhos et al. (2020,
#' bethgelab/model-vs-human); shape bias, Geirhos et al. (2019,
#' rgeirhos/texture-vs-shape); choice models, Demircan et al. (2024,
#' candemircan/naturalcogsci).
#'
#' @return A tibble: pattern, family, chance, ceiling.
#' @export
benchmark_measures <- function() {
  tibble::tribble(
    ~pattern, ~family, ~chance, ~ceiling,
    "^odd_one_out_[a-z]+(_published)?$", "odd_one_out", 1 / 3, "noise_ceiling",
    "^probe_[a-z]+(_published)?$", "probe", 1 / 3, "noise_ceiling",
    "^rsa_[a-z]+(_published)?$", "rsa", 0, "rsa_ceiling",
    "^cka_[a-z_]+$", "cka", 0, NA_character_,
    "^kappa_to_humans$", "error_consistency", 0, "humans",
    "^shape_bias$", "shape_bias", NA_real_, "humans",
    "^pseudo_r2$", "choice_model", 0, NA_character_
  )
}

# the people's rows of metrics tables: not models
human_agent <- function(model, agent_type = NULL) {
  h <- model %in% c("human", "humans") | grepl("^subject-", model)
  if (!is.null(agent_type)) h <- h | (!is.na(agent_type) & agent_type %in% c("human", "humans"))
  h
}

#' The tidy alignment table of a run
#'
#' Every alignment measure of a run as one table, each benchmark on a common
#' scale: `(value - chance) / (ceiling - chance)` where both exist (0 = chance,
#' 1 = as good as people agree with each other), otherwise standardised over
#' the benchmark's models (`(value - mean) / sd`). Raw values are kept. A
#' benchmark is a measure family on one data set (e.g. `rsa:mur92`,
#' `error_consistency:edges`).
#'
#' @param metrics A `metrics` table (several bound together are fine); `NULL`.
#' @param scores Learner alignment scores ([alignment_scores()]: `model`,
#'   `layer`, `task`, `pseudo_r2`, `ci_low`, `ci_high`); `NULL` to skip.
#' @param measures [benchmark_measures()].
#' @param level Level of the CIs in the tables (for the standard errors).
#' @return A tibble, one row per (model, layer, benchmark, measure): model, layer,
#'   benchmark, family, dataset, measure, value, ci_low, ci_high, se, n, chance,
#'   ceiling, scale (`"chance_ceiling"` or `"standardised"`), scaled, scaled_se.
#'   Schema in docs/tables.md.
#' @export
benchmark_table <- function(metrics = NULL, scores = NULL, measures = benchmark_measures(), level = 0.95) {
  z <- stats::qnorm(1 - (1 - level) / 2)
  rows <- c(metric_benchmark_rows(metrics, measures), list(score_benchmark_rows(scores, z)))
  rows <- Filter(Negate(is.null), rows)
  cols <- c("model", "layer", "benchmark", "family", "dataset", "measure", "value", "ci_low", "ci_high", "se", "n",
            "chance", "ceiling", "scale", "scaled", "scaled_se")
  if (!length(rows)) {
    return(tibble::as_tibble(stats::setNames(lapply(cols, function(x) character()), cols))[0, ])
  }
  keep <- c("model", "layer", "dataset", "metric", "value", "ci_low", "ci_high", "n", "family", "chance", "ceiling")
  d <- dplyr::bind_rows(lapply(rows, function(x) x[keep]))
  names(d)[names(d) == "metric"] <- "measure"
  d$layer[is.na(d$layer)] <- ""
  d$benchmark <- paste(d$family, d$dataset, sep = ":")
  d$se <- (d$ci_high - d$ci_low) / (2 * z)
  d$scale <- ifelse(!is.na(d$chance) & !is.na(d$ceiling) & d$ceiling != d$chance, "chance_ceiling", "standardised")
  tibble::as_tibble(scale_benchmarks(d)[cols])
}

# benchmark_table()'s rows of the metrics tables: one data frame per measure of `measures` that
# matches, with its family, chance and ceiling (the people's value of the same metric); list() for none.
metric_benchmark_rows <- function(metrics, measures) {
  if (is.null(metrics) || !nrow(metrics)) return(list())
  m <- as.data.frame(metrics)
  check_columns(m, c("model", "layer", "dataset", "metric", "value"), "metrics")
  for (col in c("ci_low", "ci_high", "n")) if (!col %in% names(m)) m[[col]] <- NA_real_
  at <- if ("agent_type" %in% names(m)) m$agent_type else NULL
  other <- if ("other" %in% names(m)) m$other else rep("", nrow(m))
  is_human <- human_agent(m$model, at)
  rows <- lapply(seq_len(nrow(measures)), function(i) {
    ms <- measures[i, ]
    hit <- grepl(ms$pattern, m$metric) & !is_human & (is.na(other) | other == "")
    if (!any(hit)) return(NULL)
    d <- m[hit, , drop = FALSE]
    d$family <- ms$family
    d$chance <- ms$chance
    d$ceiling <- vapply(seq_len(nrow(d)), function(j) {
      ceiling_of(m, is_human, ms$ceiling, d$metric[j], d$dataset[j])
    }, 0)
    d
  })
  Filter(Negate(is.null), rows)
}

# benchmark_table()'s rows of the learners' alignment scores (NULL for none); `z`: the normal quantile
# of the scores' CI level.
score_benchmark_rows <- function(scores, z) {
  if (!is.null(scores) && nrow(scores)) {
    s <- as.data.frame(scores)
    check_columns(s, c("model", "layer", "pseudo_r2"), "alignment scores")
    for (col in c("ci_low", "ci_high", "n_trials")) if (!col %in% names(s)) s[[col]] <- NA_real_
    # one benchmark: the task files are data sets of one benchmark, not benchmarks of their own; a
    # (model, layer)'s value is its mean pseudo-R2 over tasks, its s.e. that of the mean
    se <- (s$ci_high - s$ci_low) / (2 * z)
    key <- paste(s$model, s$layer, sep = "\r")
    agg <- lapply(split(seq_len(nrow(s)), key), function(i) {
      data.frame(model = s$model[i[1]], layer = s$layer[i[1]], dataset = "tasks", metric = "pseudo_r2",
                 value = mean(s$pseudo_r2[i]), se = sqrt(sum(se[i]^2)) / length(i), n = sum(s$n_trials[i]),
                 family = "choice_model", chance = 0, ceiling = NA_real_, stringsAsFactors = FALSE)
    })
    d <- do.call(rbind, agg)
    d$ci_low <- d$value - z * d$se
    d$ci_high <- d$value + z * d$se
    return(d)
  }
  NULL
}

# `d` with `scaled` and `scaled_se`: per benchmark and measure, (value - chance) / (ceiling - chance)
# where `scale` is "chance_ceiling", else standardised over the benchmark's rows.
scale_benchmarks <- function(d) {
  d$scaled <- NA_real_
  d$scaled_se <- NA_real_
  for (b in unique(paste(d$benchmark, d$measure))) {
    r <- which(paste(d$benchmark, d$measure) == b)
    if (d$scale[r[1]] == "chance_ceiling") {
      width <- d$ceiling[r] - d$chance[r]
      d$scaled[r] <- (d$value[r] - d$chance[r]) / width
      d$scaled_se[r] <- d$se[r] / abs(width)
    } else {
      s <- stats::sd(d$value[r])
      s <- if (is.finite(s) && s > 0) s else 1
      d$scaled[r] <- (d$value[r] - mean(d$value[r])) / s
      d$scaled_se[r] <- d$se[r] / s
    }
  }
  d
}

# Stop unless the benchmark data hold the columns of `formula`, two or more benchmarks and valid
# training-set sizes.
check_benchmark_data <- function(data, formula) {
  check_columns(data, setdiff(all.vars(formula), "scale"), "benchmark data")
  if (length(unique(data$benchmark)) < 2) {
    stop(sprintf("benchmark model: needs two or more benchmarks, got %d (%s)", length(unique(data$benchmark)),
                 paste(unique(data$benchmark), collapse = ", ")), call. = FALSE)
  }
  bad <- !is.finite(data$train_size) | data$train_size < 0
  if (any(bad)) stop(sprintf("train_size must be a non-negative number; missing or invalid for model(s) %s",
                             paste(unique(data$model[bad]), collapse = ", ")), call. = FALSE)
  invisible(data)
}

# The ceiling of one model row: the people's value that bounds it (NA: none)
ceiling_of <- function(m, is_human, kind, metric, dataset) {
  if (is.na(kind)) return(NA_real_)
  pick <- function(rows) if (any(rows)) m$value[which(rows)[1]] else NA_real_
  switch(kind,
         noise_ceiling = pick(is_human & grepl("^noise_ceiling", m$metric) & m$dataset == dataset),
         rsa_ceiling = pick(is_human & m$metric == paste0(sub("_published$", "", metric), "_ceiling_upper") &
                              m$dataset == dataset),
         humans = pick(m$model == "humans" & m$metric == metric & m$dataset == dataset),
         NA_real_)
}

#' Default formula of the cross-benchmark model
#'
#' Alignment on the common scale ([benchmark_table()]) by training-set size and
#' objective (and their interaction), intrinsic dimensionality, a random
#' intercept per model and a random intercept and training-size slope per
#' benchmark: partial pooling of the size effect across benchmarks.
#' @return A formula.
#' @export
default_benchmark_formula <- function() {
  scaled ~ log10(train_size + 1) * objective + scale(intrinsic_dim) + (1 | model) +
    (1 + log10(train_size + 1) | benchmark)
}

#' Fit one hierarchical model across every alignment benchmark
#'
#' @param data [benchmark_table()] rows joined with model metadata and intrinsic
#'   dimensionality ([benchmark_data()]).
#' @param engine `"lme4"` (REML `lmer`; a benchmark's standard errors are not
#'   used) or `"brms"` (measurement error: `scaled | se(scaled_se, sigma = TRUE)`
#'   where every row has a standard error).
#' @param formula Default [default_benchmark_formula()]; terms whose variables
#'   are missing or constant are dropped (said in `diagnostics$dropped`).
#' @param min_models_per_effect The saturation rule of [fit_alignment_model()].
#' @inheritParams fit_alignment_model
#' @return A `repalign_alignment_fit` with `level = "benchmark"` (tidy it with
#'   [tidy_alignment_model()], slopes with [benchmark_slopes()]).
#' @export
fit_benchmark_model <- function(data, engine = c("lme4", "brms"), formula = NULL, prior = NULL, chains = 4L,
                                iter = 2000L, warmup = floor(iter / 2), cores = 1L, seed = 1L, cache_dir = NULL,
                                adapt_delta = 0.99, min_models_per_effect = 5) {
  engine <- match.arg(engine)
  data <- as.data.frame(data)
  formula <- formula %||% default_benchmark_formula()
  dropped <- character()
  if ("intrinsic_dim" %in% all.vars(formula) &&
      (!"intrinsic_dim" %in% names(data) || all(is.na(data$intrinsic_dim)))) {
    formula <- stats::update(formula, . ~ . - scale(intrinsic_dim))
    dropped <- c(dropped, "scale(intrinsic_dim) (no intrinsic dimensionality in the run)")
  }
  check_benchmark_data(data, formula)
  data <- data[is.finite(data$scaled), , drop = FALSE]
  simp <- simplify_formula(formula, data)
  f <- simp$formula
  sat <- saturation_check(f, data, min_models_per_effect)
  if (!sat$estimable) stop(sprintf("benchmark model: %s", sat$reason), call. = FALSE)
  diag <- list(dropped = c(dropped, simp$dropped), notes = character())
  if (engine == "lme4") {
    res <- fit_alignment_lme4(f, data, "model")
    fit <- res$fit
    diag <- utils::modifyList(diag, res$diagnostics)
    diag$notes <- "lme4: benchmarks' standard errors not used (engine = \"brms\" models them)"
  } else {
    require_brms()
    fb <- f
    if (all(is.finite(data$scaled_se) & data$scaled_se > 0)) {
      fb <- brms::brmsformula(stats::as.formula(paste("scaled | se(scaled_se, sigma = TRUE) ~",
                                                      deparse1(f[[3]]))))
    } else {
      diag$notes <- "brms: some rows have no standard error: measurement error not modelled"
    }
    prior <- prior %||% c(brms::set_prior("normal(0, 1)", class = "b"),
                          brms::set_prior("student_t(3, 0, 1)", class = "Intercept"),
                          brms::set_prior("student_t(3, 0, 0.5)", class = "sd"),
                          brms::set_prior("student_t(3, 0, 0.5)", class = "sigma"))
    file <- if (!is.null(cache_dir)) file.path(cache_dir, "benchmark-model")
    res <- fit_brms(fb, data, stats::gaussian(), prior, chains = chains, iter = iter, warmup = warmup,
                    cores = cores, seed = seed, adapt_delta = adapt_delta, file = file)
    fit <- res$fit
    diag <- c(diag[c("dropped", "notes")], res$diagnostics)
  }
  diag$saturation <- sat
  if (!sat$ok) diag$notes <- c(diag$notes, sat$reason)
  extra <- c(if (length(diag$dropped)) paste("dropped:", paste(diag$dropped, collapse = ", ")), diag$notes)
  diag$messages <- paste(c(diag$messages[nzchar(diag$messages)], extra), collapse = "; ")
  if (!isTRUE(diag$converged)) warning(sprintf("benchmark model (%s) did not converge: %s", engine, diag$messages),
                                       call. = FALSE)
  structure(list(fit = fit, engine = engine, level = "benchmark", formula = f, data = data, diagnostics = diag),
            class = "repalign_alignment_fit")
}

#' Join the alignment table with model metadata and intrinsic dimensionality
#'
#' @param table [benchmark_table()].
#' @param models Model metadata (`data/models.csv`).
#' @param metrics Metrics with the intrinsic dimensionality (`id_metric`) of each
#'   (model, layer); `NULL` to skip.
#' @inheritParams alignment_data
#' @return `table` with `family_model`, `objective`, `train_size`, `params` and
#'   `intrinsic_dim` (`NA` where the run has none), rows of models without
#'   metadata left out (named in `attr(, "note")`).
#' @export
benchmark_data <- function(table, models, metrics = NULL, id_metric = "dimensionality_twonn", id_dataset = NULL) {
  table <- as.data.frame(table)
  models <- as.data.frame(models)
  unknown <- sort(setdiff(unique(table$model), models$name))
  note <- if (length(unknown)) sprintf("model(s) without metadata left out of the benchmark model: %s",
                                       paste(unknown, collapse = ", ")) else ""
  table <- table[table$model %in% models$name, , drop = FALSE]
  names(table)[names(table) == "family"] <- "measure_family"
  out <- alignment_data(table, models, NULL)
  names(out)[names(out) == "family"] <- "model_family"
  names(out)[names(out) == "measure_family"] <- "family"
  out$intrinsic_dim <- rep(NA_real_, nrow(out))
  if (nrow(out) && !is.null(metrics) && nrow(metrics)) {
    m <- as.data.frame(metrics)
    m <- m[m$metric == id_metric & (is.null(id_dataset) | m$dataset %in% id_dataset), , drop = FALSE]
    m <- m[!duplicated(paste(m$model, m$layer, sep = "\r")), , drop = FALSE]
    j <- match(paste(out$model, out$layer, sep = "\r"), paste(m$model, m$layer, sep = "\r"))
    out$intrinsic_dim <- m$value[j]
  }
  attr(out, "note") <- note
  tibble::as_tibble(out)
}

#' Per-benchmark training-size slopes: partial pooling beside no pooling
#'
#' @param x A [fit_benchmark_model()] result (lme4 or brms).
#' @param term The slope's term (default the training-size term).
#' @param level Interval level.
#' @return A tibble: benchmark, method (`"partial pooling"`: the model's
#'   fixed slope plus the benchmark's random slope, interval from the fixed
#'   effect's and the conditional variance; `"no pooling"`: `lm(scaled ~ term)`
#'   on that benchmark alone), estimate, conf.low, conf.high, n_models.
#' @export
benchmark_slopes <- function(x, term = "log10(train_size + 1)", level = 0.95) {
  z <- stats::qnorm(1 - (1 - level) / 2)
  d <- x$data
  bms <- sort(unique(d$benchmark))
  partial <- if (x$engine == "lme4") {
    re <- lme4::ranef(x$fit, condVar = TRUE)$benchmark
    fe <- lme4::fixef(x$fit)[[term]]
    fe_var <- as.matrix(stats::vcov(x$fit))[term, term]
    pv <- attr(re, "postVar")
    k <- match(term, colnames(re))
    est <- fe + re[bms, term]
    se <- sqrt(fe_var + pv[k, k, match(bms, rownames(re))])
    tibble::tibble(benchmark = bms, method = "partial pooling", estimate = est, conf.low = est - z * se,
                   conf.high = est + z * se)
  } else {
    co <- stats::coef(x$fit, probs = c((1 - level) / 2, 1 - (1 - level) / 2))$benchmark
    nm <- gsub("[\\s()\\[\\],\"'?]", "", term, perl = TRUE)
    nm <- gsub("+", "P", nm, fixed = TRUE)
    tibble::tibble(benchmark = bms, method = "partial pooling", estimate = co[bms, 1, nm],
                   conf.low = co[bms, 3, nm], conf.high = co[bms, 4, nm])
  }
  none <- dplyr::bind_rows(lapply(bms, function(b) {
    db <- d[d$benchmark == b, , drop = FALSE]
    f <- stats::as.formula(paste("scaled ~", term))
    if (length(unique(stats::model.frame(f, db)[[2]])) < 2) {
      return(tibble::tibble(benchmark = b, method = "no pooling", estimate = NA_real_, conf.low = NA_real_,
                            conf.high = NA_real_))
    }
    fit <- stats::lm(f, data = db)
    ci <- suppressWarnings(stats::confint(fit, level = level))
    tibble::tibble(benchmark = b, method = "no pooling", estimate = stats::coef(fit)[[2]],
                   conf.low = ci[2, 1], conf.high = ci[2, 2])
  }))
  out <- dplyr::bind_rows(partial, none)
  out$n_models <- as.integer(table(d$benchmark)[out$benchmark])
  out$n_models <- vapply(out$benchmark, function(b) length(unique(d$model[d$benchmark == b])), 0L)
  out
}

#' Figure: per-benchmark slopes, partial pooling beside no pooling
#' @param slopes [benchmark_slopes()].
#' @return A ggplot.
#' @export
plot_benchmark_slopes <- function(slopes) {
  s <- repalign_style()
  ggplot2::ggplot(slopes, ggplot2::aes(x = .data$estimate, y = .data$benchmark, colour = .data$method)) +
    ggplot2::geom_vline(xintercept = 0, colour = s$zero$colour) +
    ggplot2::geom_pointrange(ggplot2::aes(xmin = .data$conf.low, xmax = .data$conf.high),
                             position = ggplot2::position_dodge(width = 0.5), na.rm = TRUE) +
    ggplot2::scale_colour_manual(values = c("partial pooling" = "#0072B2", "no pooling" = "#999999")) +
    ggplot2::labs(x = "slope of alignment (common scale) per log10 training images", y = NULL, colour = NULL,
                  title = "What predicts alignment, benchmark by benchmark",
                  subtitle = "partial pooling (hierarchical model) beside each benchmark's own fit") +
    theme_repalign()
}

# Step 7 of fit_run(): the cross-benchmark model, whenever the run holds two or more
# benchmarks. Writes benchmark_table.csv (always, when any benchmark exists),
# benchmark_coefficients.csv, benchmark_slopes.csv and figures/benchmark_slopes; prints
# one line per fixed effect: `benchmark_model <term> <estimate> [<lo>, <hi>] benchmarks <B> models <M>`.
fit_benchmark_stage <- function(res, metrics, scores, output, models_path, engine, id_metric, id_dataset, chains,
                                iter, seed, min_models_per_effect, say, fig) {
  # the cross-benchmark model never stops the R stage: what fails is named as a problem
  out <- tryCatch(benchmark_stage(res, metrics, scores, output, models_path, engine, id_metric, id_dataset, chains,
                                  iter, seed, min_models_per_effect, say, fig),
                  error = function(e) e)
  if (inherits(out, "error")) {
    res$problems <- c(res$problems, sprintf("cross-benchmark model not fitted: %s", conditionMessage(out)))
    return(res)
  }
  out
}

benchmark_stage <- function(res, metrics, scores, output, models_path, engine, id_metric, id_dataset, chains,
                            iter, seed, min_models_per_effect, say, fig) {
  tab <- benchmark_table(metrics, scores)
  if (!nrow(tab)) return(res)
  write_csv_table(tab, file.path(output, "benchmark_table.csv"))
  n_b <- length(unique(tab$benchmark))
  if (n_b < 2) {
    say("\none benchmark (%s): no cross-benchmark model", unique(tab$benchmark))
    return(res)
  }
  if (is.null(models_path)) {
    res$notes <- c(res$notes, "no model metadata (models.csv): no cross-benchmark model")
    return(res)
  }
  meta <- utils::read.csv(models_path, stringsAsFactors = FALSE)
  d <- benchmark_data(tab, meta, metrics, id_metric, id_dataset)
  if (nzchar(attr(d, "note"))) res$notes <- c(res$notes, attr(d, "note"))
  if (length(unique(d$benchmark)) < 2 || length(unique(d$model)) < 3) {
    res$notes <- c(res$notes, sprintf(paste("cross-benchmark model: %d benchmark(s) and %d model(s) with metadata;",
                                            "needs 2 and 3"),
                                      length(unique(d$benchmark)), length(unique(d$model))))
    return(res)
  }
  f <- default_benchmark_formula()
  if (length(unique(d$objective)) < 2) {
    f <- drop_terms_with(f, "objective")
    res$notes <- c(res$notes, sprintf("cross-benchmark model: one objective (%s): objective terms dropped",
                                      unique(d$objective)[1]))
  }
  fit_benchmark_stage_model(res, f, tab, d, output, engine, chains, iter, seed, min_models_per_effect, say, fig)
}

# The cross-benchmark model of formula `f` on `d` (benchmark_data()); a fit that cannot be done or fails
# becomes a problem of `res`, a fitted one is reported (report_benchmark_fit()).
fit_benchmark_stage_model <- function(res, f, tab, d, output, engine, chains, iter, seed, min_models_per_effect,
                                      say, fig) {
  fit <- tryCatch({
    sat <- saturation_check(simplify_formula(f, d)$formula, d, min_models_per_effect)
    if (!sat$estimable) stop(sat$reason, call. = FALSE)
    fit_benchmark_model(d, engine = engine, formula = f, chains = chains, iter = iter, seed = seed,
                        min_models_per_effect = min_models_per_effect)
  }, error = function(e) e)
  if (inherits(fit, "error")) {
    res$problems <- c(res$problems, sprintf("cross-benchmark model not fitted: %s", conditionMessage(fit)))
    return(res)
  }
  report_benchmark_fit(res, fit, tab, d, output, engine, say, fig)
}

# The fitted cross-benchmark model -> `benchmark_coefficients.csv`, `benchmark_slopes.csv`
# (`res$benchmark`), its problems and notes, one printed line per fixed effect, the slopes figure.
report_benchmark_fit <- function(res, fit, tab, d, output, engine, say, fig) {
  coefs <- tidy_alignment_model(fit)
  slopes <- benchmark_slopes(fit)
  write_csv_table(coefs, file.path(output, "benchmark_coefficients.csv"))
  write_csv_table(slopes, file.path(output, "benchmark_slopes.csv"))
  res$benchmark <- list(table = tab, coefficients = coefs, slopes = slopes)
  if (!isTRUE(fit$diagnostics$converged)) res$problems <- c(res$problems, sprintf("cross-benchmark model: %s",
                                                                                   fit$diagnostics$messages))
  for (n in fit$diagnostics$notes) res$notes <- c(res$notes, sprintf("cross-benchmark model: %s", n))
  n_m <- length(unique(d$model))
  say("\ncross-benchmark model (%s, %d benchmarks, %d models):", engine, length(unique(d$benchmark)), n_m)
  for (r in seq_len(nrow(coefs))) {
    say("benchmark_model %s %.4f %s benchmarks %d models %d", coefs$term[r], coefs$estimate[r],
        if (is.finite(coefs$conf.low[r])) sprintf("[%.4f, %.4f]", coefs$conf.low[r], coefs$conf.high[r])
        else "[NA, NA]", length(unique(d$benchmark)), n_m)
  }
  fig(plot_benchmark_slopes(slopes), "benchmark_slopes", width = 8, height = 2 + 0.4 * length(unique(d$benchmark)))
  res
}

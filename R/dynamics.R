#' Learning-dynamics statistics and figures (Huber, Mast & Wichmann 2024)
#'
#' Functions for `dynamics` tables written by `repalign.dynamics` (one row per
#' trial: agent, run, epoch, phase, image_name, correct, ...): learning curves,
#' a binomial GLMM of accuracy over epochs, phases and agents, and ggplot2
#' figures with the chance band.
#' @name dynamics
NULL

.dynamics_required <- c("agent", "run", "epoch", "phase", "correct")

#' Read one or more dynamics tables
#'
#' @param paths Paths of `dynamics` Parquet tables (humans, networks, simulated learners).
#' @return A tibble of all trials; `agent_type` is added ("human" for agent
#'   "human", else "network") when a table lacks it. An agent present in two
#'   tables is an error.
#' @export
read_dynamics <- function(paths) {
  if (!length(paths)) stop("read_dynamics: no paths given", call. = FALSE)
  seen <- character()
  tabs <- vector("list", length(paths))
  for (i in seq_along(paths)) {
    df <- read_table(paths[[i]], required = c(.dynamics_required, "image_name"))
    dup <- intersect(unique(df$agent), seen)
    if (length(dup)) stop(sprintf("%s: agent(s) %s already read from another table", paths[[i]],
                                  paste(dup, collapse = ", ")), call. = FALSE)
    seen <- c(seen, unique(df$agent))
    tabs[[i]] <- df
  }
  check_dynamics(dplyr::bind_rows(tabs))
}

#' Check a dynamics trial table
#'
#' @param df Data frame of trials.
#' @param where Name used in error messages.
#' @return `df` as a tibble with integer `run`/`epoch`, logical `correct` and
#'   `agent_type`; errors name the offending column.
#' @export
check_dynamics <- function(df, where = "dynamics table") {
  missing <- setdiff(.dynamics_required, names(df))
  if (length(missing)) {
    stop(sprintf("%s: missing column(s) %s", where, paste(missing, collapse = ", ")), call. = FALSE)
  }
  bad <- setdiff(unique(as.character(df$phase)), c("train", "test"))
  if (length(bad)) {
    stop(sprintf("%s: column 'phase' has value(s) %s; allowed: train, test", where,
                 paste(bad, collapse = ", ")), call. = FALSE)
  }
  if (anyNA(df$correct) || !all(df$correct %in% c(0, 1))) {
    stop(sprintf("%s: column 'correct' must be logical or 0/1 without NA", where), call. = FALSE)
  }
  if (anyNA(df$epoch) || any(df$epoch < 1)) {
    stop(sprintf("%s: column 'epoch' must be 1-based without NA", where), call. = FALSE)
  }
  df <- tibble::as_tibble(df)
  df$correct <- as.logical(df$correct)
  df$run <- as.integer(df$run)
  df$epoch <- as.integer(df$epoch)
  df$agent <- as.character(df$agent)
  if (!"agent_type" %in% names(df)) df$agent_type <- ifelse(df$agent == "human", "human", "network")
  df
}

#' Binomial chance band
#'
#' Central `level` interval of the accuracy of `n_trials` guesses at rate `p`
#' (quantiles of the binomial, as proportions). Default: 36 trials at p = 1/3,
#' 95%: 7/36 to 18/36 (Huber et al. 2024).
#'
#' @param n_trials Number of trials per epoch.
#' @param p Chance rate.
#' @param level Coverage.
#' @return Named numeric: `lower`, `upper` (proportions).
#' @export
dynamics_chance_band <- function(n_trials = 36, p = 1 / 3, level = 0.95) {
  a <- (1 - level) / 2
  c(lower = stats::qbinom(a, n_trials, p), upper = stats::qbinom(1 - a, n_trials, p)) / n_trials
}

#' Per-run and mean learning curves
#'
#' @param df Dynamics trials.
#' @return `dynamics_counts()`: one row per agent x run x epoch x phase with
#'   `n_trials`, `n_correct`, `accuracy`. `dynamics_accuracy()`: one row per
#'   agent x epoch x phase with `mean`, `sd`, `n_runs`, `sem` of per-run accuracy.
#' @export
dynamics_counts <- function(df) {
  df <- check_dynamics(df)
  df |>
    dplyr::group_by(.data$agent, .data$agent_type, .data$run, .data$epoch, .data$phase) |>
    dplyr::summarise(n_trials = dplyr::n(), n_correct = sum(.data$correct), .groups = "drop") |>
    dplyr::mutate(accuracy = .data$n_correct / .data$n_trials)
}

#' @rdname dynamics_counts
#' @export
dynamics_accuracy <- function(df) {
  dynamics_counts(df) |>
    dplyr::group_by(.data$agent, .data$agent_type, .data$epoch, .data$phase) |>
    dplyr::summarise(mean = mean(.data$accuracy), sd = stats::sd(.data$accuracy),
                     n_runs = dplyr::n(), .groups = "drop") |>
    dplyr::mutate(sem = .data$sd / sqrt(.data$n_runs))
}

#' Binomial GLMM of learning dynamics
#'
#' Fits `correct ~ epoch * phase * agent + (1 | run)` with `lme4::glmer`
#' (binomial, logit). Trials are aggregated to successes / failures per
#' agent x run x epoch x phase first: every predictor is constant within such a
#' cell, so the binomial likelihood of the counts equals the Bernoulli
#' likelihood of the trials up to a constant and the estimates are the same,
#' while the fit touches ~1,500 rows instead of ~69,000. `epoch` is centred at
#' the mean epoch (3.5 for six epochs), so main effects of phase and agent are
#' at mid-training; `phase` has reference "train", `agent` reference
#' `reference` (default "human"); runs are nested in agents (`run_id`).
#'
#' @param df Dynamics trials.
#' @param random Random effects per run: "intercept" (`(1 | run_id)`),
#'   "epoch" (`(1 + epoch_c | run_id)`) or "epoch_phase"
#'   (`(1 + epoch_c + phase | run_id)`).
#' @param nAGQ 0 (fast penalised IRLS estimate) or 1 (Laplace).
#' @param reference Reference level of `agent` (if present).
#' @param control `lme4::glmerControl()`.
#' @return A `glmerMod` with attribute `epoch_centre`.
#' @export
fit_dynamics_glmm <- function(df, random = c("intercept", "epoch", "epoch_phase"),
                              nAGQ = 0, # nolint: object_name_linter. lme4::glmer's argument name
                              reference = "human",
                              control = lme4::glmerControl(optimizer = "bobyqa")) {
  random <- match.arg(random)
  d <- dynamics_glmm_data(df, reference)
  re <- switch(random, intercept = "(1 | run_id)", epoch = "(1 + epoch_c | run_id)",
               epoch_phase = "(1 + epoch_c + phase | run_id)")
  fixed <- if (length(unique(d$agent)) > 1) "epoch_c * phase * agent" else "epoch_c * phase"
  f <- stats::as.formula(paste("cbind(n_correct, n_trials - n_correct) ~", fixed, "+", re))
  fit <- lme4::glmer(f, data = d, family = stats::binomial(), nAGQ = nAGQ, control = control)
  attr(fit, "epoch_centre") <- attr(d, "epoch_centre")
  attr(fit, "glmm_data") <- d
  fit
}

#' @describeIn fit_dynamics_glmm The aggregated model frame (counts per run x
#'   epoch x phase, factors and centred epoch).
#' @export
dynamics_glmm_data <- function(df, reference = "human") {
  d <- dynamics_counts(df)
  centre <- mean(range(d$epoch))
  agents <- sort(unique(d$agent))
  if (reference %in% agents) agents <- c(reference, setdiff(agents, reference))
  d$agent <- factor(d$agent, levels = agents)
  d$phase <- factor(d$phase, levels = c("train", "test"))
  d$epoch_c <- d$epoch - centre
  d$run_id <- factor(paste(d$agent, d$run, sep = ":"))
  attr(d, "epoch_centre") <- centre
  d
}

#' Tidy fixed effects of a dynamics GLMM
#'
#' @param fit From `fit_dynamics_glmm()`.
#' @return Tibble (broom.mixed) of fixed effects on the log-odds scale with Wald
#'   95% intervals; `phase_x_epoch` flags the terms of the phase x epoch
#'   interaction (and its modulation by agent).
#' @export
tidy_dynamics_glmm <- function(fit) {
  tab <- broom.mixed::tidy(fit, effects = "fixed", conf.int = TRUE, conf.method = "Wald")
  tab$phase_x_epoch <- grepl("epoch_c", tab$term) & grepl("phase", tab$term)
  tab
}

#' Epoch slopes per agent and phase, and the phase x epoch interaction per agent
#'
#' From the fixed effects: the change in log-odds of a correct answer per epoch
#' in training and in test, for every agent, and their difference
#' (test - train; the phase x epoch interaction of that agent), each with a Wald
#' s.e., z and two-sided p. A negative difference means test accuracy rises more
#' slowly than training accuracy: a generalisation lag.
#'
#' @param fit From `fit_dynamics_glmm()`.
#' Logit slopes are unreliable when accuracy sits at a ceiling or floor: if in
#' some epoch every trial of an agent and phase was correct (or every one
#' wrong), the maximum-likelihood slope is pushed towards infinity (quasi-complete
#' separation) and its Wald s.e. is meaningless. Such rows have `separated = TRUE`
#' (for `test_minus_train`, when either phase is separated).
#'
#' @return Tibble: agent, quantity ("train_slope", "test_slope",
#'   "test_minus_train"), estimate, std.error, statistic, p.value, separated.
#' @export
dynamics_slopes <- function(fit) {
  b <- lme4::fixef(fit)
  v <- as.matrix(stats::vcov(fit))
  mf <- stats::model.frame(fit)
  agents <- if ("agent" %in% names(mf)) levels(mf$agent) else "all"
  d <- attr(fit, "glmm_data")
  separated <- function(a, ph) {
    if (is.null(d)) return(NA)
    rows <- d$phase == ph & (if (identical(agents, "all")) TRUE else d$agent == a)
    pooled <- tapply(d$n_correct[rows], d$epoch[rows], sum) / tapply(d$n_trials[rows], d$epoch[rows], sum)
    any(pooled %in% c(0, 1))
  }
  out <- list()
  for (a in agents) {
    sep <- c(train_slope = separated(a, "train"), test_slope = separated(a, "test"))
    sep["test_minus_train"] <- sep[["train_slope"]] || sep[["test_slope"]]
    w_train <- stats::setNames(numeric(length(b)), names(b))
    w_train["epoch_c"] <- 1
    ta <- paste0("epoch_c:agent", a)
    if (ta %in% names(b)) w_train[ta] <- 1
    w_diff <- stats::setNames(numeric(length(b)), names(b))
    w_diff["epoch_c:phasetest"] <- 1
    tpa <- paste0("epoch_c:phasetest:agent", a)
    if (tpa %in% names(b)) w_diff[tpa] <- 1
    for (q in list(list("train_slope", w_train), list("test_slope", w_train + w_diff),
                   list("test_minus_train", w_diff))) {
      w <- q[[2]]
      est <- sum(w * b)
      se <- sqrt(drop(t(w) %*% v %*% w))
      out[[length(out) + 1]] <- tibble::tibble(agent = a, quantity = q[[1]], estimate = est,
                                               std.error = se, statistic = est / se,
                                               p.value = 2 * stats::pnorm(-abs(est / se)),
                                               separated = sep[[q[[1]]]])
    }
  }
  dplyr::bind_rows(out)
}

#' Likelihood-ratio test of the phase x epoch interaction
#'
#' Compares the model with one that drops every term containing both epoch and
#' phase (the interaction and its modulation by agent).
#'
#' @param fit From `fit_dynamics_glmm()`.
#' @return Tibble with `chisq`, `df`, `p.value`.
#' @export
dynamics_interaction_test <- function(fit) {
  terms <- attr(stats::terms(fit), "term.labels")
  drop <- terms[grepl("epoch_c", terms) & grepl("phase", terms) & !grepl("\\|", terms)]
  f <- stats::update.formula(stats::formula(fit), stats::as.formula(paste(". ~ . -", paste(drop, collapse = " - "))))
  reduced <- lme4::glmer(f, data = attr(fit, "glmm_data"), family = stats::binomial(),
                         nAGQ = fit@devcomp$dims[["nAGQ"]], control = lme4::glmerControl(optimizer = "bobyqa"))
  # By hand: anova.merMod insists that both calls name the same data object.
  ll_full <- stats::logLik(fit)
  ll_red <- stats::logLik(reduced)
  chisq <- 2 * (as.numeric(ll_full) - as.numeric(ll_red))
  df <- attr(ll_full, "df") - attr(ll_red, "df")
  tibble::tibble(terms_dropped = paste(drop, collapse = ", "), chisq = chisq, df = df,
                 p.value = stats::pchisq(chisq, df, lower.tail = FALSE))
}

#' Learning-curve figure
#'
#' Mean per-run accuracy (+- 1 s.d. across runs) per epoch, train and test, one
#' panel per agent, over the binomial chance band (grey) and chance (dashed).
#'
#' @param df Dynamics trials, or a summary from `dynamics_accuracy()`.
#' @param band Chance band (`dynamics_chance_band()`).
#' @param chance Chance accuracy.
#' @return A ggplot.
#' @export
plot_dynamics_curves <- function(df, band = dynamics_chance_band(), chance = 1 / 3) {
  s <- if (all(c("mean", "sd") %in% names(df))) df else dynamics_accuracy(df)
  s$sd[is.na(s$sd)] <- 0
  s$phase <- factor(s$phase, levels = c("train", "test"))
  ggplot2::ggplot(s, ggplot2::aes(x = .data$epoch, y = .data$mean, colour = .data$phase, fill = .data$phase)) +
    ggplot2::annotate("rect", xmin = -Inf, xmax = Inf, ymin = band[[1]], ymax = band[[2]],
                      fill = "grey80", alpha = 0.6) +
    ggplot2::geom_hline(yintercept = chance, linetype = "dashed", colour = "grey40") +
    ggplot2::geom_ribbon(ggplot2::aes(ymin = pmax(0, .data$mean - .data$sd), ymax = pmin(1, .data$mean + .data$sd)),
                         alpha = 0.2, colour = NA) +
    ggplot2::geom_line() +
    ggplot2::geom_point() +
    ggplot2::facet_wrap(~agent) +
    ggplot2::scale_x_continuous(breaks = sort(unique(s$epoch))) +
    ggplot2::coord_cartesian(ylim = c(0, 1)) +
    ggplot2::labs(x = "epoch", y = "accuracy (mean +- s.d. over runs)", colour = "phase", fill = "phase") +
    ggplot2::theme_bw()
}

#' Generalisation-lag figure
#'
#' @param lag A lag table written by `repalign dynamics` (`lag.parquet`:
#'   agent, agent_type, lag, ...).
#' @return A ggplot of the lag per agent, coloured by agent type.
#' @export
plot_generalisation_lag <- function(lag) {
  missing <- setdiff(c("agent", "agent_type", "lag"), names(lag))
  if (length(missing)) stop(sprintf("lag table: missing column(s) %s", paste(missing, collapse = ", ")), call. = FALSE)
  lag <- lag[order(lag$lag), ]
  lag$agent <- factor(lag$agent, levels = lag$agent)
  ggplot2::ggplot(lag, ggplot2::aes(x = .data$agent, y = .data$lag, fill = .data$agent_type)) +
    ggplot2::geom_col() +
    ggplot2::geom_hline(yintercept = 0) +
    ggplot2::coord_flip() +
    ggplot2::labs(x = NULL, y = "generalisation lag (mean train - test accuracy)", fill = NULL) +
    ggplot2::theme_bw()
}

#' Fit, tabulate and plot learning dynamics in one call
#'
#' Fits `fit_dynamics_glmm()` on the trials and writes into `outdir`:
#' `glmm.csv` (tidy fixed effects), `slopes.csv` (`dynamics_slopes()`),
#' `curves.pdf` and, with `lag`, `lag.pdf`. `glmm.csv` is written last, so its
#' presence marks a complete report. The pipeline's `[dynamics]` stage calls it
#' through the Python bridge (`repalign.r.dynamics_report`) with data frames.
#'
#' @param data Trials: a data frame (checked with `check_dynamics()`) or
#'   dynamics table paths (`read_dynamics()`).
#' @param outdir Output directory.
#' @param nAGQ,random Passed to `fit_dynamics_glmm()`.
#' @param lag Optional generalisation-lag table: a data frame or the path of a
#'   `lag.parquet` table.
#' @return Invisibly, a list with `fit`, `fixed`, `slopes`.
#' @export
dynamics_report <- function(data, outdir,
                            nAGQ = 0, # nolint: object_name_linter. lme4::glmer's argument name
                            random = "intercept", lag = NULL) {
  df <- if (is.data.frame(data)) check_dynamics(data) else read_dynamics(data)
  dir.create(outdir, recursive = TRUE, showWarnings = FALSE)
  fit <- fit_dynamics_glmm(df, random = random, nAGQ = nAGQ)
  fixed <- tidy_dynamics_glmm(fit)
  slopes <- dynamics_slopes(fit)
  ggplot2::ggsave(file.path(outdir, "curves.pdf"), plot_dynamics_curves(df), width = 9, height = 6)
  if (!is.null(lag)) {
    if (!is.data.frame(lag)) lag <- read_table(lag)
    ggplot2::ggsave(file.path(outdir, "lag.pdf"), plot_generalisation_lag(lag), width = 6, height = 4)
  }
  if (any(slopes$separated %in% TRUE)) {
    sep <- unique(slopes$agent[slopes$separated %in% TRUE])
    message(sprintf(paste("dynamics GLMM: accuracy at ceiling/floor in some epoch for %s; their slopes are unreliable",
                          "(column 'separated')"),
                    paste(sep, collapse = ", ")))
  }
  write_csv_table(slopes, file.path(outdir, "slopes.csv"))
  write_csv_table(fixed, file.path(outdir, "glmm.csv"))
  invisible(list(fit = fit, fixed = fixed, slopes = slopes))
}

#' Default formula of the choice model
#'
#' Human choice (1 = right / category 1) regressed on the learner's
#' standardised value, with a population slope and a slope per participant and
#' no intercept, as in Demircan et al. (2024).
#'
#' @return A formula: `choice ~ 0 + value + (0 + value | participant)`.
#' @export
default_choice_formula <- function() {
  choice ~ 0 + value + (0 + value | participant)
}

# Check and normalise a trial table for the choice model: binary choice, finite
# values, participant as character. Returns a plain data.frame.
prepare_choice_data <- function(data, formula, what = "trials") {
  vars <- unique(c(all.vars(formula), "participant", "value"))
  check_columns(data, vars, what)
  data <- as.data.frame(data)
  data$choice <- check_binary(data$choice, sprintf("%s: column 'choice'", what))
  check_finite(data$value, sprintf("%s: column 'value'", what))
  data$participant <- as.character(data$participant)
  data
}

#' Fit the choice model: a logistic GLMM of human choices on learner values
#'
#' The learner's `value` (reward learner: right minus left value; category
#' learner: its probability of category 1) is standardised over the rows of
#' `data` (mean 0, s.d. 1) and the formula is fitted with [lme4::glmer()]
#' (`engine = "lme4"`, the default: binomial, logit link, Laplace
#' approximation) or [brms::brm()] (`engine = "brms"`: Bernoulli, logit link,
#' NUTS sampling).
#'
#' brms priors (weakly informative, on the logit scale of a standardised
#' value; the same as the trial-level [default_alignment_priors()]):
#' `normal(0, 2.5)` on the coefficients, `student_t(3, 0, 2.5)` on the
#' participant s.d.s and `lkj(2)` on random-effect correlations (used only when
#' the formula has them).
#'
#' @param data Trial table with at least `participant`, `value`, `choice`
#'   (0/1) and any other variable the formula names; one (model, layer, task).
#'   Rows repeating a (model, layer, task, participant, trial) are an error.
#' @param formula Model formula; `value` in it is the standardised value.
#' @param standardise Standardise `value` first (default `TRUE`).
#' @param control lme4: [lme4::glmerControl()] settings.
#' @param start lme4: optional starting values (`list(theta =, fixef =)`).
#' @param engine `"lme4"` or `"brms"`.
#' @param prior brms priors (default `default_alignment_priors("trial")`).
#' @param chains,iter,warmup,cores,seed brms sampling settings.
#' @param adapt_delta brms/Stan target acceptance rate (0.99, as in
#'   [fit_alignment_model()]).
#' @param cache_dir brms: directory where the fit is cached as
#'   `<cache_name>.rds` (re-used when data, formula and priors are unchanged;
#'   refitted otherwise); `NULL` for no cache.
#' @param cache_name brms: file name of the cached fit; give each
#'   (model, layer, task) its own name to keep one cached fit per choice model.
#' @return lme4: a `glmerMod`; brms: a `brmsfit`. Either has attributes
#'   `standardisation` (`center`, `scale` of the raw value) and `diagnostics`
#'   (`converged`, `singular`, `messages`; brms adds `rhat_max`, `divergent`,
#'   `ess_bulk_min`, and `converged` means max R-hat < 1.01 and no divergent
#'   transitions). Non-convergence is recorded there and reported as a warning.
#' @export
fit_choice_model <- function(data, formula = default_choice_formula(), standardise = TRUE,
                             control = lme4::glmerControl(), start = NULL, engine = c("lme4", "brms"),
                             prior = NULL, chains = 4L, iter = 2000L, warmup = floor(iter / 2), cores = 1L,
                             seed = 1L, adapt_delta = 0.99, cache_dir = NULL, cache_name = "choice") {
  engine <- match.arg(engine)
  # (refits warm-started from a checked full fit skip the check: the LOO loops pass `start`)
  if (is.null(start)) check_unique_trials(data, "trials")
  data <- prepare_choice_data(data, formula)
  center <- 0
  scale <- 1
  if (standardise) {
    z <- standardise(data$value)
    center <- attr(z, "center")
    scale <- attr(z, "scale")
    data$value <- as.numeric(z)
  }
  if (engine == "lme4") {
    # Singularity is recorded in the diagnostics rather than printed as a message.
    res <- collect_warnings(suppressMessages(lme4::glmer(formula, data = data, family = stats::binomial(),
                                                         control = control, start = start)))
    fit <- res$value
    diag <- lme4_diagnostics(fit)
    if (length(res$warnings)) {
      diag$messages <- paste(c(if (nzchar(diag$messages)) diag$messages, res$warnings), collapse = "; ")
      diag$converged <- diag$converged && !any(grepl("converge", res$warnings, ignore.case = TRUE))
    }
  } else {
    require_brms()
    if (is.null(prior)) prior <- default_alignment_priors("trial")
    file <- if (!is.null(cache_dir)) file.path(cache_dir, cache_name)
    res <- fit_brms(formula, data, brms::bernoulli(), prior, chains = chains, iter = iter, warmup = warmup,
                    cores = cores, seed = seed, adapt_delta = adapt_delta, file = file)
    fit <- res$fit
    diag <- res$diagnostics
  }
  if (!diag$converged) warning("choice model did not converge: ", diag$messages, call. = FALSE)
  attr(fit, "standardisation") <- c(center = center, scale = scale)
  attr(fit, "diagnostics") <- diag
  if (engine == "brms") attr(fit, "formula") <- formula  # lme4 names of the terms, for tidy_choice_model()
  fit
}

#' Tidy table of a choice model's fixed effects
#'
#' @param fit A fit from [fit_choice_model()].
#' @param conf.level Level of the intervals: Wald intervals for lme4 fits,
#'   posterior (equal-tailed) intervals for brms fits.
#' @return A tibble: term, estimate, std.error, statistic, p.value, conf.low,
#'   conf.high, converged, singular, messages. For brms fits `estimate` and
#'   `std.error` are the posterior mean and s.d., `statistic`, `p.value` and
#'   `singular` are `NA`, and terms carry lme4's names.
#' @export
tidy_choice_model <- function(fit, conf.level = 0.95) { # nolint: object_name_linter. broom's argument name
  if (inherits(fit, "brmsfit")) {
    tab <- suppressWarnings(suppressMessages(
      broom.mixed::tidy(fit, effects = "fixed", conf.int = TRUE, conf.level = conf.level)))
    diag <- attr(fit, "diagnostics")
    tab <- tibble::tibble(term = brms_lme4_terms(tab$term, attr(fit, "formula") %||% stats::formula(fit$formula),
                                                 fit$data),
                          estimate = tab$estimate, std.error = tab$std.error, statistic = NA_real_,
                          p.value = NA_real_, conf.low = tab$conf.low, conf.high = tab$conf.high)
  } else {
    tab <- broom.mixed::tidy(fit, effects = "fixed", conf.int = TRUE, conf.level = conf.level)
    diag <- attr(fit, "diagnostics") %||% lme4_diagnostics(fit)
  }
  tab$converged <- diag$converged
  tab$singular <- diag$singular
  tab$messages <- diag$messages
  tab[setdiff(names(tab), "effect")]
}

`%||%` <- function(a, b) if (is.null(a)) b else a

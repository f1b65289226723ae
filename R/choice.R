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
#' (binomial, logit link, Laplace approximation).
#'
#' @param data Trial table with at least `participant`, `value`, `choice`
#'   (0/1) and any other variable the formula names; one (model, layer, task).
#' @param formula Model formula; `value` in it is the standardised value.
#' @param standardise Standardise `value` first (default `TRUE`).
#' @param control [lme4::glmerControl()] settings.
#' @param start Optional starting values (`list(theta =, fixef =)`).
#' @return A `glmerMod` with attributes `standardisation` (`center`, `scale`
#'   of the raw value) and `diagnostics` (`converged`, `singular`, `messages`).
#'   Non-convergence is recorded there and reported as a warning.
#' @export
fit_choice_model <- function(data, formula = default_choice_formula(), standardise = TRUE,
                             control = lme4::glmerControl(), start = NULL) {
  data <- prepare_choice_data(data, formula)
  center <- 0
  scale <- 1
  if (standardise) {
    z <- standardise(data$value)
    center <- attr(z, "center")
    scale <- attr(z, "scale")
    data$value <- as.numeric(z)
  }
  # Singularity is recorded in the diagnostics rather than printed as a message.
  res <- collect_warnings(suppressMessages(lme4::glmer(formula, data = data, family = stats::binomial(),
                                                       control = control, start = start)))
  fit <- res$value
  diag <- lme4_diagnostics(fit)
  if (length(res$warnings)) {
    diag$messages <- paste(c(if (nzchar(diag$messages)) diag$messages, res$warnings), collapse = "; ")
    diag$converged <- diag$converged && !any(grepl("converge", res$warnings, ignore.case = TRUE))
  }
  if (!diag$converged) warning("choice model did not converge: ", diag$messages, call. = FALSE)
  attr(fit, "standardisation") <- c(center = center, scale = scale)
  attr(fit, "diagnostics") <- diag
  fit
}

#' Tidy table of a choice model's fixed effects
#'
#' @param fit A fit from [fit_choice_model()].
#' @param conf.level Confidence level of the Wald intervals.
#' @return A tibble: term, estimate, std.error, statistic, p.value, conf.low,
#'   conf.high, converged, singular, messages.
#' @export
tidy_choice_model <- function(fit, conf.level = 0.95) {
  tab <- broom.mixed::tidy(fit, effects = "fixed", conf.int = TRUE, conf.level = conf.level)
  diag <- attr(fit, "diagnostics") %||% lme4_diagnostics(fit)
  tab$converged <- diag$converged
  tab$singular <- diag$singular
  tab$messages <- diag$messages
  tab[setdiff(names(tab), "effect")]
}

`%||%` <- function(a, b) if (is.null(a)) b else a

#' Shape bias: GLMM of shape decisions on cue-conflict images
#'
#' For the `decisions` tables written by the `shape_bias` metric of
#' `repalign.metrics` (columns of the classification decisions plus `shape`,
#' `texture`, `conflict` and `cue` = shape | texture | other). Geirhos et al.
#' (2019) define shape bias as shape / (shape + texture) decisions over the
#' cue-conflict trials; the GLMM models the same quantity trial by trial:
#' P(shape | shape or texture decision) ~ agent + (1 | image) + (1 | person).
#' @name shape_bias
NULL

#' Model frame of the shape-bias GLMM
#'
#' @param df Decisions of one dataset with `cue` and `conflict`.
#' @param humans Name of the pooled people's agent (the reference level).
#' @return Tibble of the cue-decided conflict trials: `agent` (factor, every person
#'   becomes `humans`), `subject`, `is_human`, `image`, `shape` (1 = decided by shape).
#' @export
shape_bias_model_data <- function(df, humans = "humans") {
  missing <- setdiff(c("cue", "conflict"), names(df))
  if (length(missing)) {
    stop(sprintf("shape-bias model: decisions lack column(s) %s (a shape_bias decisions table)",
                 paste(missing, collapse = ", ")), call. = FALSE)
  }
  bad <- setdiff(unique(as.character(df$cue)), c("shape", "texture", "other"))
  if (length(bad)) {
    stop(sprintf("shape-bias model: column 'cue' has value(s) %s; allowed: shape, texture, other",
                 paste(bad, collapse = ", ")), call. = FALSE)
  }
  keep <- as.logical(df$conflict) & df$cue %in% c("shape", "texture")
  if (!any(keep)) stop("shape-bias model: no conflict trial decided by shape or texture", call. = FALSE)
  cue <- df$cue[keep]
  d <- accuracy_model_data(df[keep, , drop = FALSE], humans = humans)
  d$correct <- NULL
  d$shape <- as.numeric(cue == "shape")
  d
}

#' Binomial GLMM of shape decisions
#'
#' Fits `shape ~ agent + (1 | image) + (0 + is_human | subject)` with `lme4::glmer`
#' (binomial, logit) on the cue-decided conflict trials of one dataset: one fixed
#' effect per agent against the pooled people (reference `humans`), a random
#' intercept per image and one per person (people only).
#'
#' @param df Decisions of one dataset (see `shape_bias_model_data()`).
#' @param nAGQ 0 (fast) or 1 (Laplace, default).
#' @param control `lme4::glmerControl()`.
#' @return A `glmerMod` with attribute `dataset`.
#' @export
fit_shape_bias_model <- function(df, nAGQ = 1, # nolint: object_name_linter. lme4::glmer's argument name
                                 control = lme4::glmerControl(optimizer = "bobyqa")) {
  d <- shape_bias_model_data(df)
  fixed <- if (nlevels(d$agent) > 1) "agent" else "1"
  f <- stats::as.formula(paste("shape ~", fixed, "+ (1 | image) + (0 + is_human | subject)"))
  fit <- lme4::glmer(f, data = d, family = stats::binomial(), nAGQ = nAGQ, control = control)
  attr(fit, "dataset") <- as.character(d$dataset[1])
  fit
}

#' Tidy tables of a shape-bias GLMM
#'
#' @param fit From `fit_shape_bias_model()`.
#' @param level Coverage of the intervals.
#' @return `tidy_shape_bias_model()`: broom.mixed fixed effects (log-odds, Wald
#'   intervals) with `dataset`, `converged`, `singular`, `messages`.
#'   `shape_bias_estimates()`: per agent, the log-odds of a shape decision on a
#'   typical image and the probability (`shape_bias`, `shape_bias.low`, `shape_bias.high`).
#' @export
tidy_shape_bias_model <- function(fit) tidy_accuracy_model(fit)

#' @rdname tidy_shape_bias_model
#' @export
shape_bias_estimates <- function(fit, level = 0.95) {
  est <- accuracy_model_estimates(fit, level = level)
  names(est) <- sub("^accuracy", "shape_bias", names(est))
  est
}

#' Classification behaviour: accuracy GLMM and the accuracy / error-consistency figure
#'
#' Functions for the `decisions` tables written by the `classification` metric of
#' `repalign.metrics` (one row per agent and image: dataset, agent, agent_type,
#' subject, stimulus_id, category, response, correct) and its classification
#' table (metrics kind with `agent_type` and `other`): a binomial GLMM of
#' trial-wise correctness with the people as one agent, and a figure of accuracy
#' and error consistency (Geirhos, Meding & Wichmann 2020) per agent.
#' @name classification
NULL

.decisions_required <- c("dataset", "agent", "agent_type", "subject", "stimulus_id", "correct")

#' Check a decisions table
#'
#' @param df Data frame of decisions.
#' @param where Name used in error messages.
#' @return `df` as a tibble with logical `correct`; errors name the column.
#' @export
check_decisions <- function(df, where = "decisions table") {
  missing <- setdiff(.decisions_required, names(df))
  if (length(missing)) {
    stop(sprintf("%s: missing column(s) %s", where, paste(missing, collapse = ", ")), call. = FALSE)
  }
  if (anyNA(df$correct) || !all(df$correct %in% c(0, 1))) {
    stop(sprintf("%s: column 'correct' must be logical or 0/1 without NA", where), call. = FALSE)
  }
  bad <- setdiff(unique(as.character(df$agent_type)), c("human", "network", "model"))
  if (length(bad)) {
    stop(sprintf("%s: column 'agent_type' has value(s) %s; allowed: human, network, model", where,
                 paste(bad, collapse = ", ")), call. = FALSE)
  }
  df <- tibble::as_tibble(df)
  df$correct <- as.logical(df$correct)
  df
}

#' Model frame of the accuracy GLMM
#'
#' @param df Decisions of one dataset.
#' @param humans Name of the pooled people's agent (the reference level).
#' @return Tibble with `agent` (factor; every person becomes `humans`), `subject`
#'   (the person, or the agent itself), `is_human` (1 for people), `image`, `correct`.
#' @export
accuracy_model_data <- function(df, humans = "humans") {
  df <- check_decisions(df)
  if (length(unique(df$dataset)) != 1) {
    stop(sprintf("accuracy model: one dataset at a time, got %s", paste(unique(df$dataset), collapse = ", ")),
         call. = FALSE)
  }
  person <- df$agent_type == "human"
  if (!any(person)) stop("accuracy model: no people (agent_type 'human') in the decisions", call. = FALSE)
  if (humans %in% df$agent[!person]) {
    stop(sprintf("accuracy model: agent name '%s' is reserved for the pooled people", humans), call. = FALSE)
  }
  agent <- ifelse(person, humans, as.character(df$agent))
  tibble::tibble(dataset = df$dataset, agent = factor(agent, levels = c(humans, setdiff(sort(unique(agent)), humans))),
                 subject = factor(as.character(df$subject)), is_human = as.numeric(person),
                 image = factor(as.character(df$stimulus_id)), correct = df$correct)
}

#' Binomial GLMM of trial-wise correctness
#'
#' Fits `correct ~ agent + (1 | image) + (0 + is_human | subject)` with
#' `lme4::glmer` (binomial, logit) on one dataset's decisions: one fixed effect
#' per agent against the pooled people (reference level `humans`), a random
#' intercept per image (images differ in difficulty for everyone), and a random
#' intercept per person, i.e. `(1 | subject)` for the people only (`is_human` is 0
#' for networks and models, each of which is one agent with its own fixed effect).
#'
#' @param df Decisions of one dataset (see `check_decisions()`).
#' @param nAGQ 0 (fast) or 1 (Laplace, default).
#' @param control `lme4::glmerControl()`.
#' @return A `glmerMod` with attribute `dataset`.
#' @export
fit_accuracy_model <- function(df, nAGQ = 1, # nolint: object_name_linter. lme4::glmer's argument name
                               control = lme4::glmerControl(optimizer = "bobyqa")) {
  d <- accuracy_model_data(df)
  fixed <- if (nlevels(d$agent) > 1) "agent" else "1"
  f <- stats::as.formula(paste("correct ~", fixed, "+ (1 | image) + (0 + is_human | subject)"))
  fit <- lme4::glmer(f, data = d, family = stats::binomial(), nAGQ = nAGQ, control = control)
  attr(fit, "dataset") <- as.character(d$dataset[1])
  fit
}

#' Tidy tables of an accuracy GLMM
#'
#' @param fit From `fit_accuracy_model()`.
#' @return `tidy_accuracy_model()`: tibble (broom.mixed) of fixed effects on the
#'   log-odds scale with Wald 95% intervals, plus `dataset`, `converged`,
#'   `singular`, `messages`. `accuracy_model_estimates()`: one row per agent with
#'   its log-odds of a correct answer on a typical image (random effects at 0),
#'   Wald s.e. and interval, and the same on the accuracy scale (`accuracy`,
#'   `accuracy.low`, `accuracy.high`).
#' @export
tidy_accuracy_model <- function(fit) {
  tab <- broom.mixed::tidy(fit, effects = "fixed", conf.int = TRUE, conf.method = "Wald")
  diag <- lme4_diagnostics(fit)
  tab$dataset <- attr(fit, "dataset") %||% NA_character_
  tab$converged <- diag$converged
  tab$singular <- diag$singular
  tab$messages <- diag$messages
  tab
}

#' @rdname tidy_accuracy_model
#' @param level Coverage of the intervals.
#' @export
accuracy_model_estimates <- function(fit, level = 0.95) {
  b <- lme4::fixef(fit)
  v <- as.matrix(stats::vcov(fit))
  agents <- levels(stats::model.frame(fit)$agent %||% factor("all"))
  z <- stats::qnorm(1 - (1 - level) / 2)
  rows <- lapply(agents, function(a) {
    w <- stats::setNames(numeric(length(b)), names(b))
    w["(Intercept)"] <- 1
    term <- paste0("agent", a)
    if (term %in% names(b)) w[term] <- 1
    est <- sum(w * b)
    se <- sqrt(drop(t(w) %*% v %*% w))
    tibble::tibble(dataset = attr(fit, "dataset") %||% NA_character_, agent = a, estimate = est, std.error = se,
                   conf.low = est - z * se, conf.high = est + z * se, accuracy = stats::plogis(est),
                   accuracy.low = stats::plogis(est - z * se), accuracy.high = stats::plogis(est + z * se))
  })
  dplyr::bind_rows(rows)
}

#' Accuracy and error consistency per agent
#'
#' Two rows of panels (accuracy; mean error consistency kappa to the people),
#' one column per dataset: a point with its bootstrap CI per network, model and
#' the pooled people; the grey band spans the individual people (their
#' accuracies; each person's mean kappa to the other people), the dotted line is
#' chance accuracy (1/16) and kappa = 0.
#'
#' @param metrics The classification table (`metric`, `model`, `dataset`,
#'   `value`, `ci_low`, `ci_high`, `agent_type`).
#' @param chance Chance accuracy.
#' @return A ggplot.
#' @export
plot_classification <- function(metrics, chance = 1 / 16) {
  missing <- setdiff(c("model", "dataset", "metric", "value", "ci_low", "ci_high", "agent_type"), names(metrics))
  if (length(missing)) {
    stop(sprintf("classification table: missing column(s) %s", paste(missing, collapse = ", ")), call. = FALSE)
  }
  m <- metrics[metrics$metric %in% c("accuracy", "kappa_to_humans"), ]
  if (!nrow(m)) stop("classification table: no accuracy or kappa_to_humans rows", call. = FALSE)
  m$panel <- factor(ifelse(m$metric == "accuracy", "accuracy", "kappa to humans"), c("accuracy", "kappa to humans"))
  people <- m[m$agent_type == "human", ]
  band <- dplyr::summarise(dplyr::group_by(people, .data$dataset, .data$panel),
                           lo = min(.data$value), hi = max(.data$value), .groups = "drop")
  pts <- m[m$agent_type != "human", ]
  ord <- pts[pts$metric == "kappa_to_humans", ]
  ord <- ord[order(ord$agent_type != "humans", -ord$value), ]
  pts$model <- factor(pts$model, levels = rev(unique(c(ord$model, pts$model))))
  ref <- data.frame(panel = factor(c("accuracy", "kappa to humans"), levels(m$panel)), y = c(chance, 0))
  ggplot2::ggplot(pts, ggplot2::aes(y = .data$model, x = .data$value, colour = .data$agent_type)) +
    ggplot2::geom_rect(data = band, inherit.aes = FALSE, ggplot2::aes(xmin = .data$lo, xmax = .data$hi),
                       ymin = -Inf, ymax = Inf, fill = "grey80", alpha = 0.6) +
    ggplot2::geom_vline(data = ref, ggplot2::aes(xintercept = .data$y), linetype = "dotted", colour = "grey40") +
    ggplot2::geom_errorbarh(ggplot2::aes(xmin = .data$ci_low, xmax = .data$ci_high), height = 0.25) +
    ggplot2::geom_point(size = 2) +
    ggplot2::facet_grid(dataset ~ panel, scales = "free_x") +
    ggplot2::labs(x = "value (95% bootstrap CI over images); grey: range of individual people", y = NULL,
                  colour = NULL) +
    ggplot2::theme_bw()
}

# ggplot2 figures of alignment scores, model coefficients and learning curves, in
# the shared repalign style (R/theme.R; the Python figures use the same numbers).

# CI whiskers in the shared style: vertical, no caps.
ci_whiskers <- function(mapping) {
  ggplot2::geom_linerange(mapping, linewidth = repalign_style()$ci_linewidth / 2, alpha = 0.8)
}

zero_line <- function() {
  z <- repalign_style()$zero
  ggplot2::geom_hline(yintercept = 0, colour = z$colour, linetype = z$linetype, linewidth = z$linewidth / 2)
}

# Population-level predictions of a model-level alignment fit along log10(size + 1),
# one line per objective over that objective's own range of sizes (half a decade
# either side of a single size, not below 0), the other numeric covariates at the
# objective's mean (so a line passes through its objective's points), random
# effects at 0.
alignment_fit_lines <- function(fit, n = 30L) {
  d <- as.data.frame(fit$data)
  vars <- setdiff(all.vars(fit$formula), c("pseudo_r2", "train_size", "objective"))
  d$lx <- log10(d$train_size + 1)
  grid <- do.call(rbind, lapply(split(d, d$objective), function(g) {
    r <- range(g$lx)
    if (diff(r) == 0) r <- c(max(0, r[1] - 0.5), r[2] + 0.5)
    out <- data.frame(lx = seq(r[1], r[2], length.out = n), objective = g$objective[1], stringsAsFactors = FALSE)
    for (v in vars) out[[v]] <- if (is.numeric(g[[v]])) mean(g[[v]], na.rm = TRUE) else g[[v]][1]
    out
  }))
  grid$train_size <- 10^grid$lx - 1
  grid$pseudo_r2 <- if (fit$engine == "brms") {
    stats::fitted(fit$fit, newdata = grid, re_formula = NA)[, "Estimate"]
  } else {
    stats::predict(fit$fit, newdata = grid, re.form = NA)
  }
  grid
}

#' Alignment against log10 training-set size, coloured by objective
#'
#' Points with their CI whiskers; with `fit`, the fitted model-level alignment
#' model's population-level lines, one per objective (other covariates at the
#' objective's mean); without it, a least-squares line per objective. Untrained models
#' (size 0) sit at log10(0 + 1) = 0, as in [default_alignment_formula()].
#'
#' @param data [alignment_data()] of alignment scores (`pseudo_r2`, `ci_low`,
#'   `ci_high`, `train_size`, `objective`).
#' @param fit Optional model-level fit from [fit_alignment_model()].
#' @return A ggplot.
#' @export
plot_alignment_vs_size <- function(data, fit = NULL) {
  check_columns(data, c("pseudo_r2", "train_size", "objective"), "alignment data")
  data <- as.data.frame(data)
  data$lx <- log10(data$train_size + 1)
  p <- ggplot2::ggplot(data, ggplot2::aes(x = .data$lx, y = .data$pseudo_r2, colour = .data$objective)) +
    zero_line()
  if (all(c("ci_low", "ci_high") %in% names(data))) {
    p <- p + ci_whiskers(ggplot2::aes(ymin = .data$ci_low, ymax = .data$ci_high))
  }
  if (!is.null(fit) && identical(fit$level, "model")) {
    lines <- alignment_fit_lines(fit)
    p <- p + ggplot2::geom_line(data = lines, linewidth = 0.7)
    caption <- paste(strwrap(sprintf("lines: fitted %s alignment model, population level, other covariates at each objective's mean: %s",
                                     fit$engine, paste(deparse(lme4::nobars(fit$formula), width.cutoff = 500L),
                                                       collapse = "")), 90), collapse = "\n")
  } else {
    p <- p + ggplot2::geom_smooth(method = "lm", formula = y ~ x, se = FALSE, linewidth = 0.7)
    caption <- "lines: least squares per objective"
  }
  p + ggplot2::geom_point(size = 2) +
    scale_colour_objective(data$objective) +
    ggplot2::labs(x = "log10(training-set size + 1)", y = "cross-validated pseudo-R\u00b2", caption = caption) +
    theme_repalign() +
    ggplot2::theme(plot.caption = ggplot2::element_text(hjust = 0, size = 8), plot.caption.position = "plot")
}

#' Alignment against intrinsic dimensionality, one panel per objective
#'
#' @param data [alignment_data()] of alignment scores with `intrinsic_dim`.
#' @return A ggplot.
#' @export
plot_alignment_vs_id <- function(data) {
  check_columns(data, c("pseudo_r2", "intrinsic_dim", "objective"), "alignment data")
  ggplot2::ggplot(data, ggplot2::aes(x = .data$intrinsic_dim, y = .data$pseudo_r2)) +
    zero_line() +
    (if (all(c("ci_low", "ci_high") %in% names(data)))
      ci_whiskers(ggplot2::aes(ymin = .data$ci_low, ymax = .data$ci_high, colour = .data$objective))) +
    ggplot2::geom_point(ggplot2::aes(colour = .data$objective), size = 2) +
    ggplot2::geom_smooth(method = "lm", formula = y ~ x, se = FALSE, colour = "grey40", linewidth = 0.5) +
    ggplot2::facet_wrap(~objective) +
    scale_colour_objective(data$objective) +
    ggplot2::labs(x = "intrinsic dimensionality", y = "cross-validated pseudo-R\u00b2", colour = "objective") +
    theme_repalign()
}

#' Coefficient plot of alignment models
#'
#' @param coefs Tidy table(s) from [tidy_alignment_model()] (rows of several
#'   fits may be bound together).
#' @return A ggplot: estimate and interval per term, one panel per level.
#' @export
plot_coefficients <- function(coefs) {
  check_columns(coefs, c("term", "estimate", "conf.low", "conf.high", "level", "engine"), "coefficients")
  coefs <- coefs[coefs$term != "(Intercept)", , drop = FALSE]
  ggplot2::ggplot(coefs, ggplot2::aes(x = .data$estimate, y = .data$term, colour = .data$engine)) +
    ggplot2::geom_vline(xintercept = 0, linetype = "dashed", colour = "grey50") +
    ggplot2::geom_pointrange(ggplot2::aes(xmin = .data$conf.low, xmax = .data$conf.high),
                             position = ggplot2::position_dodge(width = 0.5)) +
    ggplot2::facet_wrap(~level, scales = "free") +
    ggplot2::labs(x = "estimate (95% interval)", y = NULL, colour = "engine") +
    theme_repalign()
}

#' Learning curves of learners and humans
#'
#' Per trial, mean accuracy across participants of the human choices and of
#' the learner's choices (reward: picking the option with the higher reward,
#' the learner choosing right when its value > 0, ties counted as 0.5;
#' category: the correct category, the learner's expected accuracy being its
#' probability of the true category). One panel per model (and layer).
#'
#' @param trials Trial table with `model`, `layer`, `trial`, `value`,
#'   `choice` and either `reward_left`/`reward_right` or `true_category`.
#' @param bin Trials per point (curves are averaged over bins of trials).
#' @return A ggplot.
#' @export
plot_learning_curves <- function(trials, bin = 10L) {
  check_columns(trials, c("model", "layer", "trial", "value", "choice"), "trials")
  trials <- as.data.frame(trials)
  if (all(c("reward_left", "reward_right") %in% names(trials))) {
    better <- ifelse(trials$reward_right > trials$reward_left, 1, ifelse(trials$reward_right < trials$reward_left, 0, NA))
    human <- as.numeric(trials$choice == better)
    learner <- ifelse(trials$value == 0, 0.5, as.numeric((trials$value > 0) == (better == 1)))
  } else if ("true_category" %in% names(trials)) {
    human <- as.numeric(trials$choice == trials$true_category)
    learner <- ifelse(trials$true_category == 1, trials$value, 1 - trials$value)
  } else {
    stop("trials: learning curves need reward_left/reward_right or true_category", call. = FALSE)
  }
  trials$bin <- (trials$trial - 1L) %/% bin * bin + (bin + 1) / 2
  trials$panel <- paste(trials$model, trials$layer, sep = " / ")
  long <- rbind(data.frame(panel = trials$panel, bin = trials$bin, agent = "human", accuracy = human),
                data.frame(panel = trials$panel, bin = trials$bin, agent = "learner", accuracy = learner))
  long <- long[is.finite(long$accuracy), ]
  agg <- stats::aggregate(accuracy ~ panel + bin + agent, data = long, FUN = mean)
  ch <- repalign_style()$chance
  ggplot2::ggplot(agg, ggplot2::aes(x = .data$bin, y = .data$accuracy, colour = .data$agent)) +
    ggplot2::geom_hline(yintercept = 0.5, linetype = ch$linetype, colour = ch$colour, linewidth = ch$linewidth / 2) +
    ggplot2::geom_line() + ggplot2::geom_point(size = 1) +
    ggplot2::facet_wrap(~panel) +
    ggplot2::scale_colour_manual(values = c(human = "#000000", learner = "#009E73")) +
    ggplot2::labs(x = "trial", y = "accuracy (dotted: chance)", colour = NULL) +
    theme_repalign()
}

#' Save a figure as PDF and PNG
#'
#' @param plot A ggplot.
#' @param stem Output path without extension; `<stem>.pdf` and `<stem>.png`.
#' @param width,height Size in inches.
#' @return The two paths, invisibly.
#' @export
save_figure <- function(plot, stem, width = 7, height = 5) {
  dir.create(dirname(stem), recursive = TRUE, showWarnings = FALSE)
  paths <- paste0(stem, c(".pdf", ".png"))
  ggplot2::ggsave(paths[1], plot, width = width, height = height, device = grDevices::pdf)
  ggplot2::ggsave(paths[2], plot, width = width, height = height, dpi = 150, bg = "white")
  invisible(paths)
}

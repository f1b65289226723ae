# ggplot2 figures of alignment scores, model coefficients and learning curves.

#' Alignment against training-set size, coloured by objective
#'
#' @param data [alignment_data()] of alignment scores (`pseudo_r2`, `ci_low`,
#'   `ci_high`, `train_size`, `objective`).
#' @return A ggplot.
#' @export
plot_alignment_vs_size <- function(data) {
  check_columns(data, c("pseudo_r2", "train_size", "objective"), "alignment data")
  # n + 1, as in the model's log10(train_size + 1): untrained controls (size 0) sit at 1
  p <- ggplot2::ggplot(data, ggplot2::aes(x = .data$train_size + 1, y = .data$pseudo_r2, colour = .data$objective))
  if (all(c("ci_low", "ci_high") %in% names(data))) {
    p <- p + ggplot2::geom_errorbar(ggplot2::aes(ymin = .data$ci_low, ymax = .data$ci_high), width = 0, alpha = 0.5)
  }
  p + ggplot2::geom_point(size = 2) +
    ggplot2::scale_x_log10() +
    ggplot2::labs(x = "training-set size + 1 (examples, log scale)", y = "cross-validated pseudo-R\u00b2",
                  colour = "objective") +
    ggplot2::theme_bw()
}

#' Alignment against intrinsic dimensionality, one panel per objective
#'
#' @param data [alignment_data()] of alignment scores with `intrinsic_dim`.
#' @return A ggplot.
#' @export
plot_alignment_vs_id <- function(data) {
  check_columns(data, c("pseudo_r2", "intrinsic_dim", "objective"), "alignment data")
  ggplot2::ggplot(data, ggplot2::aes(x = .data$intrinsic_dim, y = .data$pseudo_r2)) +
    ggplot2::geom_point(ggplot2::aes(colour = .data$objective), size = 2) +
    ggplot2::geom_smooth(method = "lm", formula = y ~ x, se = FALSE, colour = "grey40", linewidth = 0.5) +
    ggplot2::facet_wrap(~objective) +
    ggplot2::labs(x = "intrinsic dimensionality", y = "cross-validated pseudo-R\u00b2", colour = "objective") +
    ggplot2::theme_bw()
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
    ggplot2::theme_bw()
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
  ggplot2::ggplot(agg, ggplot2::aes(x = .data$bin, y = .data$accuracy, colour = .data$agent)) +
    ggplot2::geom_hline(yintercept = 0.5, linetype = "dotted", colour = "grey50") +
    ggplot2::geom_line() + ggplot2::geom_point(size = 1) +
    ggplot2::facet_wrap(~panel) +
    ggplot2::labs(x = "trial", y = "accuracy", colour = NULL) +
    ggplot2::theme_bw()
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
  ggplot2::ggsave(paths[2], plot, width = width, height = height, dpi = 150)
  invisible(paths)
}

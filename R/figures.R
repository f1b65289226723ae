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

# Whether a fit may draw lines: a model-level fit that converged and is not
# saturated (fewer than min_models_per_effect models per fixed effect: its
# estimates rest on too few networks to draw a trend from). Returns "" when it
# may, else the reason (one phrase) for the figure's caption.
fit_line_problem <- function(fit) {
  if (is.null(fit)) return("no alignment model was fitted")
  if (!identical(fit$level, "model")) return("the alignment model is not a model-level fit")
  if (!isTRUE(fit$diagnostics$converged)) return("the alignment model did not converge")
  sat <- fit$diagnostics$saturation
  if (!is.null(sat) && !isTRUE(sat$ok)) {
    return(sprintf("the alignment model is saturated (%d models for %d fixed effects)", sat$n_models, sat$n_fixed))
  }
  ""
}

# Horizontal offsets that spread points sharing an x position (within `width`
# in x units) so that none hides another: centred on the true x, `step` apart.
spread_x <- function(x, step = 0.08, width = 0.02) {
  key <- round(x / width)
  out <- x
  for (k in unique(key)) {
    i <- which(key == k)
    if (length(i) > 1) out[i] <- x[i] + (seq_along(i) - (length(i) + 1) / 2) * step
  }
  out
}

# Objectives in the shared palette's order (then any others, sorted): a fixed,
# meaningful order for panels and legends instead of the alphabet.
objective_levels <- function(objectives) {
  objectives <- unique(as.character(objectives))
  pal <- names(repalign_style()$objective_colours)
  c(intersect(pal, objectives), sort(setdiff(objectives, pal)))
}

# The axis title of an intrinsic-dimensionality metric, e.g. "intrinsic dimensionality (TwoNN)" for
# "dimensionality_twonn".
id_axis_label <- function(id_metric = NULL) {
  names <- c(twonn = "TwoNN", mle = "MLE", pr = "participation ratio", pca = "PCA", gride = "GRIDE")
  est <- sub("^dimensionality_", "", id_metric %||% "")
  if (!nzchar(est)) return("intrinsic dimensionality")
  sprintf("intrinsic dimensionality (%s)", if (est %in% names(names)) names[[est]] else est)
}

#' Alignment against log10 training-set size, coloured by objective
#'
#' Points with their CI whiskers, one marker shape per model, points at the same
#' size spread sideways so that none hides another (e.g. an untrained network and
#' the pixel baseline, both at size 0). With `fit` (a converged, not saturated
#' model-level fit from [fit_alignment_model()]), its population-level lines, one
#' per objective (other covariates at the objective's mean); otherwise points only
#' and the caption says why: a line from a saturated or unconverged fit, or a
#' least-squares line through a handful of models, would show a trend the data
#' do not support. Untrained models (size 0) sit at log10(0 + 1) = 0, as in
#' [default_alignment_formula()].
#'
#' The caption (what the lines and whiskers are, or why there is no line) is in
#' the figure and in `attr(plot, "repalign_caption")`, which [save_figure()]
#' writes beside the figure for the HTML report.
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
  data$x <- spread_x(data$lx)
  data$objective <- factor(data$objective, levels = objective_levels(data$objective))
  has_model <- "model" %in% names(data)
  aes_pt <- if (has_model) ggplot2::aes(x = .data$x, y = .data$pseudo_r2, colour = .data$objective, shape = .data$model)
            else ggplot2::aes(x = .data$x, y = .data$pseudo_r2, colour = .data$objective)
  p <- ggplot2::ggplot(data, ggplot2::aes(x = .data$x, y = .data$pseudo_r2, colour = .data$objective)) +
    zero_line()
  has_ci <- all(c("ci_low", "ci_high") %in% names(data))
  if (has_ci) p <- p + ci_whiskers(ggplot2::aes(ymin = .data$ci_low, ymax = .data$ci_high))
  problem <- fit_line_problem(fit)
  spread <- any(data$x != data$lx)
  parts <- c(if (has_ci) "whiskers: 95% participant-bootstrap CIs",
             if (spread) "points at the same size are spread sideways so that none hides another")
  if (!nzchar(problem)) {
    lines <- alignment_fit_lines(fit)
    lines$objective <- factor(lines$objective, levels = levels(data$objective))
    p <- p + ggplot2::geom_line(data = lines, ggplot2::aes(x = .data$lx), linewidth = 0.7)
    parts <- c(sprintf(paste("lines: fitted %s alignment model, population level, other covariates at each objective's",
                             "mean: %s"),
                       fit$engine, paste(deparse(lme4::nobars(fit$formula), width.cutoff = 500L), collapse = "")),
               parts)
  } else {
    parts <- c(sprintf("points only, no fitted line: %s", problem), parts)
  }
  caption <- paste0(paste(parts, collapse = "; "), ".")
  p <- p + ggplot2::geom_point(aes_pt, size = 2.4) +
    scale_colour_objective(levels(data$objective)) +
    (if (has_model) ggplot2::scale_shape_manual(values = rep(c(16, 17, 15, 18, 1, 2, 0, 5, 6, 3, 4, 8),
                                                             length.out = length(unique(data$model))),
                                                name = "model")) +
    ggplot2::labs(x = "log10(training-set size + 1)", y = "cross-validated pseudo-R\u00b2",
                  caption = paste(strwrap(caption, 100), collapse = "\n")) +
    theme_repalign() +
    ggplot2::theme(plot.caption = ggplot2::element_text(hjust = 0, size = 8), plot.caption.position = "plot")
  attr(p, "repalign_caption") <- caption
  p
}

#' Alignment against intrinsic dimensionality, one panel per objective
#'
#' Points with CI whiskers, one panel per objective in the shared palette's order
#' (not the alphabet's); no fitted line (the model-level statistic is Spearman's
#' rho in `model_correlations.csv`, and a least-squares line through the one to
#' three models of a panel would show a trend the data do not support). The x
#' axis names the estimator.
#'
#' @param data [alignment_data()] of alignment scores with `intrinsic_dim`.
#' @param id_metric The metric `intrinsic_dim` came from (e.g.
#'   `"dimensionality_twonn"`), named on the x axis.
#' @return A ggplot (caption in `attr(plot, "repalign_caption")`, see [save_figure()]).
#' @export
plot_alignment_vs_id <- function(data, id_metric = NULL) {
  check_columns(data, c("pseudo_r2", "intrinsic_dim", "objective"), "alignment data")
  data <- as.data.frame(data)
  data$objective <- factor(data$objective, levels = objective_levels(data$objective))
  has_ci <- all(c("ci_low", "ci_high") %in% names(data))
  p <- ggplot2::ggplot(data, ggplot2::aes(x = .data$intrinsic_dim, y = .data$pseudo_r2)) +
    zero_line() +
    (if (has_ci) ci_whiskers(ggplot2::aes(ymin = .data$ci_low, ymax = .data$ci_high, colour = .data$objective))) +
    ggplot2::geom_point(ggplot2::aes(colour = .data$objective), size = 2) +
    ggplot2::facet_wrap(~objective, labeller = ggplot2::label_wrap_gen(width = 22)) +
    scale_colour_objective(levels(data$objective)) +
    ggplot2::labs(x = id_axis_label(id_metric), y = "cross-validated pseudo-R\u00b2", colour = "objective") +
    theme_repalign()
  attr(p, "repalign_caption") <- paste0(
    "Pseudo-R\u00b2 ", if (has_ci) "with 95% participant-bootstrap CIs " else "",
    "against ", id_axis_label(id_metric), ", one panel per objective; light line: 0; points only, no fitted line ",
    "(the model-level test is Spearman's \u03c1 in model_correlations.csv).")
  p
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
#' Per trial bin, mean accuracy across participants of the human choices and of
#' the learner's choices (reward: picking the option with the higher reward,
#' the learner choosing right when its value > 0, ties counted as 0.5;
#' category: the correct category, the learner's expected accuracy being its
#' probability of the true category), with a 95% CI band across participants
#' (mean +/- 1.96 s.e.m. of the participants' bin accuracies; without a
#' `participant` column, across trials). One panel per model (and layer), in
#' the order the models first appear, the layer on its own line so that a
#' title is never cut.
#'
#' @param trials Trial table with `model`, `layer`, `trial`, `value`,
#'   `choice` and either `reward_left`/`reward_right` or `true_category`.
#' @param bin Trials per point (curves are averaged over bins of trials).
#' @return A ggplot (caption in `attr(plot, "repalign_caption")`).
#' @export
plot_learning_curves <- function(trials, bin = 10L) {
  check_columns(trials, c("model", "layer", "trial", "value", "choice"), "trials")
  trials <- as.data.frame(trials)
  if (all(c("reward_left", "reward_right") %in% names(trials))) {
    better <- ifelse(trials$reward_right > trials$reward_left, 1,
                     ifelse(trials$reward_right < trials$reward_left, 0, NA))
    human <- as.numeric(trials$choice == better)
    learner <- ifelse(trials$value == 0, 0.5, as.numeric((trials$value > 0) == (better == 1)))
  } else if ("true_category" %in% names(trials)) {
    human <- as.numeric(trials$choice == trials$true_category)
    learner <- ifelse(trials$true_category == 1, trials$value, 1 - trials$value)
  } else {
    stop("trials: learning curves need reward_left/reward_right or true_category", call. = FALSE)
  }
  trials$bin <- (trials$trial - 1L) %/% bin * bin + (bin + 1) / 2
  panel <- ifelse(is.na(trials$layer) | trials$layer == "", as.character(trials$model),
                  paste(trials$model, trials$layer, sep = "\n"))
  unit <- if ("participant" %in% names(trials)) as.character(trials$participant)
          else as.character(seq_len(nrow(trials)))
  long <- rbind(data.frame(panel = panel, bin = trials$bin, agent = "human", unit = unit, accuracy = human),
                data.frame(panel = panel, bin = trials$bin, agent = "learner", unit = unit, accuracy = learner))
  long <- long[is.finite(long$accuracy), ]
  # per participant and bin first, then mean and s.e.m. across participants
  per <- stats::aggregate(accuracy ~ panel + bin + agent + unit, data = long, FUN = mean)
  agg <- do.call(rbind, lapply(split(per, list(per$panel, per$bin, per$agent), drop = TRUE), function(g) {
    se <- if (nrow(g) > 1) stats::sd(g$accuracy) / sqrt(nrow(g)) else NA_real_
    data.frame(panel = g$panel[1], bin = g$bin[1], agent = g$agent[1], accuracy = mean(g$accuracy),
               lo = mean(g$accuracy) - 1.96 * se, hi = mean(g$accuracy) + 1.96 * se)
  }))
  agg$panel <- factor(agg$panel, levels = unique(panel))
  ch <- repalign_style()$chance
  cols <- c(human = "#000000", learner = "#009E73")
  p <- ggplot2::ggplot(agg, ggplot2::aes(x = .data$bin, y = .data$accuracy, colour = .data$agent)) +
    ggplot2::geom_hline(yintercept = 0.5, linetype = ch$linetype, colour = ch$colour, linewidth = ch$linewidth / 2) +
    ggplot2::geom_ribbon(ggplot2::aes(ymin = .data$lo, ymax = .data$hi, fill = .data$agent),
                         colour = NA, alpha = 0.18) +
    ggplot2::geom_line() + ggplot2::geom_point(size = 1) +
    ggplot2::facet_wrap(~panel) +
    ggplot2::scale_x_continuous(breaks = function(lim) pretty(lim, n = 4)) +
    ggplot2::scale_y_continuous(breaks = c(0, 0.25, 0.5, 0.75, 1)) +
    ggplot2::scale_colour_manual(values = cols, aesthetics = c("colour", "fill")) +
    ggplot2::labs(x = "trial", y = "accuracy", colour = NULL, fill = NULL) +
    theme_repalign() + ggplot2::theme(panel.spacing.x = ggplot2::unit(1.2, "lines"))
  attr(p, "repalign_caption") <- sprintf(paste(
    "Per bin of %d trials, mean accuracy of people's choices (black) and of the learner (green); bands: 95%%",
    "CIs across %s (mean \u00b1 1.96 s.e.m.); dotted: chance (0.5)."), as.integer(bin),
    if ("participant" %in% names(trials)) "participants" else "trials")
  p
}

#' Save a figure as PDF and PNG
#'
#' @param plot A ggplot.
#' @param stem Output path without extension; `<stem>.pdf` and `<stem>.png`.
#' @param width,height Size in inches.
#' @return The two paths, invisibly. A plot that carries a caption
#'   (`attr(plot, "repalign_caption")`: what its lines and bands are, or why a
#'   line is missing) also gets `<stem>.caption.txt`, which the HTML report shows
#'   under the figure.
#' @export
save_figure <- function(plot, stem, width = 7, height = 5) {
  dir.create(dirname(stem), recursive = TRUE, showWarnings = FALSE)
  paths <- paste0(stem, c(".pdf", ".png"))
  ggplot2::ggsave(paths[1], plot, width = width, height = height, device = grDevices::pdf)
  ggplot2::ggsave(paths[2], plot, width = width, height = height, dpi = 150, bg = "white")
  caption <- attr(plot, "repalign_caption")
  cap_path <- paste0(stem, ".caption.txt")
  if (!is.null(caption)) writeLines(caption, cap_path) else if (file.exists(cap_path)) file.remove(cap_path)
  invisible(paths)
}

# Facet titles wider than their panel at a figure size (width x height inches):
# ggplot2 cuts them at the strip's edge ("…/ penultimat"). Returns the titles
# (character(0) when all fit). Used by the tests of every faceted figure.
clipped_strip_titles <- function(plot, width, height) {
  grDevices::pdf(NULL, width = width, height = height)
  on.exit(grDevices::dev.off(), add = TRUE)
  gt <- ggplot2::ggplotGrob(plot)
  null <- grid::unitType(gt$widths) == "null"
  if (!any(null)) return(character(0))
  fixed <- sum(grid::convertWidth(gt$widths[!null], "in", valueOnly = TRUE))
  panel_w <- (width - fixed) / sum(null)
  out <- character(0)
  for (s in gt$grobs[grepl("^strip", gt$layout$name)]) out <- c(out, wide_strip_labels(s, panel_w))
  out
}

# The labels of the strip grob `s` wider than `panel_w` inches (on the open device).
wide_strip_labels <- function(s, panel_w) {
  out <- character(0)
  texts <- Filter(function(g) inherits(g, "titleGrob"), s$grobs[[1]]$children)
  for (t in texts) {
    for (g in Filter(function(g) inherits(g, "text"), t$children)) {  # the label itself, not its (null-wide) frame
      w <- grid::convertWidth(grid::grobWidth(g), "in", valueOnly = TRUE)
      if (w > panel_w) out <- c(out, paste(g$label, collapse = " "))
    }
  }
  out
}

# Figures in the shared style: the fitted lines of plot_alignment_vs_size() must be
# the alignment model's own population-level predictions (planted slope recovered).

planted_alignment_data <- function(slope = 0.04, seed = 3) {
  set.seed(seed)
  # 16 models for 3 fixed effects: not saturated (>= 5 models per fixed effect), so the fit draws its lines
  d <- expand.grid(model = sprintf("m%02d", 1:16), task = c("t1", "t2"), stringsAsFactors = FALSE)
  d$objective <- ifelse(as.integer(sub("m", "", d$model)) <= 8, "supervised", "image-text contrastive")
  d$family <- ifelse(as.integer(sub("m", "", d$model)) %% 2 == 0, "A", "B")
  d$train_size <- 10^(5 + as.integer(sub("m", "", d$model)) %% 6)
  shift <- c(supervised = 0.10, "image-text contrastive" = 0.20)
  d$pseudo_r2 <- shift[d$objective] + slope * log10(d$train_size + 1) + stats::rnorm(nrow(d), sd = 0.002)
  d$ci_low <- d$pseudo_r2 - 0.01
  d$ci_high <- d$pseudo_r2 + 0.01
  d
}

test_that("plot_alignment_vs_size draws the fitted model's lines, one per objective, with the planted slope", {
  d <- planted_alignment_data()
  fit <- fit_alignment_model(d, "model", "lme4", formula = pseudo_r2 ~ log10(train_size + 1) + objective + (1 | family))
  lines <- repalign:::alignment_fit_lines(fit)
  for (o in unique(d$objective)) {
    l <- lines[lines$objective == o, ]
    slope <- unname(stats::coef(stats::lm(pseudo_r2 ~ lx, data = l))[2])
    expect_equal(slope, 0.04, tolerance = 0.01)
    # each line spans its own objective's sizes
    expect_equal(range(l$lx), range(log10(d$train_size[d$objective == o] + 1)))
  }
  at7 <- function(o) with(lines[lines$objective == o, ], stats::approx(lx, pseudo_r2, xout = 7)$y)
  expect_equal(at7("image-text contrastive") - at7("supervised"), 0.10, tolerance = 0.01)
  p <- plot_alignment_vs_size(d, fit)
  built <- ggplot2::ggplot_build(p)
  line_layer <- which(vapply(p$layers, function(l) inherits(l$geom, "GeomLine"), TRUE))
  n_line_groups <- length(unique(built$data[[line_layer]]$group))
  expect_equal(n_line_groups, 2)
  expect_match(p$labels$caption, "fitted lme4 alignment model")
})

test_that("the objective palette is the shared one, other objectives grey", {
  cols <- objective_colours(c("supervised", "something-new"))
  expect_equal(unname(cols), c("#0072B2", repalign_style()$other_colour))
})

# ---- honest figures: no line from a fit that cannot carry one -----------------------

line_layers <- function(p) {
  which(vapply(p$layers, function(l) inherits(l$geom, "GeomLine") || inherits(l$geom, "GeomSmooth"), TRUE))
}

test_that("a saturated alignment fit draws no line: points only, and the caption says why", {
  d <- planted_alignment_data()
  d <- d[d$model %in% sprintf("m%02d", c(1:4, 9:11)), ]
  # 7 models for 3 fixed effects: saturated under the default 5 models per effect
  fit <- suppressWarnings(fit_alignment_model(d, "model", "lme4",
                                              formula = pseudo_r2 ~ log10(train_size + 1) + objective + (1 | family)))
  expect_false(fit$diagnostics$saturation$ok)
  p <- plot_alignment_vs_size(d, fit)
  expect_length(line_layers(p), 0)
  expect_match(attr(p, "repalign_caption"),
               "points only, no fitted line: the alignment model is saturated \\(7 models for 3")
  expect_match(p$labels$caption, "saturated")
  # no fit at all: no least-squares stand-in either
  p0 <- plot_alignment_vs_size(d)
  expect_length(line_layers(p0), 0)
  expect_match(attr(p0, "repalign_caption"), "no alignment model was fitted")
  # an unconverged fit: no line
  bad <- fit
  bad$diagnostics$converged <- FALSE
  bad$diagnostics$saturation$ok <- TRUE
  expect_length(line_layers(plot_alignment_vs_size(d, bad)), 0)
  expect_match(attr(plot_alignment_vs_size(d, bad), "repalign_caption"), "did not converge")
  # and a sound fit keeps its lines
  good <- fit_alignment_model(planted_alignment_data(), "model", "lme4",
                              formula = pseudo_r2 ~ log10(train_size + 1) + objective + (1 | family))
  expect_length(line_layers(plot_alignment_vs_size(planted_alignment_data(), good)), 1)
})

test_that("points at the same training size are spread apart, none hidden under another", {
  d <- data.frame(model = c("random", "pixels", "a", "b", "c"),
                  objective = c("random-init", "baseline", rep("supervised", 3)),
                  train_size = c(0, 0, 1.28e6, 1.28e6, 1.28e6), pseudo_r2 = c(0.1, 0.1, 0.4, 0.5, 0.45))
  p <- plot_alignment_vs_size(d)
  pts <- ggplot2::ggplot_build(p)$data[[which(vapply(p$layers, function(l) inherits(l$geom, "GeomPoint"), TRUE))]]
  expect_equal(nrow(unique(round(pts[c("x", "y")], 6))), 5)          # five distinct positions
  expect_equal(mean(pts$x[1:2]), 0)                                   # centred on the true x
  expect_equal(mean(pts$x[3:5]), log10(1.28e6 + 1))
  expect_length(unique(pts$shape), 5)                                 # one marker per model
  expect_match(attr(p, "repalign_caption"), "spread sideways")
})

test_that("alignment vs ID: panels in the palette's order, the estimator on the x axis, no line", {
  d <- data.frame(model = letters[1:4], objective = c("random-init", "baseline", "supervised", "supervised"),
                  intrinsic_dim = c(20, 9, 12, 15), pseudo_r2 = c(0.1, 0.05, 0.4, 0.5))
  p <- plot_alignment_vs_id(d, "dimensionality_twonn")
  expect_equal(p$labels$x, "intrinsic dimensionality (TwoNN)")
  b <- ggplot2::ggplot_build(p)
  expect_equal(levels(b$layout$layout$objective), c("supervised", "baseline", "random-init"))
  expect_length(line_layers(p), 0)
  expect_match(attr(p, "repalign_caption"), "no fitted line")
})

test_that("learning curves: CI bands across participants, facet titles that fit their strip", {
  set.seed(2)
  tr <- expand.grid(participant = sprintf("p%d", 1:8), trial = 1:40, stringsAsFactors = FALSE)
  tr <- rbind(transform(tr, model = "random:efficientnet_lite0"), transform(tr, model = "efficientnet_lite2"))
  tr$layer <- "penultimate"
  tr$true_category <- rbinom(nrow(tr), 1, 0.5)
  tr$choice <- ifelse(runif(nrow(tr)) < 0.3 + 0.5 * tr$trial / 40, tr$true_category, 1 - tr$true_category)
  tr$value <- runif(nrow(tr))
  p <- plot_learning_curves(tr)
  b <- ggplot2::ggplot_build(p)
  rib <- b$data[[which(vapply(p$layers, function(l) inherits(l$geom, "GeomRibbon"), TRUE))]]
  # the band is mean +/- 1.96 s.e.m. of the 8 participants' bin accuracies (first bin of the first panel, humans)
  g <- tr[tr$model == "random:efficientnet_lite0" & tr$trial <= 10, ]
  acc <- tapply(g$choice == g$true_category, g$participant, mean)
  lo <- mean(acc) - 1.96 * sd(acc) / sqrt(8)
  expect_true(any(abs(rib$ymin - lo) < 1e-9))
  # facets in first-appearance order, the layer on its own line
  expect_equal(levels(b$layout$layout$panel),
               c("random:efficientnet_lite0\npenultimate", "efficientnet_lite2\npenultimate"))
  # every strip title fits its strip at the run's size (9 x 6 in), also with six panels (3 columns)
  expect_equal(repalign:::clipped_strip_titles(p, 9, 6), character(0))
  tr6 <- do.call(rbind, lapply(c("random:efficientnet_lite0", "efficientnet_lite0", "efficientnet_lite1",
                                 "efficientnet_lite2", "pixels", "open_clip/ViT-B-32:openai"),
                               function(m) transform(tr[tr$model == "efficientnet_lite2", ], model = m)))
  expect_equal(repalign:::clipped_strip_titles(plot_learning_curves(tr6), 9, 6), character(0))
  # the check itself sees a title that cannot fit (one long line in a narrow figure)
  long <- transform(tr, layer = "", model = paste0(paste(rep("verylongmodelname", 4), collapse = "_"), model))
  expect_length(repalign:::clipped_strip_titles(plot_learning_curves(long), 4, 4), 2)
  expect_match(attr(p, "repalign_caption"), "95% CIs across participants")
})

test_that("save_figure writes the plot's caption beside it", {
  d <- planted_alignment_data()
  stem <- file.path(tempfile(), "size")
  save_figure(plot_alignment_vs_size(d), stem)
  expect_match(readLines(paste0(stem, ".caption.txt")), "points only, no fitted line")
})

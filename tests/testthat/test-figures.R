# Figures in the shared style: the fitted lines of plot_alignment_vs_size() must be
# the alignment model's own population-level predictions (planted slope recovered).

planted_alignment_data <- function(slope = 0.04, seed = 3) {
  set.seed(seed)
  d <- expand.grid(model = sprintf("m%02d", 1:12), task = c("t1", "t2"), stringsAsFactors = FALSE)
  d$objective <- ifelse(as.integer(sub("m", "", d$model)) <= 6, "supervised", "image-text contrastive")
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
    expect_equal(slope, 0.04, tolerance = 0.002)
    # each line spans its own objective's sizes
    expect_equal(range(l$lx), range(log10(d$train_size[d$objective == o] + 1)))
  }
  at7 <- function(o) with(lines[lines$objective == o, ], stats::approx(lx, pseudo_r2, xout = 7)$y)
  expect_equal(at7("image-text contrastive") - at7("supervised"), 0.10, tolerance = 0.01)
  p <- plot_alignment_vs_size(d, fit)
  built <- ggplot2::ggplot_build(p)
  n_line_groups <- length(unique(built$data[[which(vapply(p$layers, function(l) inherits(l$geom, "GeomLine"), TRUE))]]$group))
  expect_equal(n_line_groups, 2)
  expect_match(p$labels$caption, "fitted lme4 alignment model")
})

test_that("the objective palette is the shared one, other objectives grey", {
  cols <- objective_colours(c("supervised", "something-new"))
  expect_equal(unname(cols), c("#0072B2", repalign_style()$other_colour))
})

test_that("benchmark_table puts each benchmark on the common scale", {
  m <- data.frame(
    model = c("a", "b", "human", "a", "b", "humans", "a", "b", "a", "b"),
    layer = c("p", "p", "", "p", "p", "", "p", "p", "p", "p"),
    dataset = c("train_90", "train_90", "train_90", "edges", "edges", "edges", "mur92", "mur92", "ref", "ref"),
    metric = c("odd_one_out_cosine", "odd_one_out_cosine", "noise_ceiling_sim", "kappa_to_humans", "kappa_to_humans",
               "kappa_to_humans", "cka_linear", "cka_linear", "dimensionality_twonn", "dimensionality_twonn"),
    value = c(0.5, 0.6, 2 / 3, 0.1, 0.2, 0.4, 0.3, 0.5, 10, 12),
    ci_low = c(0.48, NA, NA, NA, NA, NA, NA, NA, NA, NA), ci_high = c(0.52, NA, NA, NA, NA, NA, NA, NA, NA, NA),
    n = 1L, stringsAsFactors = FALSE)
  t <- benchmark_table(m)
  expect_setequal(unique(t$benchmark), c("odd_one_out:train_90", "error_consistency:edges", "cka:mur92"))
  expect_false(any(t$model %in% c("human", "humans")))
  o <- t[t$benchmark == "odd_one_out:train_90", ]
  # (value - 1/3) / (2/3 - 1/3): 0.5 -> 0.5, 0.6 -> 0.8
  expect_equal(o$scaled[o$model == "a"], 0.5, tolerance = 1e-12)
  expect_equal(o$scaled[o$model == "b"], 0.8, tolerance = 1e-12)
  expect_equal(o$se[o$model == "a"], 0.04 / (2 * qnorm(0.975)), tolerance = 1e-12)
  expect_equal(o$scaled_se[o$model == "a"], 3 * 0.04 / (2 * qnorm(0.975)), tolerance = 1e-12)
  k <- t[t$benchmark == "error_consistency:edges", ]
  expect_equal(k$scaled, c(0.25, 0.5), tolerance = 1e-12)  # kappa / people's kappa
  c <- t[t$benchmark == "cka:mur92", ]
  expect_true(all(c$scale == "standardised"))
  expect_equal(c$scaled, c(-1, 1) / sqrt(2), tolerance = 1e-12)
})

test_that("the benchmark model recovers planted effects with calibrated intervals (lme4)", {
  hits <- benchmark_coverage(n = 50)
  rate <- mean(hits)
  expect_gte(rate, 0.90)
  expect_lte(rate, 0.99)
})

test_that("partial pooling shrinks the per-benchmark slopes toward the pooled one", {
  sim <- simulate_benchmarks(seed = 7)
  fit <- fit_benchmark_model(sim$data, min_models_per_effect = 0)
  s <- benchmark_slopes(fit)
  pp <- s[s$method == "partial pooling", ]
  np <- s[s$method == "no pooling", ]
  expect_equal(nrow(pp), 12)
  # partial pooling estimates are closer to the planted per-benchmark slopes than each benchmark's own fit
  truth <- sim$slopes[match(pp$benchmark, sprintf("b%02d", 1:12))]
  expect_lt(mean(abs(pp$estimate - truth)), mean(abs(np$estimate[match(pp$benchmark, np$benchmark)] - truth)))
  expect_s3_class(plot_benchmark_slopes(s), "ggplot")
})

test_that("the benchmark model needs two benchmarks and says saturation with few models", {
  sim <- simulate_benchmarks(n_models = 6, n_benchmarks = 3, seed = 3)
  expect_error(fit_benchmark_model(sim$data[sim$data$benchmark == "b01", ]), "two or more benchmarks")
  fit <- suppressWarnings(fit_benchmark_model(sim$data))
  tab <- tidy_alignment_model(fit)
  expect_true(all(tab$inference == "none"))
  expect_match(tab$note[1], "saturated: 6 model\\(s\\)")
})

test_that("fit_choice_model recovers a planted population slope", {
  d <- simulate_choices(n_participants = 30, n_trials = 80, slope = 1.5, slope_sd = 0.6)
  fit <- fit_choice_model(d)
  tab <- tidy_choice_model(fit)
  expect_equal(tab$term, "value")
  expect_lt(abs(tab$estimate - 1.5), 2 * tab$std.error)
  expect_true(tab$converged)
  sd_hat <- attr(lme4::VarCorr(fit)$participant, "stddev")
  expect_lt(abs(sd_hat - 0.6), 0.3)
  expect_equal(unname(attr(fit, "standardisation")), c(0, 1), tolerance = 1e-12)
})

test_that("fit_choice_model rejects bad input with a clear message", {
  d <- simulate_choices(n_participants = 3, n_trials = 10)
  expect_error(fit_choice_model(d[setdiff(names(d), "choice")]), "missing column\\(s\\) choice")
  bad <- d
  bad$choice[5] <- 2
  expect_error(fit_choice_model(bad), "binary.*row 5")
  bad <- d
  bad$value[3] <- NA
  expect_error(fit_choice_model(bad), "'value' has 1 non-finite")
})

test_that("participant folds are blocked, seeded and cover every participant once", {
  p <- rep(sprintf("p%02d", 1:12), each = 5)
  f <- participant_folds(p, k = 4, seed = 3)
  expect_true(all(tapply(f, p, function(x) length(unique(x))) == 1))
  expect_setequal(unique(f), 1:4)
  expect_identical(f, participant_folds(p, k = 4, seed = 3))
  expect_false(identical(f, participant_folds(p, k = 4, seed = 4)))
  expect_error(participant_folds(rep("p1", 10)), "at least 2 participants; got 1 \\(p1\\)")
  d <- simulate_choices(n_participants = 1, n_trials = 20)
  expect_error(cv_choice_model(d), "at least 2 participants")
})

test_that("more folds than participants is leave-one-participant-out, and says so", {
  p <- rep(c("a", "b", "c"), each = 4)
  expect_message(f <- participant_folds(p, k = 1000, seed = 1),
                 "^note: k = 1000 folds exceed the 3 participants; each fold holds one participant")
  expect_true(all(tapply(f, p, function(x) length(unique(x))) == 1))
  expect_setequal(unique(f), 1:3)
  expect_silent(participant_folds(p, k = 3, seed = 1))
})

test_that("K-fold CV never lets a held-out participant's rows into the fit or the standardisation", {
  d <- simulate_choices(n_participants = 12, n_trials = 40, seed = 2)
  cv <- cv_choice_model(d, k = 4)
  expect_true(all(cv$prob > 0 & cv$prob < 1))
  # Rewrite everything of participant p except row i (values and choices). If any of
  # p's rows reached the fit or the standardisation of its fold, prob[i] would move.
  i <- 5
  p <- d$participant[i]
  other <- d$participant == p & seq_len(nrow(d)) != i
  d2 <- d
  d2$value[other] <- d2$value[other] * 10 + 7
  d2$choice[other] <- 1L - d2$choice[other]
  cv2 <- cv_choice_model(d2, k = 4)
  expect_equal(cv2$prob[i], cv$prob[i], tolerance = 1e-12)
  # ...whereas rows of a participant in another fold do move it (the test has power).
  q <- d$participant != p & cv$fold != cv$fold[i]
  d3 <- d
  d3$choice[q] <- 1L - d3$choice[q]
  expect_gt(abs(cv_choice_model(d3, k = 4)$prob[i] - cv$prob[i]), 1e-3)
})

test_that("fast LOO never uses the held-out row's choice", {
  d <- simulate_choices(n_participants = 5, n_trials = 24, seed = 4)
  cv <- cv_choice_model(d, method = "loo")
  rows <- c(3, 50, 111)
  d2 <- d
  d2$choice[rows] <- 1L - d2$choice[rows]
  cv2 <- cv_choice_model(d2, method = "loo")
  # Flipping a row's choice leaves its own LOO prediction unchanged (up to the
  # Newton solver's tolerance), although it moves the in-sample fit at that row.
  full <- fit_choice_model(d)
  for (r in rows) {
    d3 <- d
    d3$choice[r] <- 1L - d3$choice[r]
    expect_lt(abs(cv_choice_model(d3, method = "loo")$prob[r] - cv$prob[r]), 1e-4)
    expect_gt(abs(fitted(fit_choice_model(d3))[r] - fitted(full)[r]), 1e-3)
  }
  expect_gt(max(abs(cv2$prob[-rows] - cv$prob[-rows])), 1e-4)
})

test_that("fast row-LOO equals a naive per-row glmer refit on real THINGSDecisions trials", {
  root <- require_data()
  d <- things_decisions_values(root, participants = c(2, 9, 17, 23), trials = 21:50)
  fast <- cv_choice_model(d, method = "loo", by = "model")
  expect_equal(fast$method[1], "loo-fast")
  # The reference's loop: refit without the row, standardised with the remaining rows.
  rows <- unique(c(which.max(d$value), which.min(d$value), seq(1, nrow(d), length.out = 14)))
  naive <- vapply(rows, function(i) naive_loo_prob(d, i), 0)  # helper-reference.R
  expect_lt(max(abs(fast$prob[rows] - naive)), 1e-3)
})

test_that("alignment_scores: NLL, pseudo-R2 and participant-bootstrap CI", {
  cv <- data.frame(model = "m", layer = "l", task = "t", participant = rep(c("a", "b", "c"), each = 4),
                   choice = rep(c(1, 0, 1, 1), 3), prob = rep(c(0.8, 0.3, 0.6, 0.9), 3))
  s <- alignment_scores(cv, n_boot = 200)
  nll <- -3 * (log(0.8) + log(0.7) + log(0.6) + log(0.9))
  expect_equal(s$nll, nll)
  expect_equal(s$pseudo_r2, 1 - nll / (12 * log(2)))
  expect_equal(s$n_trials, 12L)
  expect_equal(s$n_participants, 3L)
  # Identical participants: every bootstrap resample gives the same score.
  expect_equal(c(s$ci_low, s$ci_high), rep(s$pseudo_r2, 2))
  cv$prob <- 0.5
  expect_equal(alignment_scores(cv, n_boot = 0)$pseudo_r2, 0)
  d <- simulate_choices(n_participants = 10, n_trials = 30, seed = 5)
  s2 <- alignment_scores(cv_choice_model(d, k = 5))
  expect_true(s2$ci_low < s2$pseudo_r2 && s2$pseudo_r2 < s2$ci_high)
  expect_gt(s2$pseudo_r2, 0.1)
})

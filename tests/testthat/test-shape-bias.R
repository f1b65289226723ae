# Shape-bias GLMM: planted agent effects on P(shape | shape or texture decision) are recovered.

simulate_cue_decisions <- function(n_images = 300, n_people = 10, seed = 5,
                                   effects = c(humans = 2.5, cnn = -1, sin = 1), sd_image = 0.8,
                                   sd_subject = 0.4, p_other = 0.3) {
  set.seed(seed)
  u_img <- as.numeric(scale(stats::rnorm(n_images), scale = FALSE)) * sd_image
  u_sub <- as.numeric(scale(stats::rnorm(n_people), scale = FALSE)) * sd_subject
  one <- function(agent, type, eta) {
    cue <- ifelse(stats::runif(n_images) < stats::plogis(eta), "shape", "texture")
    cue[stats::runif(n_images) < p_other] <- "other"  # third-category answers: left out by the model
    data.frame(agent = agent, agent_type = type, subject = agent, stimulus_id = paste0("img", seq_len(n_images)),
               cue = cue, correct = cue == "shape", conflict = TRUE)
  }
  rows <- lapply(seq_len(n_people), function(p) {
    one(sprintf("subject-%02d", p), "human", effects[["humans"]] + u_img + u_sub[p])
  })
  rows <- c(rows, lapply(setdiff(names(effects), "humans"), function(a) one(a, "network", effects[[a]] + u_img)))
  d <- do.call(rbind, rows)
  # same-category images (not conflicts) must not enter the model
  extra <- d[d$stimulus_id == "img1", ]
  extra$stimulus_id <- "same1"
  extra$conflict <- FALSE
  extra$cue <- "shape"
  d <- rbind(d, extra)
  d$dataset <- "synthetic"
  d
}

test_that("fit_shape_bias_model recovers planted shape log-odds per agent", {
  truth <- c(humans = 2.5, cnn = -1, sin = 1)
  d <- simulate_cue_decisions(effects = truth)
  md <- shape_bias_model_data(d)
  expect_false("same1" %in% as.character(md$image))
  expect_equal(nrow(md), sum(d$conflict & d$cue != "other"))
  fit <- fit_shape_bias_model(d)
  tab <- tidy_shape_bias_model(fit)
  expect_true(all(tab$converged))
  est <- shape_bias_estimates(fit)
  expect_equal(est$agent, c("humans", "cnn", "sin"))
  expect_true(all(c("shape_bias", "shape_bias.low", "shape_bias.high") %in% names(est)))
  # each agent's log-odds of a shape decision on a typical image within 3 s.e. of the planted value
  for (a in names(truth)) {
    r <- est[est$agent == a, ]
    expect_lt(abs(r$estimate - truth[[a]]), 3 * r$std.error, label = a)
  }
  # and the ordering of the agents' shape biases is the planted one
  expect_equal(est$agent[order(est$shape_bias)], c("cnn", "sin", "humans"))
})

test_that("decisions without cue columns are refused with one clear line", {
  d <- simulate_cue_decisions(n_images = 20)
  expect_error(shape_bias_model_data(d[, setdiff(names(d), "cue")]), "lack column\\(s\\) cue")
  d$cue[1] <- "colour"
  expect_error(shape_bias_model_data(d), "'cue' has value\\(s\\) colour")
})

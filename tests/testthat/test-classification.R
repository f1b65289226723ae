# Accuracy GLMM of classification decisions: a planted agent effect is recovered.

simulate_decisions <- function(n_images = 240, n_people = 10, seed = 3,
                               effects = c(humans = 1.5, cnn = 0, random = -2.5),
                               sd_image = 1, sd_subject = 0.5) {
  set.seed(seed)
  # centred, so that the planted log-odds on a typical image hold in this sample too
  u_img <- as.numeric(scale(stats::rnorm(n_images), scale = FALSE)) * sd_image
  u_sub <- as.numeric(scale(stats::rnorm(n_people), scale = FALSE)) * sd_subject
  rows <- list()
  for (p in seq_len(n_people)) {
    eta <- effects[["humans"]] + u_img + u_sub[p]
    rows[[length(rows) + 1]] <- data.frame(agent = sprintf("subject-%02d", p), agent_type = "human",
                                           subject = sprintf("subject-%02d", p), stimulus_id = seq_len(n_images),
                                           correct = stats::runif(n_images) < stats::plogis(eta))
  }
  for (a in setdiff(names(effects), "humans")) {
    eta <- effects[[a]] + u_img
    rows[[length(rows) + 1]] <- data.frame(agent = a, agent_type = "model", subject = a,
                                           stimulus_id = seq_len(n_images),
                                           correct = stats::runif(n_images) < stats::plogis(eta))
  }
  d <- do.call(rbind, rows)
  d$dataset <- "synthetic"
  d$stimulus_id <- paste0("img", d$stimulus_id)
  d
}

test_that("fit_accuracy_model recovers planted agent effects and the image variance", {
  truth <- c(humans = 1.5, cnn = 0, random = -2.5)
  fit <- fit_accuracy_model(simulate_decisions(effects = truth))
  tab <- tidy_accuracy_model(fit)
  expect_true(all(tab$converged))
  est <- accuracy_model_estimates(fit)
  expect_equal(est$agent, c("humans", "cnn", "random"))
  # each agent's log-odds on a typical image: the planted value inside its 95% interval
  for (a in names(truth)) {
    r <- est[est$agent == a, ]
    expect_true(r$conf.low < truth[[a]] && truth[[a]] < r$conf.high, info = a)
  }
  # the differences to the people (fixed effects) within 3 s.e.
  for (a in c("cnn", "random")) {
    r <- tab[tab$term == paste0("agent", a), ]
    expect_lt(abs(r$estimate - (truth[[a]] - truth[["humans"]])), 3 * r$std.error)
  }
  sd_img <- as.data.frame(lme4::VarCorr(fit))
  expect_equal(sd_img$sdcor[sd_img$grp == "image"], 1, tolerance = 0.25)
})

test_that("bad decisions are refused with one clear line", {
  d <- simulate_decisions(n_images = 20)
  expect_error(fit_accuracy_model(d[, setdiff(names(d), "subject")]), "missing column\\(s\\) subject")
  d2 <- rbind(d, transform(d, dataset = "other"))
  expect_error(fit_accuracy_model(d2), "one dataset at a time")
  d3 <- d
  d3$agent[d3$agent == "cnn"] <- "humans"
  expect_error(fit_accuracy_model(d3), "reserved for the pooled people")
})

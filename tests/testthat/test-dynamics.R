# Learning dynamics (Huber et al. 2024): GLMM, slopes, figures.
# The real-data table is written once by the Python loader and read once; the GLMM
# is fitted on trial counts per run x epoch x phase (likelihood-equivalent to the
# 68,991 Bernoulli trials) with nAGQ = 0, which takes < 1 s.

.dyn_cache <- new.env()

real_dynamics <- function() {
  require_data()
  if (is.null(.dyn_cache$df)) {
    path <- tempfile(fileext = ".parquet")
    python_write_table(path, "load_dynamics_table()", "dynamics", "test-dynamics",
                       imports = "from repalign.dynamics import load_dynamics_table")
    .dyn_cache$path <- path
    .dyn_cache$df <- read_dynamics(path)
  }
  .dyn_cache$df
}

real_fit <- function() {
  if (is.null(.dyn_cache$fit)) .dyn_cache$fit <- fit_dynamics_glmm(real_dynamics(), nAGQ = 0)
  .dyn_cache$fit
}

test_that("the real trial table has the design of Huber et al.", {
  df <- real_dynamics()
  expect_equal(nrow(df), 68991)
  expect_setequal(unique(df$agent), c("human", "alexnet", "vgg16", "resnet50", "efficientnet", "convnext", "vit"))
  counts <- dynamics_counts(df)
  human <- counts[counts$agent == "human", ]
  expect_equal(length(unique(human$run)), 12)
  # 36 training and 51 test trials per participant and epoch
  expect_true(all(human$n_trials[human$phase == "train"] == 36))
  expect_true(all(human$n_trials[human$phase == "test"] == 51))
})

test_that("mean human test accuracy rises from ~0.47 (epoch 1) to ~0.67 (epoch 6)", {
  s <- dynamics_accuracy(real_dynamics())
  h <- s[s$agent == "human" & s$phase == "test", ]
  # Exact values from the data: 0.4690 and 0.6650 (12 participants x 51 trials).
  # Tolerance 0.01 is far below the s.e. across participants (s.d. 0.18-0.27 / sqrt(12) > 0.05),
  # so it pins the computation, not the sample.
  expect_equal(h$mean[h$epoch == 1], 0.469, tolerance = 0.01 / 0.469)
  expect_equal(h$mean[h$epoch == 6], 0.665, tolerance = 0.01 / 0.665)
  expect_true(all(h$n_runs == 12))
  # every network's mean training accuracy at epoch 6 is far above the humans' (0.69)
  net6 <- s[s$agent != "human" & s$phase == "train" & s$epoch == 6, ]
  expect_true(all(net6$mean > 0.88))
})

test_that("chance band is the 95% binomial interval of 36 trials at p = 1/3", {
  expect_equal(unname(dynamics_chance_band()), c(7, 18) / 36)
  band <- dynamics_chance_band(100, 0.5, 0.95)
  expect_equal(unname(band), c(40, 60) / 100)
})

test_that("GLMM on the real data: networks show a negative phase x epoch interaction, humans none", {
  fit <- real_fit()
  expect_s4_class(fit, "glmerMod")
  fixed <- tidy_dynamics_glmm(fit)
  # 2 x 2 x 7 cells of epoch x phase x agent design = 28 fixed effects, 7 of them phase x epoch
  expect_equal(nrow(fixed), 28)
  expect_equal(sum(fixed$phase_x_epoch), 7)
  sl <- dynamics_slopes(fit)
  d <- sl[sl$quantity == "test_minus_train", ]
  expect_equal(nrow(d), 7)
  # humans: test accuracy rises as fast as training accuracy (estimate 0.003, z = 0.09)
  expect_lt(abs(d$statistic[d$agent == "human"]), 2)
  # every network: test log-odds rise more slowly than training log-odds (z from -2.5 to -21)
  nets <- d[d$agent != "human", ]
  expect_true(all(nets$estimate < 0))
  expect_true(all(nets$p.value < 0.05))
  # both phases improve over epochs for every agent
  expect_true(all(sl$estimate[sl$quantity == "train_slope"] > 0))
  # ViT's training accuracy is 1 in every run at epochs 4-6: its train slope is flagged
  sep <- sl[sl$quantity == "train_slope", c("agent", "separated")]
  expect_equal(sep$agent[sep$separated], "vit")
  lrt <- dynamics_interaction_test(fit)
  expect_equal(lrt$df, 7)
  expect_lt(lrt$p.value, 1e-10)
})

test_that("GLMM with random epoch slopes fits the real data", {
  fit <- fit_dynamics_glmm(real_dynamics(), random = "epoch", nAGQ = 0)
  vc <- as.data.frame(lme4::VarCorr(fit))
  expect_true(all(c("(Intercept)", "epoch_c") %in% vc$var1))
  d <- dynamics_slopes(fit)
  expect_true(all(d$estimate[d$quantity == "test_minus_train" & d$agent != "human"] < 0))
})

test_that("aggregated fit equals the trial-level fit; planted effects are recovered", {
  set.seed(1)
  # two agents x 20 runs x 6 epochs x 2 phases x 25 trials with known log-odds
  grid <- expand.grid(agent = c("human", "net"), run = 1:20, epoch = 1:6, phase = c("train", "test"),
                      trial = 1:25, stringsAsFactors = FALSE)
  run_eff <- stats::rnorm(40, 0, 0.3)
  eta <- -0.2 + 0.5 * (grid$epoch - 3.5) + ifelse(grid$agent == "net" & grid$phase == "test", -0.3, 0) +
    ifelse(grid$agent == "net" & grid$phase == "test", -0.25, 0) * (grid$epoch - 3.5) +
    run_eff[(grid$agent == "net") * 20 + grid$run]
  grid$correct <- stats::runif(nrow(grid)) < stats::plogis(eta)
  grid$image_name <- "x.png"
  fit <- fit_dynamics_glmm(grid, nAGQ = 1)
  sl <- dynamics_slopes(fit)
  get <- function(a, q) sl[sl$agent == a & sl$quantity == q, ]
  for (row in list(list("human", "train_slope", 0.5), list("human", "test_minus_train", 0),
                   list("net", "train_slope", 0.5), list("net", "test_minus_train", -0.25))) {
    r <- get(row[[1]], row[[2]])
    expect_lt(abs(r$estimate - row[[3]]), 3 * r$std.error)
  }
  # Trial-level glmer on the same trials gives the same fixed effects (same likelihood).
  d <- grid
  d$epoch_c <- d$epoch - 3.5
  d$phase <- factor(d$phase, c("train", "test"))
  d$run_id <- paste(d$agent, d$run)
  trial_fit <- lme4::glmer(correct ~ epoch_c * phase * agent + (1 | run_id), data = d,
                           family = stats::binomial(), nAGQ = 1,
                           control = lme4::glmerControl(optimizer = "bobyqa"))
  expect_equal(unname(lme4::fixef(fit)), unname(lme4::fixef(trial_fit)), tolerance = 1e-3)
})

test_that("bad tables give one clear error naming the column", {
  df <- data.frame(agent = "a", run = 1, epoch = 1, phase = "train", correct = TRUE)
  expect_error(check_dynamics(df[, -5], "t.parquet"), "t.parquet: missing column\\(s\\) correct")
  df$phase <- "validation"
  expect_error(check_dynamics(df), "column 'phase' has value\\(s\\) validation")
  df$phase <- "train"
  df$epoch <- 0
  expect_error(check_dynamics(df), "column 'epoch' must be 1-based")
  expect_error(plot_generalisation_lag(data.frame(agent = "a")), "missing column\\(s\\) agent_type, lag")
})

test_that("figures and the one-call report", {
  df <- real_dynamics()
  p <- plot_dynamics_curves(df)
  expect_s3_class(p, "ggplot")
  built <- ggplot2::ggplot_build(p)
  # 7 panels; the chance band spans 7/36 .. 18/36
  expect_equal(nrow(built$layout$layout), 7)
  expect_equal(c(built$data[[1]]$ymin[1], built$data[[1]]$ymax[1]), c(7, 18) / 36)
  lag <- data.frame(agent = c("human", "vit"), agent_type = c("human", "network"), lag = c(0.003, 0.178))
  expect_s3_class(plot_generalisation_lag(lag), "ggplot")
  out <- file.path(tempdir(), "dyn-report")
  expect_message(res <- dynamics_report(.dyn_cache$path, out), "ceiling/floor in some epoch for vit")
  expect_true(all(file.exists(file.path(out, c("glmm.csv", "slopes.csv", "curves.pdf")))))
  glmm <- utils::read.csv(file.path(out, "glmm.csv"))
  expect_equal(nrow(glmm), 28)
  expect_equal(sum(glmm$phase_x_epoch), 7)
})

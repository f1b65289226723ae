# Model-level statistics (Demircan et al. 2024): Spearman correlations over models,
# the objective x ID term, the saturation guard and the lm/glm fallback.

# n models of two objectives; alignment (pseudo-R2 per task) planted from the properties.
simulate_models <- function(n = 40, seed = 1, id_slope = c(supervised = 0.03, contrastive = -0.03), noise = 0.005,
                            tasks = c("category", "reward"), families = 8) {
  set.seed(seed)
  models <- data.frame(name = sprintf("net%02d", seq_len(n)),
                       family = sprintf("fam%d", rep_len(seq_len(families), n)),
                       objective = rep(c("supervised", "contrastive"), length.out = n),
                       train_size = round(10^stats::runif(n, 4, 9)), params = round(10^stats::runif(n, 6, 9)))
  id <- stats::runif(n, 5, 40)
  z <- (id - mean(id)) / stats::sd(id)
  d <- expand.grid(model = models$name, task = tasks, stringsAsFactors = FALSE)
  d$layer <- "penultimate"
  m <- match(d$model, models$name)
  d$pseudo_r2 <- 0.1 + 0.02 * log10(models$train_size[m]) + id_slope[models$objective[m]] * z[m] +
    stats::rnorm(nrow(d), 0, noise)
  metrics <- data.frame(model = models$name, layer = "penultimate", metric = "dimensionality_twonn", value = id)
  list(ad = alignment_data(d, models, metrics), models = models, metrics = metrics, z = z)
}

test_that("Spearman over models recovers a planted monotone relation, overall and per objective", {
  sim <- simulate_models()
  cor <- model_level_correlations(sim$ad, n_boot = 500)
  row <- function(g, p) cor[cor$group == g & cor$predictor == p, ]
  # ID raises alignment in one objective and lowers it in the other (the paper's finding, planted)
  sup <- row("supervised", "intrinsic_dim")
  con <- row("contrastive", "intrinsic_dim")
  expect_equal(c(sup$n_models, con$n_models), c(20L, 20L))
  expect_gt(sup$rho, 0.6)
  expect_gt(sup$conf.low, 0)
  expect_lt(con$rho, -0.6)
  expect_lt(con$conf.high, 0)
  expect_lt(sup$p.value, 0.01)
  # parameter count plays no part in the planted alignment: its interval covers 0
  prm <- row("all", "params")
  expect_true(prm$conf.low < 0 && 0 < prm$conf.high)
  expect_equal(sort(unique(cor$group)), c("all", "contrastive", "supervised"))
  # noise-free and strictly increasing in training-set size: rho is exactly 1, p 0
  exact <- sim$ad
  exact$pseudo_r2 <- log10(exact$train_size) / 10
  one <- model_level_correlations(exact, c(train_size = "train_size"), by = NULL, n_boot = 200)
  expect_equal(one$rho, 1)
  expect_equal(one$p.value, 0)
  expect_equal(c(one$conf.low, one$conf.high), c(1, 1))
})

test_that("alignment is averaged over tasks before correlating", {
  sim <- simulate_models(n = 12, tasks = c("a", "b"))
  ad <- sim$ad
  # task b nearly reverses task a's ranking: only the per-model mean over tasks ranks the models
  set.seed(9)
  ad$pseudo_r2[ad$task == "a"] <- seq_len(12) / 100
  ad$pseudo_r2[ad$task == "b"] <- (13 - seq_len(12)) / 100 + stats::runif(12, 0, 0.02)
  cor <- model_level_correlations(ad, c(id = "intrinsic_dim"), by = NULL, n_boot = 0)
  means <- tapply(ad$pseudo_r2, ad$model, mean)[sim$models$name]
  id <- sim$metrics$value
  expect_equal(cor$rho, stats::cor(rank(means), rank(id)))
  expect_equal(cor$n_models, 12L)
  # (pooling the rows instead would give another number)
  expect_gt(abs(cor$rho - stats::cor(rank(ad$pseudo_r2), rank(ad$intrinsic_dim))), 0.05)
})

test_that("bootstrap intervals over models cover the population rank correlation", {
  # Bivariate normal with correlation r: population Spearman rho = (6 / pi) asin(r / 2).
  r <- 0.5
  truth <- 6 / pi * asin(r / 2)
  set.seed(3)
  covered <- vapply(1:150, function(i) {
    x <- stats::rnorm(40)
    y <- r * x + sqrt(1 - r^2) * stats::rnorm(40)
    ad <- data.frame(model = sprintf("m%02d", 1:40), layer = "l", task = "t", objective = "o", pseudo_r2 = y,
                     intrinsic_dim = x)
    cor <- model_level_correlations(ad, c(id = "intrinsic_dim"), by = NULL, n_boot = 400, seed = i)
    cor$conf.low < truth && truth < cor$conf.high
  }, TRUE)
  expect_gt(mean(covered), 0.86)
  expect_lt(mean(covered), 0.995)
})

test_that("a correlation over fewer than min_models models reports rho alone, and says why", {
  sim <- simulate_models(n = 8)
  cor <- model_level_correlations(sim$ad, by = "objective", n_boot = 200)
  small <- cor[cor$group == "supervised", ]
  expect_true(all(small$n_models == 4L))
  expect_true(all(is.finite(small$rho)))
  expect_true(all(is.na(small$p.value) & is.na(small$conf.low) & is.na(small$conf.high)))
  expect_true(all(grepl("4 model\\(s\\), fewer than 5: rho only, no p-value or interval", small$note)))
  big <- cor[cor$group == "all", ]
  expect_true(all(is.finite(big$p.value) & is.finite(big$conf.low)))
  const <- sim$ad
  const$params <- 1e6
  expect_match(model_level_correlations(const, c(p = "params"), by = NULL)$note, "the same for every model")
  bad <- sim$ad
  bad$params[1] <- bad$params[1] + 1
  expect_error(model_level_correlations(bad), "column 'params' varies within model net01")
})

test_that("a correlation that leaves models out for a missing property names them in its note", {
  sim <- simulate_models(n = 12)
  ad <- sim$ad
  ad$params[ad$model %in% c("net03", "net07")] <- NA  # e.g. multimodal models without a count
  cor <- model_level_correlations(ad, c(params = "params", train_size = "train_size"), by = NULL, n_boot = 0)
  prm <- cor[cor$predictor == "params", ]
  expect_equal(prm$n_models, 10L)
  expect_match(prm$note, "2 model(s) without params left out: net03/penultimate, net07/penultimate", fixed = TRUE)
  # the same ρ as over the ten complete models alone
  kept <- ad[!ad$model %in% c("net03", "net07"), ]
  ref <- model_level_correlations(kept, c(params = "params"), by = NULL, n_boot = 0)
  expect_equal(prm$rho, ref$rho)
  expect_equal(ref$note, "")
  expect_equal(cor$note[cor$predictor == "train_size"], "")
})

test_that("the default model-level formula recovers a planted objective x ID interaction", {
  sim <- simulate_models(n = 60, noise = 0.01, tasks = c("category", "reward", "decisions"))
  fit <- fit_alignment_model(sim$ad, level = "model")
  tab <- tidy_alignment_model(fit)
  # the ID slope is -0.03 for contrastive (reference) and +0.03 for supervised
  truth <- c(`scale(intrinsic_dim)` = -0.03, `objectivesupervised:scale(intrinsic_dim)` = 0.06)
  est <- tab[match(names(truth), tab$term), ]
  expect_equal(est$term, names(truth))
  # 3 s.e.: two coefficients checked together, each within its 99.7% band
  expect_true(all(abs(est$estimate - truth) < 3 * est$std.error))
  expect_true(all(est$conf.high - est$conf.low < 0.01))
  expect_gt(est$estimate[2], 0.04)  # clearly not additive
})

test_that("a saturated fit keeps its estimates, gets no s.e., intervals or p-values, and says why", {
  sim <- simulate_models(n = 6, families = 2)
  fit <- fit_alignment_model(sim$ad, level = "model")
  tab <- tidy_alignment_model(fit)
  expect_true(all(is.finite(tab$estimate)))
  expect_true(all(is.na(tab$std.error) & is.na(tab$conf.low) & is.na(tab$conf.high) & is.na(tab$p.value)))
  expect_true(all(tab$inference == "none"))
  expect_true(all(tab$n_models == 6L) && all(tab$n_fixed == 5L))
  expect_match(tab$note[1], "saturated: 6 model\\(s\\) for 5 fixed effect\\(s\\), fewer than 5 models per fixed effect")
  expect_match(fit$diagnostics$messages, "saturated")
  # the same fit with enough models per effect (or the guard off) has intervals
  open <- tidy_alignment_model(fit_alignment_model(sim$ad, level = "model", min_models_per_effect = 1))
  expect_true(all(is.finite(open$conf.low)) && all(open$inference == "wald"))
  expect_equal(open$estimate, tab$estimate)
})

test_that("a fit with no more rows than fixed effects is an error saying so", {
  sim <- simulate_models(n = 5, families = 2, tasks = "reward")
  expect_error(fit_alignment_model(sim$ad, level = "model"),
               "model-level alignment model: not fitted: 5 row\\(s\\) \\(5 model\\(s\\)\\) for 5 fixed effect\\(s\\)")
})

test_that("no random-effect term left: lm / glm with a note, the same estimates as lm() / glm()", {
  sim <- simulate_models(n = 40, families = 1, tasks = "reward")
  fit <- fit_alignment_model(sim$ad, level = "model")
  expect_s3_class(fit$fit, "lm")
  expect_match(fit$diagnostics$messages, "dropped: \\(1 \\| task\\) \\[task has 1 level\\], \\(1 \\| family\\)")
  expect_match(fit$diagnostics$messages, "no random-effect term left: fitted with lm instead of lmer")
  tab <- tidy_alignment_model(fit)
  ref <- stats::lm(pseudo_r2 ~ log10(train_size + 1) + objective * scale(intrinsic_dim), data = sim$ad)
  expect_equal(tab$estimate, unname(stats::coef(ref)))
  expect_equal(tab$std.error, unname(sqrt(diag(stats::vcov(ref)))))
  expect_true(all(tab$converged) && all(is.finite(tab$p.value)))
  expect_match(tab$note[1], "no random-effect term left")
  # planted: 0.02 per log10 of training-set size
  s <- tab[tab$term == "log10(train_size + 1)", ]
  expect_lt(abs(s$estimate - 0.02), 2 * s$std.error)

  # trial level with one participant and one model: glm
  set.seed(4)
  tr <- data.frame(model = "net01", layer = "penultimate", task = "t", participant = "p1", trial = 1:400,
                   value = stats::rnorm(400))
  tr$choice <- stats::rbinom(400, 1, stats::plogis(1.2 * as.numeric(scale(tr$value))))
  tf <- fit_alignment_model(alignment_data(tr, sim$models), level = "trial",
                            formula = choice ~ value + (value | participant) + (value | model),
                            min_models_per_effect = 0)
  expect_s3_class(tf$fit, "glm")
  expect_match(tf$diagnostics$messages, "fitted with glm \\(binomial\\) instead of glmer")
  tt <- tidy_alignment_model(tf)
  expect_lt(abs(tt$estimate[tt$term == "value"] - 1.2), 2 * tt$std.error[tt$term == "value"])
})

test_that("duplicated trial rows are an error naming them", {
  d <- simulate_choices(n_participants = 10, n_trials = 30)
  dup <- rbind(d, d[d$participant == "p03" & d$trial %in% c(4, 5), ])
  expect_error(cv_choice_model(dup, k = 5),
               paste("trials: 2 duplicated row\\(s\\) with the same model, layer, task, participant, trial",
                     ".*participant=p03, trial=4"))
  expect_error(fit_choice_model(dup), "2 duplicated row\\(s\\)")
  # pooled tasks: the same (participant, trial) in two tasks is not a duplicate
  two <- rbind(d, transform(d, task = "t2"))
  expect_equal(nrow(cv_choice_model(two, k = 5, by = c("model", "layer"))), 2 * nrow(d))
  sim <- simulate_models(n = 10)
  expect_error(fit_alignment_model(rbind(sim$ad, sim$ad[3, ]), level = "model"),
               "model-level alignment data: 1 duplicated row\\(s\\) with the same model, layer, task")
})

test_that("fit_run: an input without tables or with nothing to fit is an error, and writes nothing", {
  dir <- file.path(tempdir(), "fit-run-empty")
  dir.create(dir, showWarnings = FALSE)
  out <- file.path(tempdir(), "fit-run-out")
  expect_error(fit_run(dir, out, verbose = FALSE), "no repalign Parquet tables under .*fit-run-empty")
  expect_false(dir.exists(out))
  expect_error(fit_run(file.path(tempdir(), "nope"), out, verbose = FALSE), "input directory .*nope does not exist")
  expect_error(fit_run(dir, out, levels = "model,everything", verbose = FALSE), "levels: 'model', 'trial' or none")
})

test_that("predict() of an alignment fit recovers the planted alignment; task-less scores are pooled", {
  sim <- simulate_models(n = 40, noise = 0.001)
  fit <- fit_alignment_model(sim$ad, level = "model")
  m <- match(sim$ad$model, sim$models$name)
  planted <- 0.1 + 0.02 * log10(sim$models$train_size[m]) +
    c(supervised = 0.03, contrastive = -0.03)[sim$models$objective[m]] * sim$z[m]
  expect_lt(max(abs(predict(fit) - planted)), 0.01)
  # new rows: ten times the training data adds the planted 0.02 (log10 slope)
  new <- sim$ad[1:2, ]
  new$train_size <- c(1e5, 1e6) - 1
  p <- predict(fit, new)
  expect_equal(p[2] - p[1], 0.02, tolerance = 0.1)
  expect_error(predict(fit, new[, c("model", "task")]), "newdata: missing column")
  # scores pooled over tasks (no task column) get task = "pooled"
  pooled <- sim$ad[sim$ad$task == "category", setdiff(names(sim$ad), "task")][, c("model", "layer", "pseudo_r2")]
  ad <- alignment_data(pooled, sim$models, sim$metrics)
  expect_equal(unique(ad$task), "pooled")
})

test_that("scores pooled within each task kind keep one model-level row per model and kind", {
  # the naturalcogsci set-up: choice models grouped by (model, layer, task_kind), so the
  # scores carry task_kind and no task; both kinds used to become task "pooled" and the
  # model-level fit stopped on duplicated rows
  sim <- simulate_models(n = 30, noise = 0.001)
  scores <- sim$ad[, c("model", "layer", "task", "pseudo_r2")]
  names(scores)[names(scores) == "task"] <- "task_kind"
  ad <- alignment_data(scores, sim$models, sim$metrics)
  expect_equal(ad$task, ad$task_kind)
  expect_equal(nrow(ad), 60L)
  fit <- fit_alignment_model(ad, level = "model")
  tab <- tidy_alignment_model(fit)
  # planted: 0.02 per log10 of training-set size
  s <- tab[tab$term == "log10(train_size + 1)", ]
  expect_lt(abs(s$estimate - 0.02), 3 * s$std.error)
  expect_equal(repalign:::pooled_task(scores[1:2, ], c("model", "layer")), c("pooled", "pooled"))
})

test_that("a rho that rests on a near-tie says so, naming the pair and the rho of the swap", {
  # five models, property strictly increasing; alignment planted with one pair 0.0004 apart
  # (the demo's Lite0 vs pixels) whose order goes against the property, and others far apart
  ad <- data.frame(model = sprintf("m%d", 1:5), layer = "L", task = "t", objective = "o",
                   train_size = c(1, 2, 3, 4, 5), pseudo_r2 = c(0.10, 0.2004, 0.2000, 0.40, 0.50))
  cor <- model_level_correlations(ad, c(train_size = "train_size"), by = NULL, n_boot = 0)
  swapped <- stats::cor(1:5, rank(c(0.10, 0.2000, 0.2004, 0.40, 0.50)))  # = 1: the planted order
  expect_equal(cor$rho, stats::cor(1:5, c(1, 3, 2, 4, 5)))
  expect_match(cor$note, sprintf(paste("rho %.3f rests on 1 near-tie(s): m2/L and m3/L differ in alignment by 0.0004",
                                       "(< 0.001): swapped, rho = %.3f"),
                                 cor$rho, swapped), fixed = TRUE)
  # the tolerance is the switch: 0 checks nothing; pairs farther apart than it are not ties
  expect_equal(model_level_correlations(ad, c(train_size = "train_size"), by = NULL, n_boot = 0, tie_tol = 0)$note, "")
  far <- ad
  far$pseudo_r2[3] <- 0.19
  expect_equal(model_level_correlations(far, c(train_size = "train_size"), by = NULL, n_boot = 0)$note, "")
  # a near-tie between models with the same property value cannot change rho: not named
  same <- ad
  same$train_size[3] <- 2
  expect_false(grepl("near-tie", model_level_correlations(same, c(train_size = "train_size"), by = NULL,
                                                          n_boot = 0)$note))
})

test_that("over many models a swap of neighbours that barely moves rho is not called a near-tie", {
  # 12 models: swapping two neighbouring alignments moves rho by 12 / (12 * 143) = 0.007
  n <- 12
  y <- seq(0.1, 0.32, length.out = n)
  y[7] <- y[6] + 0.0002
  ad <- data.frame(model = sprintf("m%02d", 1:n), layer = "L", task = "t", objective = "o",
                   train_size = 1:n, pseudo_r2 = y)
  expect_equal(model_level_correlations(ad, c(train_size = "train_size"), by = NULL, n_boot = 0)$note, "")
})

# Simulated models x benchmarks with known fixed effects and a known spread of the
# training-size slope across benchmarks (the planted truth of the benchmark model).
simulate_benchmarks <- function(n_models = 24, n_benchmarks = 12, seed = 1,
                                beta = c(intercept = 0.2, size = 0.08, objB = -0.3, size_objB = 0.05, id = 0.1),
                                sd_model = 0.15, sd_bench = 0.2, sd_slope = 0.04, sd_resid = 0.1) {
  set.seed(seed)
  models <- data.frame(name = sprintf("m%02d", seq_len(n_models)), family = "F",
                       objective = rep(c("A", "B"), length.out = n_models),
                       train_size = round(10^stats::runif(n_models, 3, 9)), stringsAsFactors = FALSE)
  id <- stats::rnorm(n_models, 20, 5)
  u <- stats::rnorm(n_models, 0, sd_model)
  a <- stats::rnorm(n_benchmarks, 0, sd_bench)
  c <- stats::rnorm(n_benchmarks, 0, sd_slope)
  g <- expand.grid(i = seq_len(n_models), b = seq_len(n_benchmarks))
  x <- log10(models$train_size[g$i] + 1)
  obj_b <- as.numeric(models$objective[g$i] == "B")
  zid <- as.numeric(scale(id))[g$i]
  y <- beta[["intercept"]] + beta[["size"]] * x + beta[["objB"]] * obj_b + beta[["size_objB"]] * x * obj_b +
    beta[["id"]] * zid + u[g$i] + a[g$b] + c[g$b] * x + stats::rnorm(nrow(g), 0, sd_resid)
  table <- tibble::tibble(model = models$name[g$i], layer = "penultimate", benchmark = sprintf("b%02d", g$b),
                          family = "sim", dataset = sprintf("b%02d", g$b), measure = "sim", value = y,
                          scaled = y, scaled_se = sd_resid)
  metrics <- data.frame(model = models$name, layer = "penultimate", dataset = "ids", metric = "dimensionality_twonn",
                        value = id, stringsAsFactors = FALSE)
  list(data = benchmark_data(table, models, metrics), truth = beta, slopes = beta[["size"]] + c)
}

# lme4 names of the planted fixed effects
benchmark_terms <- c(intercept = "(Intercept)", size = "log10(train_size + 1)", objB = "objectiveB",
                     size_objB = "log10(train_size + 1):objectiveB", id = "scale(intrinsic_dim)")

# Share of 95% intervals that cover the planted fixed effects over `n` simulations
benchmark_coverage <- function(n = 50, engine = "lme4", ...) {
  hits <- sapply(seq_len(n), function(s) {
    sim <- simulate_benchmarks(seed = s, ...)
    fit <- suppressWarnings(fit_benchmark_model(sim$data, engine = engine, min_models_per_effect = 0))
    tab <- tidy_alignment_model(fit)
    est <- tab[match(benchmark_terms, tab$term), ]
    est$conf.low <= sim$truth[names(benchmark_terms)] & sim$truth[names(benchmark_terms)] <= est$conf.high
  })
  rownames(hits) <- names(benchmark_terms)
  hits
}

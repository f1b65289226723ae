# Coverage of the cross-benchmark model's 95% intervals on simulated models x benchmarks with
# planted fixed effects and a planted spread of the training-size slope across benchmarks.
#   Rscript bench/benchmark_recovery.R [n_lme4 = 200] [n_brms = 50]
# (R_LIBS must hold the installed repalign R package, as `make` sets it.) Prints per-effect and
# pooled coverage; the goal is a pooled rate within [0.90, 0.99] for each engine.
suppressPackageStartupMessages(library(repalign))
args <- as.integer(commandArgs(TRUE))
n_lme4 <- if (length(args) >= 1) args[1] else 200L
n_brms <- if (length(args) >= 2) args[2] else 50L
src <- file.path("tests", "testthat", "helper-benchmarks.R")
sys.source(src, envir = environment())
report <- function(engine, hits, secs) {
  cat(sprintf("%s: %d simulations, %.1f s\n", engine, ncol(hits), secs))
  for (t in rownames(hits)) cat(sprintf("  coverage %-10s %.3f\n", t, mean(hits[t, ])))
  cat(sprintf("  coverage pooled     %.3f\n", mean(hits)))
}
t0 <- Sys.time()
if (n_lme4 > 0) report("lme4", benchmark_coverage(n_lme4), as.numeric(difftime(Sys.time(), t0, units = "secs")))
if (n_brms > 0) {
  # one compiled Stan model, refitted on each simulation's data (brms::update without recompiling)
  t0 <- Sys.time()
  first <- simulate_benchmarks(seed = 1)
  base <- suppressWarnings(fit_benchmark_model(first$data, engine = "brms", chains = 2, iter = 1000,
                                               min_models_per_effect = 0))
  hits <- sapply(seq_len(n_brms), function(s) {
    sim <- simulate_benchmarks(seed = s)
    x <- base
    x$data <- as.data.frame(sim$data)
    x$fit <- suppressWarnings(suppressMessages(stats::update(base$fit, newdata = x$data, recompile = FALSE,
                                                             refresh = 0, seed = s)))
    tab <- tidy_alignment_model(x)
    est <- tab[match(benchmark_terms, tab$term), ]
    est$conf.low <= sim$truth[names(benchmark_terms)] & sim$truth[names(benchmark_terms)] <= est$conf.high
  })
  rownames(hits) <- names(benchmark_terms)
  report("brms (se() measurement error, 2 chains x 1000 iterations)", hits,
         as.numeric(difftime(Sys.time(), t0, units = "secs")))
}

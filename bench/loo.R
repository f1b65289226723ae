#!/usr/bin/env Rscript
# Fast exact row-LOO of the choice model vs the reference's naive per-row glmer refit,
# on THINGSDecisions (25 people x 150 trials = 3750 rows; value: a ridge learner on
# the 14-d SPoSE loadings, see tests/testthat/helper-things-decisions.R). Without
# REPALIGN_DATA_DIR, simulated data of the same size.
#
#   R_LIBS=.rlib Rscript bench/loo.R [n_naive_rows]
#
# The naive refit (one glmer per row, standardised with the remaining rows) is timed
# on n_naive_rows rows spread over the table (default 40) and its per-row time scaled
# to all rows; the fast path runs on all rows. Prints the ratio and max |dp| between
# the two on the timed rows.
suppressPackageStartupMessages(library(repalign))
args <- commandArgs(trailingOnly = TRUE)
n_naive <- if (length(args)) as.integer(args[1]) else 40L
root <- Sys.getenv("REPALIGN_DATA_DIR")
if (nzchar(root) && dir.exists(root)) {
  source(file.path("tests", "testthat", "helper-things-decisions.R"))
  d <- things_decisions_values(root)
  source_label <- "THINGSDecisions (real choices, ridge-learner values)"
} else {
  set.seed(1)
  d <- data.frame(model = "m", participant = rep(sprintf("p%02d", 1:25), each = 150), trial = rep(1:150, 25))
  d$value <- stats::rnorm(nrow(d))
  d$choice <- stats::rbinom(nrow(d), 1, stats::plogis(1.5 * d$value))
  source_label <- "simulated"
}
n <- nrow(d)
source(file.path("tests", "testthat", "helper-reference.R"))  # naive_loo_prob: the reference, shared with test-cv.R
naive_row <- function(i) naive_loo_prob(d, i)
rows <- unique(round(seq(1, n, length.out = n_naive)))
t_naive <- system.time(p_naive <- vapply(rows, naive_row, 0))[["elapsed"]]
t_fast <- system.time(fast <- cv_choice_model(d, method = "loo", by = "model"))[["elapsed"]]
naive_total <- t_naive / length(rows) * n
cat(sprintf("data: %s, %d rows, %d participants\n", source_label, n, length(unique(d$participant))))
cat(sprintf("naive per-row glmer refit: %.3f s/row on %d rows -> %.0f s for all %d rows (extrapolated)\n",
            t_naive / length(rows), length(rows), naive_total, n))
cat(sprintf("fast exact LOO (1 worker): %.1f s for all %d rows (%.2f ms/row)\n", t_fast, n, 1000 * t_fast / n))
cat(sprintf("speed-up: %.1fx\n", naive_total / t_fast))
cat(sprintf("max |dp| fast vs naive on the %d timed rows: %.2e\n", length(rows), max(abs(fast$prob[rows] - p_naive))))
s <- alignment_scores(fast, by = "model", n_boot = 0)
cat(sprintf("LOO pseudo-R2: %.4f (NLL %.1f over %d trials)\n", s$pseudo_r2, s$nll, s$n_trials))

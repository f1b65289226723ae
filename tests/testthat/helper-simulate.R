# Simulated trial tables with planted effects, for parameter-recovery tests.
simulate_choices <- function(n_participants = 30, n_trials = 80, slope = 1.5, slope_sd = 0.6, seed = 1) {
  set.seed(seed)
  n <- n_participants * n_trials
  d <- data.frame(model = "m", layer = "l", task = "t",
                  participant = rep(sprintf("p%02d", seq_len(n_participants)), each = n_trials),
                  trial = rep(seq_len(n_trials), n_participants))
  # Exactly standardised, so the model's standardisation leaves the planted slope unchanged.
  d$value <- as.numeric(scale(stats::rnorm(n)))
  b <- slope + stats::rnorm(n_participants, 0, slope_sd)
  d$choice <- stats::rbinom(n, 1, stats::plogis(d$value * b[match(d$participant, unique(d$participant))]))
  d
}

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

# A planted model set for the alignment-model tests: n_models networks alternating
# supervised / contrastive, training-set sizes log-spaced 1e4…10^8.5, intrinsic
# dimensionality `dims`; a trial grid (trial × participant × model) with standard-normal
# values standardised exactly within each model, so planted slopes are the fitted ones.
# Returns list(models, metrics, d, m = model index per row, z = standardised dims).
planted_model_set <- function(n_models, dims, n_trials, n_participants) {
  models <- data.frame(name = sprintf("net%02d", 1:n_models), family = "f",
                       objective = rep(c("supervised", "contrastive"), n_models / 2),
                       train_size = 10^seq(4, 8.5, length.out = n_models))
  metrics <- data.frame(model = models$name, layer = "l", metric = "dimensionality_twonn", value = dims)
  d <- expand.grid(trial = 1:n_trials, participant = sprintf("p%02d", 1:n_participants), model = models$name,
                   stringsAsFactors = FALSE)
  d$layer <- "l"
  d$task <- "t"
  d$value <- stats::rnorm(nrow(d))
  for (r in split(seq_len(nrow(d)), d$model)) d$value[r] <- as.numeric(scale(d$value[r]))
  m <- match(d$model, models$name)
  list(models = models, metrics = metrics, d = d, m = m,
       z = (metrics$value - mean(metrics$value)) / stats::sd(metrics$value))
}

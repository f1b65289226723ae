# THINGSDecisions (25 people x 150 trials) with a simple learner's value, read
# straight from the CSV: at trial t, a ridge regression (lambda = 1) of reward on
# the options' 14-d SPoSE loadings, fitted on both options of trials 1..t-1,
# predicts each option; value = right - left (0 on trial 1). A stand-in for the
# repalign reward learner that keeps the R tests independent of Python.
things_decisions_values <- function(root, participants = NULL, trials = NULL) {
  path <- file.path(root, "candemircan+THINGSDecisions", "data", "behavioural_data_14.csv")
  raw <- utils::read.csv(path, check.names = FALSE)
  left <- as.matrix(raw[sprintf("loadings_left%d", 1:14)])
  right <- as.matrix(raw[sprintf("loadings_right%d", 1:14)])
  raw$value <- 0
  for (p in unique(raw$participant_n)) {
    r <- which(raw$participant_n == p)
    r <- r[order(raw$trial_n[r])]
    for (k in seq_along(r)[-1]) {
      past <- r[seq_len(k - 1)]
      x_past <- rbind(left[past, , drop = FALSE], right[past, , drop = FALSE])
      yp <- c(raw$RewardLeft[past], raw$RewardRight[past])
      mx <- colMeans(x_past)
      my <- mean(yp)
      x_centred <- sweep(x_past, 2, mx)
      beta <- solve(crossprod(x_centred) + diag(14), crossprod(x_centred, yp - my))
      raw$value[r[k]] <- sum((right[r[k], ] - left[r[k], ]) * beta)
    }
  }
  d <- data.frame(task = "things-decisions", participant = raw$participant_n, trial = raw$trial_n,
                  model = "ridge-spose14", layer = "embedding", value = raw$value,
                  choice = as.integer(raw$responseKey == "right"))
  if (!is.null(participants)) d <- d[d$participant %in% sort(unique(d$participant))[participants], ]
  if (!is.null(trials)) d <- d[d$trial %in% trials, ]
  d[order(d$participant, d$trial), ]
}

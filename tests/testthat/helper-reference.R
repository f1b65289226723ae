# The reference's leave-one-row-out loop for the choice model (naive: one glmer refit
# per row, values standardised with the remaining rows). Shared by test-cv.R and
# bench/loo.R (which sources this file). Returns P(choice = 1) of row i of `d`.
naive_loo_prob <- function(d, i) {
  train <- d[-i, ]
  m <- mean(train$value)
  s <- stats::sd(train$value)
  train$value <- (train$value - m) / s
  test <- d[i, ]
  test$value <- (test$value - m) / s
  fit <- suppressMessages(lme4::glmer(choice ~ 0 + value + (0 + value | participant),
                                      family = stats::binomial(), data = train))
  unname(stats::predict(fit, newdata = test, type = "response"))
}

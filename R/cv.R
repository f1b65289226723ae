# Cross-validated choice models: participant-blocked K-fold and exact
# leave-one-row-out (LOO), and the alignment scores computed from them.

#' Out-of-sample choice probabilities of the choice model
#'
#' For every trial, the probability of the human's choice under a choice model
#' ([fit_choice_model()]) that never saw that trial.
#'
#' * `method = "kfold"` (default): participants are split (seeded) into `k`
#'   folds; each fold's rows are predicted by a model fitted, and standardised,
#'   on the other folds' rows only. Held-out participants have no fitted
#'   random effects, so their predictions use the fixed effects (`re.form = NA`).
#' * `method = "loo"`: the exact leave-one-row-out of Demircan et al. (2024):
#'   for each row, the model is refitted without that row, with `value`
#'   standardised by the remaining rows, and the row is predicted including its
#'   participant's random effects. `loo = "fast"` (default) does this without
#'   calling `glmer()` per row: it maximises the same Laplace-approximated
#'   likelihood as `glmer()` by Newton steps warm-started from the full fit,
#'   with row weights and affine re-standardisation of the model matrices.
#'   It needs a single grouping factor with one or two random effects and
#'   model matrices affine in `value` (true of the default formula); otherwise,
#'   or with `loo = "refit"`, each row is refitted with `glmer()` warm-started
#'   from the full fit. Rows are spread over `workers` forked processes.
#'
#' @param data Trial table: `participant`, `value`, `choice` (0/1), the `by`
#'   columns and any variable of the formula. Rows repeating a (model, layer,
#'   task, participant, trial) — of the columns present — are an error naming them.
#' @param formula Choice-model formula (see [default_choice_formula()]).
#' @param method `"kfold"` or `"loo"`.
#' @param k Number of participant folds (at most the number of participants).
#' @param seed Seed of the fold assignment.
#' @param by Columns defining one choice model (one fit or CV per group).
#' @param loo `"fast"` or `"refit"` (only for `method = "loo"`).
#' @param workers Number of forked worker processes for LOO.
#' @return A tibble with the `by` columns, `participant`, `trial` (when
#'   present), `value`, `choice`, `prob` (out-of-sample P(choice = 1)), `fold`
#'   and `method`, in the row order of `data`. Attribute `diagnostics`: one row
#'   per group with convergence information.
#' @export
cv_choice_model <- function(data, formula = default_choice_formula(), method = c("kfold", "loo"),
                            k = 5L, seed = 1L, by = c("model", "layer", "task"),
                            loo = c("fast", "refit"), workers = 1L) {
  method <- match.arg(method)
  loo <- match.arg(loo)
  check_columns(data, c(by, "participant", "value", "choice"), "trials")
  data <- as.data.frame(data)
  check_unique_trials(data, "trials", keys = unique(c(by, "model", "layer", "task", "participant", "trial")))
  groups <- group_rows(data, by)
  prob <- rep(NA_real_, nrow(data))
  fold <- rep(NA_integer_, nrow(data))
  diags <- vector("list", length(groups))
  for (gi in seq_along(groups)) {
    rows <- groups[[gi]]
    d <- data[rows, , drop = FALSE]
    label <- if (length(by)) paste(sprintf("%s=%s", by, unlist(d[1, by])), collapse = ", ") else "all rows"
    d <- prepare_choice_data(d, formula, what = sprintf("trials (%s)", label))
    res <- if (method == "kfold") {
      cv_kfold(d, formula, k, seed, label)
    } else if (loo == "fast") {
      loo_fast(d, formula, workers, label)
    } else {
      loo_refit(d, formula, workers)
    }
    prob[rows] <- res$prob
    fold[rows] <- res$fold
    diags[[gi]] <- tibble::tibble(group = label, method = res$method, n_rows = nrow(d),
                                  n_participants = length(unique(d$participant)),
                                  converged = res$converged, messages = res$messages)
  }
  keep <- intersect(c(by, "participant", "trial", "value", "choice"), names(data))
  out <- tibble::as_tibble(data[keep])
  out$choice <- as.integer(out$choice)
  out$prob <- prob
  out$fold <- fold
  out$method <- if (method == "kfold") "kfold" else paste0("loo-", loo)
  attr(out, "diagnostics") <- do.call(rbind, diags)
  out
}

# Evaluate `expr` with a fixed seed, leaving the caller's RNG state untouched.
with_seed <- function(seed, expr) {
  old <- if (exists(".Random.seed", envir = globalenv())) get(".Random.seed", envir = globalenv())
  on.exit(if (is.null(old)) rm(".Random.seed", envir = globalenv()) else
    assign(".Random.seed", old, envir = globalenv()))
  set.seed(seed)
  expr
}

#' Participant folds for blocked cross-validation
#'
#' @param participants Participant id per row.
#' @param k Number of folds (capped at the number of participants, with a message
#'   starting "note: " saying so).
#' @param seed Seed of the random assignment.
#' @return Integer fold (1..k) per row; all rows of a participant share a fold.
#' @export
participant_folds <- function(participants, k = 5L, seed = 1L) {
  parts <- sort(unique(as.character(participants)))
  if (length(parts) < 2L) {
    stop(sprintf("participant-blocked cross-validation needs at least 2 participants; got %d (%s). ",
                 length(parts), paste(parts, collapse = ", ")),
         "Pool tasks (e.g. by = c(\"model\", \"layer\")) or use method = \"loo\"", call. = FALSE)
  }
  if (as.integer(k) > length(parts)) {
    # said, not done silently: more folds than participants is leave-one-participant-out
    message(sprintf(paste("note: k = %d folds exceed the %d participants; each fold holds one participant",
                          "(leave-one-participant-out, k = %d)"), as.integer(k), length(parts), length(parts)))
  }
  k <- min(as.integer(k), length(parts))
  if (k < 2L) stop("k must be at least 2", call. = FALSE)
  perm <- with_seed(seed, sample.int(length(parts)))
  fold_of <- integer(length(parts))
  fold_of[perm] <- rep_len(seq_len(k), length(parts))
  fold_of[match(as.character(participants), parts)]
}

cv_kfold <- function(d, formula, k, seed, label) {
  fold <- participant_folds(d$participant, k, seed)
  prob <- rep(NA_real_, nrow(d))
  msgs <- character()
  conv <- TRUE
  for (f in sort(unique(fold))) {
    test <- d[fold == f, , drop = FALSE]
    # The held-out participants' rows never reach the fit nor the standardisation.
    fit <- suppressWarnings(fit_choice_model(d[fold != f, , drop = FALSE], formula))
    std <- attr(fit, "standardisation")
    test$value <- (test$value - std[["center"]]) / std[["scale"]]
    prob[fold == f] <- stats::predict(fit, newdata = test, re.form = NA, type = "response")
    dg <- attr(fit, "diagnostics")
    conv <- conv && dg$converged
    if (nzchar(dg$messages)) msgs <- c(msgs, sprintf("fold %d: %s", f, dg$messages))
  }
  if (!conv) warning(sprintf("choice model (%s): %s", label, paste(msgs, collapse = "; ")), call. = FALSE)
  list(prob = prob, fold = fold, method = "kfold", converged = conv, messages = paste(msgs, collapse = "; "))
}

# ---- leave-one-row-out by refitting ------------------------------------------------------

loo_refit <- function(d, formula, workers) {
  full <- suppressWarnings(fit_choice_model(d, formula))
  start <- list(theta = lme4::getME(full, "theta"), fixef = lme4::fixef(full))
  one <- function(i) {
    res <- collect_warnings(fit_choice_model(d[-i, , drop = FALSE], formula, start = start))
    std <- attr(res$value, "standardisation")
    test <- d[i, , drop = FALSE]
    test$value <- (test$value - std[["center"]]) / std[["scale"]]
    c(stats::predict(res$value, newdata = test, type = "response"),
      attr(res$value, "diagnostics")$converged)
  }
  res <- do.call(rbind, par_lapply(seq_len(nrow(d)), one, workers))
  bad <- sum(res[, 2] == 0)
  list(prob = unname(res[, 1]), fold = seq_len(nrow(d)), method = "loo-refit", converged = bad == 0,
       messages = if (bad) sprintf("%d of %d refits did not converge", bad, nrow(d)) else "")
}

# ---- fast leave-one-row-out ---------------------------------------------------------------
#
# glmer() maximises the Laplace approximation of the marginal likelihood over
# (theta, beta). Removing row i is a prior weight of 0 on it; re-standardising
# `value` with the other rows is an affine change of the model matrices'
# value-dependent entries. So every LOO fit optimises a slightly perturbed
# version of the full-data objective, whose optimum lies O(1/n) from the full
# fit's: a few Newton steps (gradient by central differences, Hessian of the
# full-data objective, re-used) reach it to the optimiser's tolerance. The
# Laplace deviance is computed here, vectorised over participants, for one
# grouping factor with q = 1 or 2 random effects; it equals -2 logLik of glmer.

# Model matrices of the fixed part and of the (single) random-effects term at
# standardised values x.
choice_matrices <- function(d, formula, x) {
  d$value <- x
  bar <- lme4::findbars(formula)[[1]]
  fixed <- stats::model.matrix(lme4::nobars(formula), d)
  random <- stats::model.matrix(stats::as.formula(call("~", bar[[2]])), d)
  list(X = unclass(fixed)[, , drop = FALSE], Z = unclass(random)[, , drop = FALSE])
}

# Decompose the model matrices as A + B * x (row-wise), or NULL when they are
# not affine in x or the formula is outside the fast path's scope.
affine_matrices <- function(d, formula, x) {
  bars <- lme4::findbars(formula)
  if (length(bars) != 1L || !is.name(bars[[1]][[3]])) return(NULL)
  m0 <- tryCatch(choice_matrices(d, formula, x), error = function(e) NULL)
  if (is.null(m0) || ncol(m0$Z) > 2L) return(NULL)
  m1 <- choice_matrices(d, formula, x + 1)
  m2 <- choice_matrices(d, formula, x + 2.5)
  bx <- m1$X - m0$X
  bz <- m1$Z - m0$Z
  ok <- isTRUE(all.equal(m2$X - m0$X, 2.5 * bx, tolerance = 1e-10)) &&
    isTRUE(all.equal(m2$Z - m0$Z, 2.5 * bz, tolerance = 1e-10))
  if (!ok) return(NULL)
  list(AX = m0$X - bx * x, BX = bx, AZ = m0$Z - bz * x, BZ = bz,
       group = as.integer(factor(d[[as.character(bars[[1]][[3]])]])))
}

# Laplace deviance (lme4's -2 logLik for a Bernoulli GLMM) with conditional modes.
# x_fixed: n x p, z_random: n x q (q = 1 or 2), g: group 1..n_groups per row, w: prior weights (0/1),
# theta: lme4's relative covariance factor (column-wise lower triangle), u: n_groups x q start.
laplace_deviance <- function(theta, beta, y, w, x_fixed, z_random, g, u, tol = 1e-11, maxit = 50L) {
  n_groups <- nrow(u)
  q <- ncol(z_random)
  eta0 <- drop(x_fixed %*% beta)
  # Sums per group; one group (a participant's rows) needs no grouping.
  rowsum <- if (n_groups == 1L) function(v, ...) if (is.matrix(v)) matrix(colSums(v), 1L) else sum(v)
            else function(v, ...) base::rowsum(v, g, reorder = TRUE)
  if (q == 1L) {
    a1 <- z_random[, 1] * theta[1]
    for (it in seq_len(maxit)) {
      eta <- eta0 + a1 * u[g, 1]
      mu <- stats::plogis(eta)
      wt <- w * mu * (1 - mu)
      h <- drop(rowsum(wt * a1 * a1, g, reorder = TRUE)) + 1
      gr <- drop(rowsum(w * (mu - y) * a1, g, reorder = TRUE)) + u[, 1]
      step <- gr / h
      u[, 1] <- u[, 1] - step
      if (max(abs(step)) < tol) break
    }
    eta <- eta0 + a1 * u[g, 1]
    mu <- stats::plogis(eta)
    h <- drop(rowsum(w * mu * (1 - mu) * a1 * a1, g, reorder = TRUE)) + 1
    logdet <- sum(log(h))
  } else {
    a1 <- z_random[, 1] * theta[1] + z_random[, 2] * theta[2]
    a2 <- z_random[, 2] * theta[3]
    for (it in seq_len(maxit)) {
      eta <- eta0 + a1 * u[g, 1] + a2 * u[g, 2]
      mu <- stats::plogis(eta)
      wt <- w * mu * (1 - mu)
      r <- w * (mu - y)
      s <- rowsum(cbind(wt * a1 * a1, wt * a1 * a2, wt * a2 * a2, r * a1, r * a2), g, reorder = TRUE)
      h11 <- s[, 1] + 1
      h12 <- s[, 2]
      h22 <- s[, 3] + 1
      g1 <- s[, 4] + u[, 1]
      g2 <- s[, 5] + u[, 2]
      det <- h11 * h22 - h12 * h12
      st1 <- (h22 * g1 - h12 * g2) / det
      st2 <- (h11 * g2 - h12 * g1) / det
      u[, 1] <- u[, 1] - st1
      u[, 2] <- u[, 2] - st2
      if (max(abs(st1), abs(st2)) < tol) break
    }
    eta <- eta0 + a1 * u[g, 1] + a2 * u[g, 2]
    mu <- stats::plogis(eta)
    wt <- w * mu * (1 - mu)
    s <- rowsum(cbind(wt * a1 * a1, wt * a1 * a2, wt * a2 * a2), g, reorder = TRUE)
    logdet <- sum(log((s[, 1] + 1) * (s[, 3] + 1) - s[, 2]^2))
  }
  # Bernoulli deviance residuals, computed on the log scale for stability.
  ll <- y * stats::plogis(eta, log.p = TRUE) + (1 - y) * stats::plogis(-eta, log.p = TRUE)
  list(dev = -2 * sum(w * ll) + sum(u * u) + logdet, u = u, eta = eta)
}

loo_fast <- function(d, formula, workers, label) {
  full <- suppressWarnings(fit_choice_model(d, formula))
  std <- attr(full, "standardisation")
  v <- d$value
  n <- nrow(d)
  x <- (v - std[["center"]]) / std[["scale"]]
  aff <- affine_matrices(d, formula, x)
  if (is.null(aff) || n < 4L) {
    message(sprintf("fast LOO (%s): formula outside the fast path; refitting per row", label))
    return(loo_refit(d, formula, workers))
  }
  q <- ncol(aff$AZ)
  g <- aff$group
  theta0 <- unname(lme4::getME(full, "theta"))
  phi <- c(theta0, unname(lme4::fixef(full)))
  # Parameters on the boundary (a variance of 0) stay there, as in a singular fit.
  diag_idx <- if (q == 1L) 1L else c(1L, 3L)
  fj <- setdiff(seq_along(phi), diag_idx[theta0[diag_idx] < 1e-6])
  obj <- loo_objective(aff, x, d$choice, length(theta0), fj)
  all_rows <- seq_len(n)
  w1 <- rep(1, n)
  polished <- polish_full_fit(obj, phi, all_rows, w1)
  if (is.null(polished$hess_chol)) {
    message(sprintf("fast LOO (%s): objective not locally convex at the full fit; refitting per row", label))
    return(loo_refit(d, formula, workers))
  }
  phi <- polished$phi
  # Each participant's gradient terms at the full fit; every row's fit starts from them.
  members <- split(all_rows, g)
  per <- participant_terms(obj, phi, members)
  ctx <- list(obj = obj, phi = phi, hess = polished$hess, hess_chol = polished$hess_chol, per = per,
              dgrad_total = attr(per, "dgrad_total"), members = members, g = g, v = v, s1 = sum(v), s2 = sum(v * v),
              std = std, diag_idx = diag_idx, all_rows = all_rows, w1 = w1)
  one <- function(i) loo_fast_row(i, ctx)
  chunks <- split(all_rows, sort(rep_len(seq_len(max(1L, as.integer(workers))), n)))
  res <- do.call(rbind, par_lapply(chunks, function(rows) t(vapply(rows, one, numeric(2))), workers))
  prob <- unname(res[, 1])
  refit <- which(res[, 2] == 0)
  prob[refit] <- loo_glmer_rows(d, formula, full, refit)
  dg <- attr(full, "diagnostics")
  list(prob = prob, fold = all_rows, method = "loo-fast", converged = dg$converged,
       messages = paste(c(if (nzchar(dg$messages)) paste("full fit:", dg$messages),
                          if (length(refit)) sprintf("%d influential row(s) refitted with glmer", length(refit))),
                        collapse = "; "))
}

# Polish the full fit `phi` to the exact optimum of the objective (glmer stops at its optimiser's
# tolerance), so that the full-data gradient is zero. Returns list(phi, hess, hess_chol); `hess_chol`
# is NULL when the Hessian is not positive definite (the objective not locally convex).
polish_full_fit <- function(obj, phi, all_rows, w1) {
  fj <- obj$fj
  hess <- NULL
  hess_chol <- NULL
  for (it in 1:10) {
    hess <- obj$hess_rows(phi, all_rows, w1)
    hess_chol <- tryCatch(chol(hess), error = function(e) NULL)
    if (is.null(hess_chol)) break
    step <- backsolve(hess_chol, forwardsolve(t(hess_chol), obj$grad_rows(phi, all_rows, w1)))
    phi[fj] <- phi[fj] - step
    if (max(abs(step)) < 1e-9) break
  }
  list(phi = phi, hess = hess, hess_chol = hess_chol)
}

# The held-out probabilities of the rows `rows` by refitting glmer without each (started at the full
# fit `full`).
loo_glmer_rows <- function(d, formula, full, rows) {
  start <- list(theta = unname(lme4::getME(full, "theta")), fixef = lme4::fixef(full))
  vapply(rows, function(i) {
    fit <- suppressWarnings(fit_choice_model(d[-i, , drop = FALSE], formula, start = start))
    st <- attr(fit, "standardisation")
    test <- d[i, , drop = FALSE]
    test$value <- (test$value - st[["center"]]) / st[["scale"]]
    unname(stats::predict(fit, newdata = test, type = "response"))
  }, 0)
}

# The fast LOO's objective over row subsets: deviance, gradient and Hessian (central differences,
# step `h`) in the free parameters `fj` of p = (theta, beta) (`ntheta` thetas), for the rows `rows`
# (all of them, or one participant's) with prior weights `w` and the standardised value mapped to
# cc[2] * x + cc[1] (re-standardisation). `aff`: affine_matrices(); `x`: standardised values; `y`: choices.
loo_objective <- function(aff, x, y, ntheta, fj, h = 1e-4) {
  g <- aff$group
  q <- ncol(aff$AZ)
  # Row subsets are all rows or one participant's: slice their matrices once.
  blocks <- new.env()
  block <- function(rows) {
    key <- paste(rows[1], length(rows))
    b <- blocks[[key]]
    if (is.null(b)) {
      grp <- g[rows]
      b <- list(x = x[rows], y = y[rows], grp = match(grp, sort(unique(grp))),
                AX = aff$AX[rows, , drop = FALSE], BX = aff$BX[rows, , drop = FALSE],
                AZ = aff$AZ[rows, , drop = FALSE], BZ = aff$BZ[rows, , drop = FALSE])
      b$u0 <- matrix(0, max(b$grp), q)
      assign(key, b, envir = blocks)
    }
    b
  }
  dev_rows <- function(p, rows, w, cc = c(0, 1)) {
    b <- block(rows)
    xr <- cc[2] * b$x + cc[1]
    laplace_deviance(p[seq_len(ntheta)], p[-seq_len(ntheta)], b$y, w, b$AX + b$BX * xr,
                     b$AZ + b$BZ * xr, b$grp, b$u0)
  }
  grad_rows <- function(p, rows, w, cc = c(0, 1)) {
    vapply(fj, function(j) {
      e <- replace(numeric(length(p)), j, h)
      (dev_rows(p + e, rows, w, cc)$dev - dev_rows(p - e, rows, w, cc)$dev) / (2 * h)
    }, 0)
  }
  hess_rows <- function(p, rows, w) {
    hess <- vapply(fj, function(j) {
      e <- replace(numeric(length(p)), j, h)
      (grad_rows(p + e, rows, w) - grad_rows(p - e, rows, w)) / (2 * h)
    }, numeric(length(fj)))
    hess <- as.matrix(hess)
    (hess + t(hess)) / 2
  }
  list(dev_rows = dev_rows, grad_rows = grad_rows, hess_rows = hess_rows, fj = fj, h = h)
}

# Each participant's gradient at the full fit (G), its derivative with respect to the
# standardisation map c = (shift, scale) (dG) and its Hessian (H): leaving row i out moves c by
# O(1/n), so the other participants' gradients are linear in it to O(1/n^2). `members`: rows per
# participant. Attribute `dgrad_total`: the sum of the dG.
participant_terms <- function(obj, phi, members) {
  fj <- obj$fj
  h <- obj$h
  per <- lapply(members, function(rows) {
    w <- rep(1, length(rows))
    grad <- obj$grad_rows(phi, rows, w)
    dc <- vapply(1:2, function(k) {
      e <- replace(numeric(2), k, h)
      (obj$grad_rows(phi, rows, w, c(0, 1) + e) - obj$grad_rows(phi, rows, w, c(0, 1) - e)) / (2 * h)
    }, numeric(length(fj)))
    list(G = grad, dG = matrix(dc, length(fj)), H = obj$hess_rows(phi, rows, w))
  })
  attr(per, "dgrad_total") <- Reduce(`+`, lapply(per, `[[`, "dG"))
  per
}

# One row i of the fast LOO: the choice probability of row i under the fit without it, and whether
# the Newton steps reached that fit (0: refit the row with glmer). `ctx`: the full fit's terms (loo_fast()).
loo_fast_row <- function(i, ctx, exact_threshold = 0.01) {
  obj <- ctx$obj
  fj <- obj$fj
  phi <- ctx$phi
  v <- ctx$v
  n <- length(v)
  m <- (ctx$s1 - v[i]) / (n - 1)
  s <- sqrt(max((ctx$s2 - v[i]^2 - (n - 1) * m^2) / (n - 2), 0))
  if (!is.finite(s) || s <= 0) s <- 1
  # x' = (v - m) / s = cc[2] * x + cc[1]
  cc <- c((ctx$std[["center"]] - m) / s, ctx$std[["scale"]] / s)
  j <- ctx$g[i]
  rows <- ctx$members[[j]]
  w <- as.numeric(rows != i)
  # The other participants' gradient, to second order in (parameters, c):
  # G_others(p) is -G_j + (H - H_j) (p - phi) + (dG - dG_j) (c - c_full);
  # participant j's, without row i, exactly. Newton on their sum.
  others0 <- -ctx$per[[j]]$G + (ctx$dgrad_total - ctx$per[[j]]$dG) %*% (cc - c(0, 1))
  hess_others <- ctx$hess - ctx$per[[j]]$H
  p1 <- phi
  for (it in 1:6) {
    gi <- others0 + hess_others %*% (p1[fj] - phi[fj]) + obj$grad_rows(p1, rows, w, cc)
    step <- backsolve(ctx$hess_chol, forwardsolve(t(ctx$hess_chol), gi))
    p1[fj] <- p1[fj] - step
    if (max(abs(step)) < 1e-8) break
  }
  # The quadratic model of the other participants is accurate to O(|p1 - phi|^2);
  # an influential row in a small data set moves the parameters far enough
  # for that to matter: finish with exact Newton steps on all rows.
  ok <- TRUE
  if (max(abs(p1 - phi)) > exact_threshold) {
    exact <- loo_exact_newton(i, p1, cc, ctx)
    p1 <- exact$p
    ok <- exact$ok
  }
  fit <- obj$dev_rows(p1, rows, w, cc)
  c(stats::plogis(fit$eta[rows == i]), ok)
}

# Exact Newton steps (all rows but i, the full data's Hessian) from `p1`; `ok` is FALSE when they
# do not converge or leave the parameters far from the full fit (a flat likelihood, few participants):
# such a row is refitted with glmer instead.
loo_exact_newton <- function(i, p1, cc, ctx) {
  fj <- ctx$obj$fj
  wa <- ctx$w1
  wa[i] <- 0
  ok <- FALSE
  for (it in 1:8) {
    step <- backsolve(ctx$hess_chol, forwardsolve(t(ctx$hess_chol), ctx$obj$grad_rows(p1, ctx$all_rows, wa, cc)))
    p1[fj] <- p1[fj] - step
    if (max(abs(step)) < 1e-8) {
      ok <- TRUE
      break
    }
  }
  list(p = p1, ok = ok && max(abs(p1 - ctx$phi)) < 0.05 && all(p1[ctx$diag_idx] > 0))
}

# ---- scores -----------------------------------------------------------------------------

#' Alignment scores from cross-validated choice probabilities
#'
#' Negative log-likelihood (NLL, natural log, summed over trials) of the
#' human choices under the out-of-sample probabilities, and
#' pseudo-R² = 1 − NLL / NLL(chance), where chance predicts 0.5 on every trial
#' (NLL(chance) = n log 2). Confidence intervals: percentile bootstrap over
#' participants (participants resampled with replacement, all their trials kept).
#'
#' @param cv Output of [cv_choice_model()] (columns `choice`, `prob`,
#'   `participant` and the `by` columns).
#' @param by Grouping columns (one score per group).
#' @param n_boot Bootstrap resamples (0: no CI).
#' @param level Confidence level.
#' @param seed Bootstrap seed.
#' @return A tibble: the `by` columns, `n_trials`, `n_participants`, `nll`,
#'   `nll_per_trial`, `nll_chance`, `pseudo_r2`, `ci_low`, `ci_high`, `method`.
#' @export
alignment_scores <- function(cv, by = c("model", "layer", "task"), n_boot = 1000L, level = 0.95,
                             seed = 1L) {
  check_columns(cv, c(by, "participant", "choice", "prob"), "cross-validated choices")
  cv <- as.data.frame(cv)
  y <- check_binary(cv$choice, "column 'choice'")
  if (anyNA(cv$prob)) stop("column 'prob' has missing values", call. = FALSE)
  p <- pmin(pmax(cv$prob, 1e-12), 1 - 1e-12)
  nll_row <- -(y * log(p) + (1 - y) * log(1 - p))
  groups <- group_rows(cv, by)
  alpha <- (1 - level) / 2
  rows <- lapply(seq_along(groups), function(gi) {
    r <- groups[[gi]]
    part <- as.character(cv$participant[r])
    nll_part <- tapply(nll_row[r], part, sum)
    n_part <- tapply(rep(1, length(r)), part, sum)
    nll <- sum(nll_part)
    n <- sum(n_part)
    r2 <- 1 - nll / (n * log(2))
    ci <- c(NA_real_, NA_real_)
    if (n_boot > 0 && length(nll_part) > 1) {
      n_parts <- length(nll_part)
      idx <- with_seed(seed + gi, matrix(sample.int(n_parts, n_parts * n_boot, replace = TRUE), n_parts))
      boot <- 1 - colSums(matrix(nll_part[idx], n_parts)) / (colSums(matrix(n_part[idx], n_parts)) * log(2))
      ci <- unname(stats::quantile(boot, c(alpha, 1 - alpha), names = FALSE))
    }
    out <- tibble::as_tibble(cv[r[1], by, drop = FALSE])
    out$n_trials <- as.integer(n)
    out$n_participants <- length(nll_part)
    out$nll <- nll
    out$nll_per_trial <- nll / n
    out$nll_chance <- n * log(2)
    out$pseudo_r2 <- r2
    out$ci_low <- ci[1]
    out$ci_high <- ci[2]
    out$method <- if ("method" %in% names(cv)) cv$method[r[1]] else NA_character_
    out
  })
  do.call(rbind, rows)
}

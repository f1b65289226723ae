# Model-level statistics: rank correlations over networks between alignment and
# each network's size, training data and intrinsic dimensionality.

#' Spearman correlations between alignment and model properties, over models
#'
#' The model-level analysis of Demircan et al. (2024), candemircan/naturalcogsci
#' `bin/fig4_12.ipynb` / `bin/fig4_14.ipynb` (Spearman rho and p-value over
#' models between alignment and training-set size, parameter count and
#' intrinsic dimensionality) and `bin/fig5.ipynb` (the same per model type,
#' with percentile-bootstrap 95% intervals from resampling models with
#' replacement, 1000 resamples). Alignment is one number per model: its
#' pseudo-R² averaged over the tasks (the paper averages its category and
#' reward tasks).
#'
#' As published: rho is the Pearson correlation of the mid-ranks (ties share
#' their mean rank, as `scipy.stats.spearmanr`); the p-value is scipy's, from
#' the t distribution with n − 2 degrees of freedom
#' (t = rho sqrt((n − 2) / (1 − rho²))); the interval is the percentile
#' interval of the bootstrap rhos (linear interpolation, as `numpy.percentile`).
#' Differences: the resamples are seeded (`seed`), and a resample in which
#' every model has the same alignment or property (rho undefined; `nan` in the
#' published code, which then makes its interval `nan`) is left out and
#' counted in `n_boot`. Rows come for every objective present (the paper's
#' pooled correlations keep its supervised, self-supervised and multimodal
#' networks: pass `objectives =` to do the same).
#'
#' A correlation over fewer than `min_models` models reports rho alone, with no
#' p-value or interval, and says so in `note` (five models per estimated
#' quantity, the rule of [fit_alignment_model()]).
#'
#' @param data [alignment_data()] of alignment scores: one row per (model,
#'   layer, task) with `pseudo_r2` and the property columns.
#' @param predictors Named character vector: output label = column of `data`.
#'   Default: training-set size (`train_size`, reported as its log10 + 1: the
#'   rank correlation is the same), parameter count (`params`) and intrinsic
#'   dimensionality (`intrinsic_dim`); columns absent from `data` are skipped.
#' @param by Column whose levels get their own correlations besides the pooled
#'   one (`"objective"`: the model type); `NULL` for pooled only.
#' @param objectives Objectives to keep (`NULL`: all).
#' @param n_boot Bootstrap resamples of the models (0: no intervals).
#' @param level Interval level.
#' @param seed Seed of the resampling.
#' @param min_models Fewest models for a p-value and an interval.
#' @param tie_tol Near-tie tolerance on alignment (pseudo-R²): two models whose
#'   alignments differ by less than this while their property differs hold ranks
#'   that the cross-validation's folds (its seed) can swap; each such pair whose
#'   swap moves rho by 0.05 or more is named in `note` with the rho the swap gives
#'   ("rho rests on a near-tie"). `0`: no check.
#' @return A tibble, one row per (group, predictor): `group` (`"all"` or a
#'   level of `by`), `predictor`, `n_models`, `rho`, `p.value`, `conf.low`,
#'   `conf.high`, `n_boot` (resamples with a defined rho), `note`. Models
#'   (model, layer units) with a missing property are left out of that
#'   property's rows, and the row's `note` names them.
#' @export
model_level_correlations <- function(data, predictors = c(train_size = "train_size", params = "params",
                                                          intrinsic_dim = "intrinsic_dim"),
                                     by = "objective", objectives = NULL, n_boot = 1000L, level = 0.95,
                                     seed = 1L, min_models = 5L, tie_tol = 0.001) {
  check_columns(data, c("model", "pseudo_r2", by), "alignment data")
  data <- as.data.frame(data)
  if (!is.null(objectives)) {
    check_columns(data, "objective", "alignment data")
    data <- data[data$objective %in% objectives, , drop = FALSE]
  }
  predictors <- predictors[predictors %in% names(data)]
  units <- model_units(data, c(by, unname(predictors)))
  groups <- list(all = seq_len(nrow(units)))
  if (!is.null(by)) groups <- c(groups, split(seq_len(nrow(units)), as.character(units[[by]])))
  rows <- list()
  gi <- 0L
  for (g in names(groups)) {
    for (lab in names(predictors)) {
      gi <- gi + 1L
      u <- units[groups[[g]], , drop = FALSE]
      x <- as.numeric(u[[predictors[[lab]]]])
      ok <- is.finite(x) & is.finite(u$alignment)
      rows[[gi]] <- spearman_row(x[ok], u$alignment[ok], n_boot, level, seed + gi, min_models)
      who_ok <- (if ("layer" %in% names(u)) paste(u$model, u$layer, sep = "/") else u$model)[ok]
      ties <- near_ties(x[ok], u$alignment[ok], who_ok, tie_tol)
      if (nzchar(ties)) {
        rows[[gi]]$note <- if (nzchar(rows[[gi]]$note)) paste0(rows[[gi]]$note, "; ", ties) else ties
      }
      if (any(!ok)) {
        # name the models a property is missing for: a correlation silently over fewer
        # models (e.g. without every multimodal model) reads as one over all of them
        who <- if ("layer" %in% names(u)) paste(u$model, u$layer, sep = "/") else u$model
        left <- sprintf("%d model(s) without %s left out: %s", sum(!ok), predictors[[lab]],
                        paste(who[!ok], collapse = ", "))
        rows[[gi]]$note <- if (nzchar(rows[[gi]]$note)) paste0(rows[[gi]]$note, "; ", left) else left
      }
      rows[[gi]]$group <- g
      rows[[gi]]$predictor <- lab
    }
  }
  out <- do.call(rbind, rows)
  out[c("group", "predictor", "n_models", "rho", "p.value", "conf.low", "conf.high", "n_boot", "note")]
}

# Pairs of models whose alignments differ by less than `tol` while their property
# differs: their alignment order is within the noise of the cross-validation (another
# seed can swap it), and swapping it changes rho by at least `min_change` (over many
# models a swap of two neighbours moves rho by little: 12 k / (n (n^2 - 1)) for
# property ranks k apart). One note naming each pair and the rho its swap gives; ""
# when there is none (or rho is undefined).
near_ties <- function(x, y, who, tol, min_change = 0.05) {
  n <- length(x)
  rho <- spearman_rho(x, y)
  if (tol <= 0 || n < 3L || is.na(rho)) return("")
  pairs <- utils::combn(n, 2L)  # every (i, j) with i < j, i the slower-running index
  swapped <- apply(pairs, 2L, function(ij) near_tie_swap(x, y, ij[1], ij[2], tol))
  hit <- !is.na(swapped) & abs(swapped - rho) >= min_change
  if (!any(hit)) return("")
  i <- pairs[1, hit]
  j <- pairs[2, hit]
  parts <- sprintf("%s and %s differ in alignment by %.2g (< %g): swapped, rho = %.3f",
                   who[i], who[j], abs(y[i] - y[j]), tol, swapped[hit])
  sprintf("rho %.3f rests on %d near-tie(s): %s", rho, length(parts), paste(parts, collapse = "; "))
}

# Spearman's rho of `x` and `y` with `y[i]` and `y[j]` swapped when the two are a near-tie (closer than
# `tol` but not equal, of models whose `x` differs); NA otherwise.
near_tie_swap <- function(x, y, i, j, tol) {
  if (abs(y[i] - y[j]) >= tol || x[i] == x[j] || y[i] == y[j]) return(NA_real_)
  ys <- y
  ys[c(i, j)] <- y[c(j, i)]
  spearman_rho(x, ys)
}

# One row per network (model, layer): alignment = mean pseudo-R² over its tasks;
# the property columns must be constant within a network.
model_units <- function(data, cols) {
  key <- paste(data$model, if ("layer" %in% names(data)) data$layer else "", sep = "\r")
  idx <- split(seq_len(nrow(data)), factor(key, levels = unique(key)))
  out <- data.frame(model = data$model[vapply(idx, `[`, 1L, 1L)], stringsAsFactors = FALSE)
  if ("layer" %in% names(data)) out$layer <- data$layer[vapply(idx, `[`, 1L, 1L)]
  out$alignment <- vapply(idx, function(i) mean(data$pseudo_r2[i]), 0)
  out$n_tasks <- lengths(idx)
  for (col in unique(cols)) {
    vals <- lapply(idx, function(i) unique(data[[col]][i]))
    bad <- lengths(vals) > 1L
    if (any(bad)) {
      stop(sprintf("alignment data: column '%s' varies within model %s; it must be one value per model",
                   col, sub("\r", "/", names(idx)[which(bad)[1]])), call. = FALSE)
    }
    out[[col]] <- unlist(lapply(vals, `[`, 1L))
  }
  rownames(out) <- NULL
  out
}

# Spearman rho as scipy.stats.spearmanr computes it: Pearson correlation of mid-ranks.
spearman_rho <- function(x, y) {
  if (length(x) < 2L || stats::sd(x) == 0 || stats::sd(y) == 0) return(NA_real_)
  stats::cor(rank(x), rank(y))
}

# Bootstrap rhos of (x, y) resampled together; columns of an n x B index matrix.
spearman_boot <- function(x, y, n_boot, seed) {
  n <- length(x)
  idx <- with_seed(seed, matrix(sample.int(n, n * n_boot, replace = TRUE), n))
  rx <- apply(matrix(x[idx], n), 2, rank)
  ry <- apply(matrix(y[idx], n), 2, rank)
  sx <- apply(rx, 2, stats::sd)
  sy <- apply(ry, 2, stats::sd)
  r <- colSums((rx - rep(colMeans(rx), each = n)) * (ry - rep(colMeans(ry), each = n))) / ((n - 1) * sx * sy)
  r[sx == 0 | sy == 0] <- NA_real_
  r
}

spearman_row <- function(x, y, n_boot, level, seed, min_models) {
  n <- length(x)
  rho <- spearman_rho(x, y)
  p <- lo <- hi <- NA_real_
  nb <- 0L
  note <- ""
  if (is.na(rho)) {
    note <- if (n < 2L) sprintf("%d model(s): no correlation", n) else
      "the alignment or the property is the same for every model: no correlation"
  } else if (n < min_models) {
    note <- sprintf("%d model(s), fewer than %d: rho only, no p-value or interval", n, min_models)
  } else {
    # scipy.stats.spearmanr's two-sided p-value (t distribution, n - 2 df)
    p <- if (abs(rho) >= 1) {
      0
    } else {
      t <- rho * sqrt((n - 2) / ((1 - rho) * (1 + rho)))
      2 * stats::pt(-abs(t), n - 2)
    }
    if (n_boot > 0) {
      b <- spearman_boot(x, y, n_boot, seed)
      b <- b[is.finite(b)]
      nb <- length(b)
      if (nb) {
        alpha <- (1 - level) / 2
        q <- stats::quantile(b, c(alpha, 1 - alpha), names = FALSE, type = 7)
        lo <- q[1]
        hi <- q[2]
      }
      if (nb < n_boot) note <- sprintf("%d of %d resamples had no defined rho and were left out", n_boot - nb, n_boot)
    }
  }
  tibble::tibble(n_models = n, rho = rho, p.value = p, conf.low = lo, conf.high = hi, n_boot = nb, note = note)
}

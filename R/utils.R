# Input checks and small helpers shared by the choice and alignment models.

# Stop unless `df` has every column in `cols`; names the missing ones and `what`.
check_columns <- function(df, cols, what = "data") {
  if (!is.data.frame(df)) stop(sprintf("%s must be a data frame", what), call. = FALSE)
  missing <- setdiff(cols, names(df))
  if (length(missing)) {
    stop(sprintf("%s: missing column(s) %s (has: %s)", what, paste(missing, collapse = ", "),
                 paste(names(df), collapse = ", ")), call. = FALSE)
  }
  invisible(df)
}

# Coerce a choice column to 0/1 integers; anything else (NA, 2, "left") is an error
# that names the column and the first offending value.
check_binary <- function(x, what = "choice") {
  if (is.logical(x)) x <- as.integer(x)
  bad <- is.na(x) | !(x %in% c(0, 1))
  if (any(bad)) {
    stop(sprintf("%s must be binary (0/1); row %d has %s", what, which(bad)[1],
                 format(x[which(bad)[1]])), call. = FALSE)
  }
  as.integer(x)
}

check_finite <- function(x, what) {
  bad <- !is.finite(x)
  if (any(bad)) stop(sprintf("%s has %d non-finite value(s) (first at row %d)", what, sum(bad),
                             which(bad)[1]), call. = FALSE)
  invisible(x)
}

#' Standardise a vector with given (or its own) mean and standard deviation
#'
#' @param x Numeric vector.
#' @param center,scale Mean and s.d. to use; default: those of `x`. A zero or
#'   undefined s.d. is replaced by 1 (a constant value carries no information).
#' @return `(x - center) / scale`, with attributes `center` and `scale`.
#' @export
standardise <- function(x, center = mean(x), scale = stats::sd(x)) {
  if (!is.finite(scale) || scale <= 0) scale <- 1
  out <- (x - center) / scale
  attr(out, "center") <- center
  attr(out, "scale") <- scale
  out
}

# Split a data frame into groups by the columns `by`; returns a named list of
# row-index vectors (names: the groups' keys joined by "/").
group_rows <- function(df, by) {
  if (!length(by)) return(list(all = seq_len(nrow(df))))
  key <- interaction(df[by], drop = TRUE, sep = "\r", lex.order = TRUE)
  split(seq_len(nrow(df)), key)
}

# Messages of an lme4 fit: convergence warnings, singularity.
lme4_diagnostics <- function(fit) {
  msgs <- c(fit@optinfo$conv$lme4$messages, fit@optinfo$warnings)
  msgs <- unique(as.character(unlist(msgs)))
  singular <- lme4::isSingular(fit)
  conv_msgs <- msgs[!grepl("singular", msgs, ignore.case = TRUE)]
  list(converged = length(conv_msgs) == 0, singular = singular,
       messages = if (length(msgs)) paste(msgs, collapse = "; ") else "")
}

# Run expr, collecting warnings instead of printing them; returns list(value, warnings).
collect_warnings <- function(expr) {
  warns <- character()
  value <- withCallingHandlers(expr, warning = function(w) {
    warns <<- c(warns, conditionMessage(w))
    invokeRestart("muffleWarning")
  })
  list(value = value, warnings = unique(warns))
}

# Parallel lapply: forked workers where available (not on Windows).
par_lapply <- function(x, fun, workers = 1L) {
  workers <- as.integer(workers)
  if (workers > 1L && .Platform$OS.type != "windows" && length(x) > 1L) {
    res <- parallel::mclapply(x, fun, mc.cores = workers, mc.preschedule = TRUE)
    errs <- vapply(res, inherits, TRUE, what = "try-error")
    if (any(errs)) stop(attr(res[[which(errs)[1]]], "condition"))
    res
  } else {
    lapply(x, fun)
  }
}

#' Kind of a repalign Parquet table
#'
#' @param path Path of a `.parquet` file.
#' @return The table's `repalign.kind` (e.g. `"trials"`, `"metrics"`), or
#'   `NA` when the file has none.
#' @export
table_kind <- function(path) {
  if (!file.exists(path)) stop(sprintf("no table at %s", path), call. = FALSE)
  kind <- if (requireNamespace("arrow", quietly = TRUE)) {
    arrow::read_parquet(path, as_data_frame = FALSE)$schema$metadata[["repalign.kind"]]
  } else if (.have_pyarrow(need = TRUE)) {
    reticulate::import("repalign.store")$table_info(path)$kind
  }
  if (is.null(kind) || !nzchar(kind)) NA_character_ else kind
}

#' Find repalign tables of each kind under a directory
#'
#' @param dir Directory searched recursively for `.parquet` files.
#' @return A named list: for each kind found, the paths of its tables.
#' @export
find_tables <- function(dir) {
  if (!dir.exists(dir)) stop(sprintf("input directory %s does not exist", dir), call. = FALSE)
  paths <- sort(list.files(dir, pattern = "\\.parquet$", recursive = TRUE, full.names = TRUE))
  if (!length(paths)) return(list())
  kinds <- vapply(paths, table_kind, "")
  kinds[is.na(kinds)] <- "unknown"
  split(unname(paths), kinds)
}

# Stop when rows repeat the same `keys` (those of them present in `df`): a trial
# (or a score) counted twice would weigh twice in every fit and score. Names the
# number of duplicated rows and the first few keys. Without the `need` column
# (e.g. no `trial` numbers) rows cannot be told apart and nothing is checked.
check_unique_trials <- function(df, what = "trials", keys = c("model", "layer", "task", "participant", "trial"),
                                need = "trial") {
  if (!all(need %in% names(df))) return(invisible(df))
  keys <- intersect(keys, names(df))
  if (!length(keys) || !nrow(df)) return(invisible(df))
  dup <- duplicated(as.data.frame(df)[keys])
  if (any(dup)) {
    first <- unique(as.data.frame(df)[dup, keys, drop = FALSE])
    show <- utils::head(first, 3)
    ex <- apply(show, 1, function(r) paste(sprintf("%s=%s", keys, trimws(r)), collapse = ", "))
    stop(sprintf("%s: %d duplicated row(s) with the same %s (%d distinct key(s)), e.g. %s; remove the duplicates",
                 what, sum(dup), paste(keys, collapse = ", "), nrow(first),
                 paste(sprintf("(%s)", ex), collapse = "; ")),
         call. = FALSE)
  }
  invisible(df)
}

# The task level of scores whose choice models pool tasks (no `task` column): the
# grouping columns of `by` other than model and layer, pasted (e.g. `task_kind`: one
# level per kind, so a model scored on category and reward tasks has one row per kind,
# not two rows of one task), else "pooled" (one level).
pooled_task <- function(scores, by) {
  extra <- setdiff(intersect(by, names(scores)), c("model", "layer", "task"))
  if (!length(extra) || !nrow(scores)) return(rep("pooled", nrow(scores)))
  do.call(paste, c(lapply(extra, function(col) as.character(scores[[col]])), sep = "/"))
}

#' Read a repalign Parquet table
#'
#' Reads a table written by the Python package (schemas in `docs/tables.md`)
#' into a tibble. Uses the `arrow` package when installed; otherwise
#' `reticulate` with the project's Python and its `pyarrow`, found as
#' [project_python()] says.
#'
#' @param path Path to a `.parquet` file.
#' @param required Character vector of columns that must be present.
#' @return A tibble; attribute `provenance` holds the file's provenance (a list).
#' @export
read_table <- function(path, required = character()) {
  if (!file.exists(path)) stop(sprintf("no table at %s", path), call. = FALSE)
  if (requireNamespace("arrow", quietly = TRUE)) {
    tab <- arrow::read_parquet(path, as_data_frame = FALSE)
    prov <- tab$schema$metadata[["repalign.provenance"]]
    df <- as.data.frame(tab)
  } else if (.have_pyarrow(need = TRUE)) {
    store <- reticulate::import("repalign.store", convert = FALSE)
    pdf <- store$read_table(path)
    prov <- as.character(reticulate::import("json")$dumps(pdf$attrs$get("provenance")))
    # Column by column through plain Python lists: robust to pandas' extension dtypes.
    cols <- reticulate::py_to_r(pdf$to_dict("list"))
    df <- tibble::as_tibble(cols)
  }
  missing <- setdiff(required, names(df))
  if (length(missing)) {
    stop(sprintf("%s: missing column(s) %s", path, paste(missing, collapse = ", ")), call. = FALSE)
  }
  df <- tibble::as_tibble(df)
  attr(df, "provenance") <- if (is.null(prov) || !nzchar(prov)) list() else jsonlite::fromJSON(prov)
  df
}

# TRUE when reticulate can read Parquet through the project's Python; with
# `need = TRUE`, an error saying what was tried instead of FALSE.
.have_pyarrow <- function(need = FALSE) {
  py <- tryCatch(project_python(), error = function(e) e)
  if (!inherits(py, "error")) return(TRUE)
  if (need) {
    stop("reading Parquet needs the R package 'arrow', or 'reticulate' with a Python that has the repalign ",
         "package and 'pyarrow': ", conditionMessage(py), call. = FALSE)
  }
  FALSE
}

.python_state <- new.env(parent = emptyenv())

#' The Python that reads Parquet tables for R (through reticulate)
#'
#' Without the R package `arrow`, [read_table()] reads Parquet through
#' reticulate with a Python that has the `repalign` package and `pyarrow`.
#' The first of these that can import both is used (once per R session):
#'
#' 1. `RETICULATE_PYTHON`, when set (used as given: an error if it lacks them);
#' 2. `options(repalign.python = )`;
#' 3. `.venv/bin/python` of the project: `options(repalign.project = )`, which
#'    `analysis/fit_models.R` sets to its own repository;
#' 4. `.venv/bin/python` of the working directory or of one of its parents;
#' 5. `$VIRTUAL_ENV/bin/python` (an activated virtual environment);
#' 6. `python3`, then `python`, on `PATH`.
#'
#' @return The path of that Python; an error listing every candidate and why
#'   it was refused when none fits.
#' @export
project_python <- function() {
  if (!is.null(.python_state$python)) return(.python_state$python)
  if (!requireNamespace("reticulate", quietly = TRUE)) {
    stop("the R package 'reticulate' is not installed", call. = FALSE)
  }
  if (reticulate::py_available(initialize = FALSE)) {
    # Python is already running in this session: it is the only one reticulate can use.
    cfg <- reticulate::py_config()
    why <- .python_refusal(cfg$python, embedded = TRUE)
    if (nzchar(why)) stop(sprintf("this R session already runs Python %s, which %s", cfg$python, why), call. = FALSE)
    .python_state$python <- cfg$python
    return(cfg$python)
  }
  explicit <- Sys.getenv("RETICULATE_PYTHON")
  if (nzchar(explicit)) {
    why <- .python_refusal(explicit)
    if (nzchar(why)) stop(sprintf("RETICULATE_PYTHON=%s %s", explicit, why), call. = FALSE)
    return(.python_use(explicit))
  }
  tried <- character()
  for (py in python_candidates()) {
    why <- .python_refusal(py)
    if (!nzchar(why)) return(.python_use(py))
    tried <- c(tried, sprintf("%s (%s)", py, why))
  }
  stop(sprintf("no Python with repalign and pyarrow found; tried %s. Set RETICULATE_PYTHON to the project's ",
               paste(tried, collapse = ", ")),
       ".venv/bin/python (`make install` creates it) or install the R package 'arrow'", call. = FALSE)
}

# Candidate Pythons in the order project_python() documents (steps 2-6).
python_candidates <- function() {
  opt <- getOption("repalign.python")
  roots <- c(getOption("repalign.project"), ancestor_dirs(getwd()))
  venv <- Sys.getenv("VIRTUAL_ENV")
  on_path <- Sys.which(c("python3", "python"))
  cands <- c(opt, file.path(roots, ".venv", "bin", "python"),
             if (nzchar(venv)) file.path(venv, "bin", "python"), unname(on_path[nzchar(on_path)]))
  # Not normalizePath(): a venv's python is a symlink, and resolving it would leave the venv.
  unique(cands)
}

ancestor_dirs <- function(dir) {
  dir <- normalizePath(dir, mustWork = FALSE)
  out <- dir
  while (dirname(dir) != dir) {
    dir <- dirname(dir)
    out <- c(out, dir)
  }
  out
}

# "" when `py` imports repalign.store and pyarrow, else why not.
.python_refusal <- function(py, embedded = FALSE) {
  if (embedded) {
    ok <- reticulate::py_module_available("pyarrow") && reticulate::py_module_available("repalign")
    return(if (ok) "" else "has no repalign or pyarrow module")
  }
  if (!file.exists(py)) return("does not exist")
  # R's LD_LIBRARY_PATH could point the child at another libpython: clear it.
  out <- suppressWarnings(system2(py, c("-c", shQuote("import repalign.store, pyarrow")), stdout = TRUE,
                                  stderr = TRUE, env = "LD_LIBRARY_PATH="))
  status <- attr(out, "status")
  if (is.null(status) || status == 0) return("")
  err <- grep("Error", out, value = TRUE)
  if (length(err)) sub("^.*Error: ", "", err[length(err)]) else sprintf("exit status %s", status)
}

.python_use <- function(py) {
  Sys.setenv(RETICULATE_PYTHON = py)
  reticulate::use_python(py, required = TRUE)
  .python_state$python <- py
  py
}

#' Write a data frame as a CSV table (helper used by the analysis script)
#'
#' @param df Data frame.
#' @param path Output path; directories are created.
#' @return `path`, invisibly.
#' @export
write_csv_table <- function(df, path) {
  dir.create(dirname(path), recursive = TRUE, showWarnings = FALSE)
  tmp <- paste0(path, ".partial")
  utils::write.csv(as.data.frame(df), tmp, row.names = FALSE)
  file.rename(tmp, path)
  invisible(path)
}

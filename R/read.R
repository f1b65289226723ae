#' Read a repalign Parquet table
#'
#' Reads a table written by the Python package (schemas in `docs/tables.md`)
#' into a tibble. Uses the `arrow` package when installed; otherwise
#' `reticulate` with the project's Python (`RETICULATE_PYTHON`, which the
#' Makefile points at the project's `.venv`) and its `pyarrow`.
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
  } else if (.have_pyarrow()) {
    store <- reticulate::import("repalign.store", convert = FALSE)
    pdf <- store$read_table(path)
    prov <- as.character(reticulate::import("json")$dumps(pdf$attrs$get("provenance")))
    # Column by column through plain Python lists: robust to pandas' extension dtypes.
    cols <- reticulate::py_to_r(pdf$to_dict("list"))
    df <- tibble::as_tibble(cols)
  } else {
    stop("reading Parquet needs the R package 'arrow', or 'reticulate' with the repalign ",
         "Python package and 'pyarrow' (set RETICULATE_PYTHON to the project's ",
         ".venv/bin/python; `make install` does)", call. = FALSE)
  }
  missing <- setdiff(required, names(df))
  if (length(missing)) {
    stop(sprintf("%s: missing column(s) %s", path, paste(missing, collapse = ", ")), call. = FALSE)
  }
  df <- tibble::as_tibble(df)
  attr(df, "provenance") <- if (is.null(prov) || !nzchar(prov)) list() else jsonlite::fromJSON(prov)
  df
}

.have_pyarrow <- function() {
  requireNamespace("reticulate", quietly = TRUE) &&
    reticulate::py_module_available("pyarrow") &&
    reticulate::py_module_available("repalign")
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

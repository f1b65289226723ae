# Real-data tests call require_data(): skip without REPALIGN_DATA_DIR, fail instead
# when REPALIGN_REQUIRE_DATA=1 (CI), so they can never be skipped silently.
require_data <- function() {
  root <- Sys.getenv("REPALIGN_DATA_DIR")
  if (!nzchar(root) || !dir.exists(root)) {
    if (Sys.getenv("REPALIGN_REQUIRE_DATA") == "1") {
      testthat::fail("real data required (REPALIGN_REQUIRE_DATA=1) but REPALIGN_DATA_DIR is not set")
    }
    testthat::skip("REPALIGN_DATA_DIR not set")
  }
  root
}

# Run Python code in the project's Python (RETICULATE_PYTHON), embedded through
# reticulate; a subprocess would inherit R's LD_LIBRARY_PATH and load the wrong libpython.
run_python <- function(code) {
  if (!nzchar(Sys.getenv("RETICULATE_PYTHON"))) testthat::skip("RETICULATE_PYTHON not set")
  reticulate::py_run_string(code)
}

# Write a table at `path` with repalign.store.write_table from Python: `frame` is
# Python code giving the DataFrame (after the `imports` lines), `kind` the table kind.
python_write_table <- function(path, frame, kind, who, imports = "import pandas as pd") {
  run_python(paste(imports, "from repalign.store import write_table",
                   sprintf("write_table(%s, %s, '%s', {'who': '%s'})", frame, deparse(path), kind, who),
                   sep = "\n"))
}

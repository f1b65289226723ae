# make lint-r: lintr over the package's R code, its tests, and the R scripts of bench/ and analysis/,
# with the settings of .lintr at the repository root. Prints every lint; exits 1 if there is any.
# object_usage_linter checks each function against the namespace of the package it belongs to: load
# this checkout's sources (not a stale installed copy; with the test helpers, which the test files call)
# so that the package's own functions, its imports and its declared globals are known.
pkgload::load_all(".", export_all = TRUE, helpers = TRUE, quiet = TRUE)
files <- c(
  list.files("R", "\\.R$", full.names = TRUE),
  list.files("tests/testthat", "\\.R$", full.names = TRUE),
  list.files("bench", "\\.R$", full.names = TRUE),
  list.files("analysis", "\\.R$", full.names = TRUE, recursive = TRUE),
  "scripts/lint.R"
)
lints <- unlist(lapply(files, lintr::lint), recursive = FALSE)
for (l in lints) print(l)
cat(sprintf("lintr: %d lint(s) in %d file(s)\n", length(lints), length(files)))
quit(status = if (length(lints)) 1L else 0L)

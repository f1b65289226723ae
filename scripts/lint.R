# make lint-r: lintr over the package's R code, its tests, and the R scripts of bench/ and analysis/,
# with the settings of .lintr at the repository root. Prints every lint; exits 1 if there is any.
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

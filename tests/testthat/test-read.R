test_that("read_table reads a table written by repalign.store with its provenance", {
  path <- tempfile(fileext = ".parquet")
  python_write_table(path, paste0(
    "pd.DataFrame({'model':['a','b'],'layer':['l','l'],'dataset':['d','d'],'metric':['m','m'],",
    "'value':[0.25,0.5],'ci_low':[0.1,0.2],'ci_high':[0.3,0.6],'n':[10,20]})"), "metrics", "test")
  df <- read_table(path, required = c("model", "value"))
  expect_s3_class(df, "tbl_df")
  expect_equal(df$value, c(0.25, 0.5))
  expect_equal(df$n, c(10, 20))
  expect_equal(df$model, c("a", "b"))
  expect_equal(attr(df, "provenance")$who, "test")
  expect_error(read_table(path, required = c("value", "nonexistent")), "missing column\\(s\\) nonexistent")
  expect_error(read_table(file.path(tempdir(), "nope.parquet")), "no table at")
})

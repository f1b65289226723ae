# Names the package's code uses without defining them.

# `.data` is the tidy-evaluation pronoun of rlang: inside dplyr verbs and ggplot2::aes() `.data$col`
# names a column of the data explicitly (never a variable of the calling scope). Importing it lets
# R CMD check and lintr's object_usage_linter know the name; the data mask still supplies the value.
#' @importFrom rlang .data
NULL

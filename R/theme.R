# One visual style for every repalign figure: the ggplot2 twin of
# python/repalign/style.py (same colours, font size and line styles;
# tests/python/test_report_figures.py checks that the two agree).

#' The repalign figure style as numbers
#'
#' Colours per training objective (the Okabe-Ito colour-blind-safe palette,
#' Okabe & Ito 2008; humans black, unlisted objectives grey), the base font size,
#' the CI whisker width and the reference-line styles (chance: dotted grey; noise
#' ceiling: a light-grey band with a dashed edge; zero: light grey). The same
#' numbers as `repalign.style` in Python.
#'
#' @return A list: `objective_colours` (named character), `other_colour`,
#'   `base_size`, `ci_linewidth`, `chance`, `ceiling`, `zero` (lists).
#' @export
repalign_style <- function() {
  list(
    objective_colours = c(
      "supervised" = "#0072B2",
      "self-supervised" = "#009E73",
      "image-text contrastive" = "#D55E00",
      "captioning" = "#CC79A7",
      "text" = "#E69F00",
      "human" = "#000000",
      "baseline" = "#56B4E9",
      "random-init" = "#999999"
    ),
    other_colour = "#7F7F7F",
    base_size = 10,
    ci_linewidth = 1.2,
    chance = list(colour = "#555555", linetype = "dotted", linewidth = 1.0),
    ceiling = list(fill = "#D9D9D9", edge = "#808080", linetype = "dashed", alpha = 0.8),
    zero = list(colour = "#BBBBBB", linetype = "solid", linewidth = 0.8)
  )
}

#' Colours per training objective
#'
#' @param objectives Objectives present in a figure (others than the listed
#'   ones get the grey `other_colour`).
#' @return A named character vector of colours.
#' @export
objective_colours <- function(objectives = NULL) {
  st <- repalign_style()
  pal <- st$objective_colours
  if (is.null(objectives)) return(pal)
  objectives <- unique(as.character(objectives))
  out <- pal[objectives]
  out[is.na(out)] <- st$other_colour
  stats::setNames(unname(out), objectives)
}

#' ggplot2 colour scale by objective (the shared repalign palette)
#'
#' @param objectives Objectives in the data.
#' @param aesthetics `"colour"`, `"fill"` or both.
#' @return A ggplot2 scale.
#' @export
scale_colour_objective <- function(objectives, aesthetics = "colour") {
  ggplot2::scale_colour_manual(values = objective_colours(objectives), aesthetics = aesthetics,
                               name = "objective")
}

#' The repalign ggplot2 theme
#'
#' `theme_minimal()` at the shared base size in the sans-serif family, with a
#' light grid and no box, like the matplotlib style of the Python figures.
#'
#' @param base_size Font size in pt.
#' @return A ggplot2 theme.
#' @export
theme_repalign <- function(base_size = repalign_style()$base_size) {
  ggplot2::theme_minimal(base_size = base_size, base_family = "sans") +
    ggplot2::theme(panel.grid.major = ggplot2::element_line(colour = "#EBEBEB", linewidth = 0.4),
                   panel.grid.minor = ggplot2::element_blank(),
                   axis.line = ggplot2::element_line(colour = "#333333", linewidth = 0.4),
                   strip.text = ggplot2::element_text(face = "bold", hjust = 0),
                   legend.position = "right")
}

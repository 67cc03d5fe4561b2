# metafor's per-fit time for benchmarks/bench_glmm_mv.py, on the data that script passes.
# Run by that script: Rscript benchmarks/bench_glmm_mv.R DATA.json REPEATS (a tenth of them
# for the slow profile-likelihood CIs)
# Needs r-cran-metafor, r-cran-lme4 and r-cran-jsonlite. Default controls, as a user runs them.
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
d <- fromJSON(args[1])
reps <- as.integer(args[2])
per_fit <- function(expr, n = reps) system.time(for (i in seq_len(n)) eval(expr))[["elapsed"]] / n
glmm <- per_fit(quote(rma.glmm(measure = "PLO", xi = d$glmm$xi, ni = d$glmm$ni)))
mv_data <- data.frame(yi = d$mv$yi, vi = d$mv$vi, study = d$mv$study, es = seq_along(d$mv$yi))
mv <- per_fit(quote(rma.mv(yi, vi, random = ~ 1 | study / es, data = mv_data)))
mv_ci <- per_fit(quote(suppressWarnings(
  confint(rma.mv(yi, vi, random = ~ 1 | study / es, data = mv_data)))), max(1, reps %/% 10))
cat(sprintf("glmm %.6f\nmv %.6f\nmv_ci %.6f\n", glmm, mv, mv_ci))

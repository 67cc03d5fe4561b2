# metafor's time for the batch benchmark's workload: 10,000 REML fits with k = 12 (same
# generating model as benchmarks/bench_engine.py; R's own random numbers). Needs r-cran-metafor.
# Run: Rscript benchmarks/bench_metafor.R
suppressPackageStartupMessages(library(metafor))
options(warn = -1)  # local-maximum notices are counted in the fits, not printed
set.seed(2024)
m <- 10000; k <- 12
vi <- matrix(runif(m * k, 0.01, 0.5), m, k)
tau2 <- sample(c(0, 0.05, 0.3), m, replace = TRUE)
yi <- matrix(rnorm(m * k, 0.2, sqrt(vi + tau2)), m, k)
failed <- 0
elapsed <- system.time(for (i in seq_len(m)) {
  res <- try(rma(yi[i, ], vi[i, ], method = "REML"), silent = TRUE)
  if (inherits(res, "try-error")) failed <- failed + 1
})[["elapsed"]]
cat(sprintf("metafor %s: 10,000 REML fits (k = 12) in %.1f s; %d (%.2f%%) did not converge\n",
            packageVersion("metafor"), elapsed, failed, 100 * failed / m))

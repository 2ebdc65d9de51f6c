"""Private helpers: input validation, parameters, seeds, threads, ranking kernels."""

"""Rewrite rules written in the tensor language (algebraic, stability, fusion, BLAS, gradients)."""

"""Cross-database evaluation: metrics as plain functions, the evaluation run, its report."""

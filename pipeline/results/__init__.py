"""Results: the homework's figures, DVC's group tables, the summary and report.md."""

"""Human-facing summaries: terminal tables now, HTML reports later."""

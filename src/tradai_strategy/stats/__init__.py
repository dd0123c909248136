"""Pure statistics: splitters, IC with its error, metrics, overfitting, comparison, drift, decay."""

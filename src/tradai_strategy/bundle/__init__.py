"""The model bundle: format, files, prediction and the MLflow pyfunc wrapper."""

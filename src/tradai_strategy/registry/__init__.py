"""MLflow registry adapter: tracking store, register, tag, alias, rollback, retire."""

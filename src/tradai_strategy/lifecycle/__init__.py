"""Model lifecycle: TRAIN mode, promotion gate, rollback, retention policies."""

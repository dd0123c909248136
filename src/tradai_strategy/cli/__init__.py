"""The ``tradai`` command: one module per command group, the app and the demo."""

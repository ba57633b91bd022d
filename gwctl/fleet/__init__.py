"""Loading the fleet: YAML with positions, files and directories merged, the model, the
schema and secret references."""

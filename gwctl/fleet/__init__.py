"""Loading the fleet: YAML with positions, files and directories merged, the model (with
co-location), the schema and secret references."""

"""Package data: schema, feature table, reference bases."""

"""A model of Microsoft.Extensions.Configuration's JSON provider.

`parser` reads JSON the way System.Text.Json does for the gateway (comments skipped,
trailing commas allowed, depth 64) while keeping line/column positions; `config`
flattens documents into ``Section:Key:0`` keys and merges sources the way
ConfigurationRoot does (case-insensitive, later source wins, arrays by index).
"""

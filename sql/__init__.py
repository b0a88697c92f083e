"""SQL the assets run, one file per table: `<layer>/<table>.sql` (installed as package data)."""

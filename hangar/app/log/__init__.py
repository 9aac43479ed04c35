"""The log as a product: paging and following it, reading the past, diffing and simulating."""

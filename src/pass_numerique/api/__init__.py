"""HTTP layer: thin controllers that parse, guard, call one domain function and return a Struct."""

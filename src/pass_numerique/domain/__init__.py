"""The rules of the scheme, one module per capability; each function opens its own transaction."""

"""Database infrastructure that knows no rule of the scheme: the Piccolo engine from the URL,
transactions on either engine, the dialect differences, and the Piccolo app registry."""

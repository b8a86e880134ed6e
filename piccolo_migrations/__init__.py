"""The migrations (Piccolo): m0001 the tables, m0002 integrity the ORM cannot declare, then one per change.

Each file is self-contained: it imports Piccolo and the standard library, never the application,
whose code moves on while a migration must replay as it was written."""

"""Server-rendered pages: the staff app (``staff/``), the phone scanner shell and the public pages."""

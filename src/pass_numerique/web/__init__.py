"""Server-rendered page shells (the scanner); their behaviour lives in ``static/``."""

"""Pass numérique: run a digital-inclusion voucher scheme without an operator in between."""

import os

# Piccolo finds its engine and apps through this module (migrations, queries).
os.environ.setdefault("PICCOLO_CONF", "pass_numerique.db.piccolo_conf")
